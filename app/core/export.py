"""Export settings, rendering a cutout for them, and encoding with our metadata policy.

Metadata policy: EXIF (GPS, serial numbers, owner...) is never copied unless asked for;
colour images carry an embedded sRGB profile because the pixels are sRGB.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from PIL import ExifTags, Image, ImageColor

from app.core import compose, mask
from app.core.atomic import write_atomic
from app.core.colour import srgb_icc_bytes
from app.core.compose import Colour, Cutout
from app.core.decontaminate import estimate_foreground
from app.core.errors import TooLargeForFormat

FORMATS = {"png": "PNG", "webp": "WEBP", "jpg": "JPEG", "tif": "TIFF"}
# The longest side each encoder can write (libwebp, libjpeg); PNG and TIFF have no practical limit.
MAX_SIDE = {"webp": 16383, "jpg": 65500}
EXTENSIONS = {"png": ".png", "webp": ".webp", "jpg": ".jpg", "tif": ".tif"}
WHITE: Colour = (255, 255, 255)
Z_RLE = 3  # zlib strategy constant


@dataclass(frozen=True)
class ExportSettings:
    """Everything that decides what the exported file looks like."""

    format: str = "png"
    background: Colour | None = None  # None keeps transparency (JPEG falls back to white)
    mask_only: bool = False
    crop: bool = False
    margin: float = 0.0  # share of the subject's larger side (< 1) or pixels (>= 1)
    canvas: tuple[int, int] | None = None
    fill: float = 0.85
    max_size: tuple[int, int] | None = None
    quality: int = 92  # JPEG and lossy WebP
    lossless: bool = True  # WebP
    png_compress_level: int = 1  # see encode(): with run-length deflate the level barely matters
    keep_exif: bool = False  # copy all of the source's EXIF
    # or only these EXIF tags by name ("Copyright", "Artist", "DateTimeOriginal"); GPS only as "GPSInfo"
    keep_exif_fields: tuple[str, ...] = ()
    # Full-resolution edges guided by the photo (app.core.refine): lower MAE and higher boundary F
    # on every real eval source (bench/quality.py), ~0.16 s per 12 MP.
    refine_edges: bool = True
    # Subject colour in soft edges (app.core.decontaminate): the white flatten of hair and fur
    # shows the subject, not a rim of the old background; ~0.13 s per 12 MP.
    decontaminate: bool = True
    # mask clean-up (app.core.cleanup). Specks: neutral on every eval metric, ~0.1 s/12 MP, so on.
    # Holes: helps where it fires (4 of 135 composites, IoU +.07 at best) but would punch a white
    # clock face or picture mount inside a dark rim on white, so opt-in; the "filled-hole" QA flag
    # says when to use it.
    remove_specks: bool = True
    punch_holes: bool = False
    # Parts the model cut away from a plain backdrop brought back (app.core.backdrop): for shoots
    # on a sweep or a coloured screen. Opt-in: on a real table a warm shadow would come back too.
    recover_parts: bool = False
    # The same, but only where the left-out check (app.core.qa) finds such a part: something beside
    # the subject that leaves the backdrop's colour, which a shadow does not. On by default: it fired
    # on none of the 138 eval photos (real tables included) and on the composites where the model
    # dropped hair, petals or yarn (docs/quality.md).
    auto_recover_parts: bool = True
    # The model's answer from the photo alone (1) or fused with a second view of it (2, see
    # app.inference.views): better edges and fewer dropped parts for about twice the model's
    # time, so one view is the batch default and two the window's (docs/quality.md).
    views: int = 1

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"unknown format {self.format!r}; choose one of {', '.join(FORMATS)}")
        if not 0 < self.fill <= 1:
            raise ValueError("fill must be a share between 0 and 1, e.g. 0.85")
        if not 1 <= self.quality <= 100:
            raise ValueError("quality must be between 1 and 100")
        if self.views not in (1, 2):
            raise ValueError(f"views must be 1 or 2, not {self.views!r}")
        if self.margin < 0:
            raise ValueError("margin cannot be negative")
        for label, size in (("canvas", self.canvas), ("size", self.max_size)):
            if size is not None and (len(size) != 2 or min(size) < 1):
                raise ValueError(f"{label} must be a width and height of at least 1 pixel, e.g. 2000x2000")

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.format]


def parse_colour(text: str) -> Colour:
    """'white', '#fff', '#F0F0F0', 'rgb(1,2,3)' or '240,240,240' -> (r, g, b)."""
    value = text.strip()
    parts = [p.strip() for p in value.split(",")]
    try:
        if len(parts) == 3 and all(p.lstrip("+-").isdigit() for p in parts):
            r, g, b = (int(p) for p in parts)
        else:  # names, #hex and CSS functions such as rgb(1,2,3)
            r, g, b = ImageColor.getrgb(value)[:3]
        if not all(0 <= c <= 255 for c in (r, g, b)):
            raise ValueError
    except ValueError:
        raise ValueError(f"not a colour: {text!r} (try white, #ffffff or 255,255,255)") from None
    return (r, g, b)


def filter_exif(exif: bytes, keep: tuple[str, ...]) -> bytes | None:
    """Only the EXIF tags named in ``keep`` (main and Exif sub-IFD); the GPS block only if
    "GPSInfo" is named. None when nothing is left, so no empty EXIF block is written."""
    source = Image.Exif()
    source.load(exif)
    main, sub, gps = {}, {}, {}
    source_sub = source.get_ifd(ExifTags.IFD.Exif)
    for name in keep:
        tag = getattr(ExifTags.Base, name, None)
        if tag == ExifTags.IFD.GPSInfo:
            gps = dict(source.get_ifd(ExifTags.IFD.GPSInfo))
        elif tag is None or tag == ExifTags.IFD.Exif:
            continue
        elif tag in source:
            main[tag] = source[tag]
        elif tag in source_sub:
            sub[tag] = source_sub[tag]
    if not (main or sub or gps):
        return None
    kept = Image.Exif()
    kept.update(main)
    for ifd, values in ((ExifTags.IFD.Exif, sub), (ExifTags.IFD.GPSInfo, gps)):
        if values:
            kept.get_ifd(ifd).update(values)
    return kept.tobytes()


def render(cut: Cutout, settings: ExportSettings) -> Image.Image:
    """Apply crop / canvas / size, then produce the pixels to encode."""
    if settings.crop:
        cut = compose.crop_to_subject(cut, settings.margin)
    if settings.canvas:
        cut = compose.fit_to_canvas(cut, settings.canvas, settings.fill)
    if settings.max_size:
        cut = compose.fit_within(cut, settings.max_size)
    if settings.mask_only:
        return cut.alpha
    if settings.decontaminate:
        cut = Cutout(estimate_foreground(cut.rgb, cut.alpha), cut.alpha)
    background = settings.background
    if background is None and settings.format == "jpg":
        background = WHITE
    if background is not None:
        return compose.flatten(cut, background)
    return compose.transparent(cut)


def planned_size(size: tuple[int, int], settings: ExportSettings) -> tuple[int, int] | None:
    """The size ``render`` will give a photo of ``size``, when the mask does not decide it (no crop,
    or a canvas): a batch can then refuse what the format cannot hold before the model runs."""
    if settings.crop and not settings.canvas:
        return None
    planned = settings.canvas or size
    return compose.fitted_size(planned, settings.max_size) if settings.max_size else planned


def canvas_enlargement(subject: tuple[int, int], settings: ExportSettings) -> float | None:
    """How much ``render`` enlarges a subject of ``subject`` px: only a canvas enlarges (crop and
    size never do), and a size limit then shrinks the canvas; None without a canvas."""
    if not settings.canvas:
        return None
    scale = compose.canvas_scale(subject, settings.canvas, settings.fill)
    if settings.max_size:
        scale *= compose.fitted_size(settings.canvas, settings.max_size)[0] / settings.canvas[0]
    return scale


def enlargement(alpha: Image.Image, settings: ExportSettings) -> tuple[float, tuple[int, int]] | None:
    """``canvas_enlargement`` of the subject in this full-frame mask, and the subject's size."""
    box = mask.subject_box(alpha) or (0, 0, *alpha.size)
    subject = (box[2] - box[0], box[3] - box[1])
    scale = canvas_enlargement(subject, settings)
    return None if scale is None else (scale, subject)


def check_fits(size: tuple[int, int], settings: ExportSettings, name: str) -> None:
    """Refuse, before encoding, a picture larger than the format can hold (a panorama in WebP),
    saying what to do instead: the encoder would only fail with a bare error after the work."""
    limit = MAX_SIDE.get(settings.format)
    if limit is not None and max(size) > limit:
        raise TooLargeForFormat(
            f"cannot write {name}: {size[0]}×{size[1]} is too large for {FORMATS[settings.format]}, "
            f"which holds at most {limit} pixels a side; export as PNG or TIFF, or set a smaller size",
            name,
        )


def encode(image: Image.Image, fh: BinaryIO, settings: ExportSettings, exif: bytes | None = None) -> None:
    """Encode ``image`` into ``fh`` in the settings' format."""
    check_fits(image.size, settings, "the image")
    fmt = settings.format
    params: dict[str, object] = {}
    if image.mode != "L":
        params["icc_profile"] = srgb_icc_bytes()
    if settings.keep_exif and exif:
        params["exif"] = exif
    elif settings.keep_exif_fields and exif:
        kept = filter_exif(exif, settings.keep_exif_fields)
        if kept:
            params["exif"] = kept
    if fmt == "png":
        # Run-length deflate: on a 12 MP cutout as fast as level 1 (Pillow's row filtering
        # dominates) and 16 % smaller, because zeroed transparent areas are long runs.
        params.update(compress_level=settings.png_compress_level, compress_type=Z_RLE)
    elif fmt == "jpg":
        params.update(quality=settings.quality, subsampling=0 if settings.quality >= 90 else 2)
    elif fmt == "webp":
        if image.mode == "L":
            image = image.convert("RGB")
            params["icc_profile"] = srgb_icc_bytes()
        if settings.lossless:
            params.update(lossless=True, quality=60, method=2, exact=False)
        else:
            params.update(quality=settings.quality, alpha_quality=100, method=4)
    elif fmt == "tif" and "exif" not in params:
        # libtiff cannot write the EXIF/GPS sub-directories, so kept EXIF means Pillow's
        # own (uncompressed) TIFF writer; otherwise deflate through libtiff.
        params["compression"] = "tiff_adobe_deflate"
    image.save(fh, format=FORMATS[fmt], **params)


def save(image: Image.Image, path: Path, settings: ExportSettings, exif: bytes | None = None,
         replace: bool = True) -> None:
    """Encode and write atomically (temporary name, then rename); ``replace=False``: FileExistsError
    rather than replace a file at ``path`` (a new version never replaces an old one)."""
    check_fits(image.size, settings, path.name)
    write_atomic(path, lambda fh: encode(image, fh, settings, exif), replace)
