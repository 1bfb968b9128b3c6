"""Decode any supported photo into 8-bit sRGB pixels plus its own alpha, safely.

The pixel-count limit is checked from the header before any pixel is decoded; EXIF
orientation is applied; embedded colour profiles (Display P3, Adobe RGB, CMYK...) are
converted to sRGB with LittleCMS; 16-bit, greyscale, palette and alpha inputs are
normalised; multi-frame files give their first frame. Every failure is a typed
:class:`~app.core.errors.ImageError` naming the reason in plain words.

Everything in the app that reads a user's image file (the cutout, the queued thumbnail, an
evaluation mask) opens it through :func:`open_checked`: our formats only, the size guard, typed errors.
"""

from __future__ import annotations

import io
import os
import stat
import struct
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from app.core import colour, source_quality
from app.core.errors import CorruptImage, EmptyFile, ImageError, NotAnImage, TooLarge, Unreadable, UnsupportedImage

DEFAULT_MAX_PIXELS = 160_000_000  # 160 MP: every current medium-format camera fits
ORIENTATION_TAG = 0x0112
# A TIFF's EXIF is its first directory, so it carries the file's layout: size, strips, compression,
# sample format, and the ICC profile. Kept in an export they would describe the old file (libtiff then
# writes a broken TIFF, or fails); the new file has its own, and colour goes through colour.to_srgb.
LAYOUT_TAGS = frozenset({254, 255, 256, 257, 258, 259, 262, 266, 273, 277, 278, 279, 284, 317, 320, 322, 323, 324,
                         325, 338, 339, 340, 341, 513, 514, 530, 532, 34675})
TRUNCATED_MESSAGE = "the file is truncated (an incomplete download or copy?)"
NOT_A_FILE = "not a regular file (a pipe, device or socket), so it is not read"

# Formats we open. Deliberately excludes EPS/PDF (Ghostscript) and other exotic parsers.
# (Pillow opens MPO camera files through its JPEG plugin.)
ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP", "TIFF", "BMP", "DIB", "GIF", "TGA", "PPM", "HEIF", "AVIF")
READABLE = "JPEG, PNG, WebP, TIFF, BMP, GIF, TGA, PPM, HEIC/HEIF and AVIF"
IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".tif", ".tiff", ".bmp", ".dib", ".gif",
     ".tga", ".ppm", ".pgm", ".pbm", ".heic", ".heif", ".hif", ".avif", ".mpo"}
)

# Pillow's own bomb check stays on as a backstop for any reader that does not come through
# open_checked(). It is kept at least as high as every limit the app is asked to apply (see
# _backstop), so it never refuses a photo that our limit allows. Inside open_checked() both
# refusals become the same typed too_large error with the claimed size. Pillow's warning (between
# its limit and twice it) only ever precedes our own refusal, so it is silenced.
Image.MAX_IMAGE_PIXELS = DEFAULT_MAX_PIXELS
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
ImageFile.LOAD_TRUNCATED_IMAGES = False

# What Pillow raises on damaged data, inside the decoders and its header and metadata parsers;
# pi-heif reports libheif's decoding errors as RuntimeError.
DAMAGE = (SyntaxError, ValueError, EOFError, IndexError, TypeError, KeyError, struct.error, ZeroDivisionError,
          RuntimeError)

_open_formats: list[str] | None = None


def is_image_name(name: str | os.PathLike[str]) -> bool:
    """Whether a folder walk should offer this file: not hidden (no leading dot) and an extension
    we open. Names only: opening the file decides for real (``open_checked``)."""
    path = Path(name)
    return not path.name.startswith(".") and path.suffix.lower() in IMAGE_SUFFIXES


def _plugins() -> list[str]:
    """Load Pillow's plugins and the decode-only HEIF one (pi-heif); return the formats we open."""
    global _open_formats
    if _open_formats is None:
        Image.init()
        try:
            from pi_heif import register_heif_opener
        except ImportError:  # pragma: no cover - optional at runtime
            pass
        else:
            register_heif_opener()
        _open_formats = [f for f in ALLOWED_FORMATS if f in Image.OPEN]
    return _open_formats


def _backstop(max_pixels: int) -> None:
    """Raise (never lower) Pillow's global bomb limit to ``max_pixels``: a larger configured limit
    must not be refused by the backstop. It only ever grows, so concurrent callers cannot undo it."""
    current = Image.MAX_IMAGE_PIXELS
    if current is not None and max_pixels > current:
        Image.MAX_IMAGE_PIXELS = max_pixels


@dataclass
class Decoded:
    """A decoded photo: ``image`` is RGB in sRGB, ``alpha`` the source's own transparency."""

    image: Image.Image
    alpha: Image.Image | None
    source_format: str
    source_mode: str
    colour_note: str
    exif: bytes | None = None
    frames: int = 1
    warnings: list[str] = field(default_factory=list)
    source: source_quality.SourceFacts | None = None  # what the file says about its quality (app.core.source_quality)

    @property
    def size(self) -> tuple[int, int]:
        return self.image.size


@contextmanager
def open_checked(
    source: str | os.PathLike[str] | bytes,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    name: str | None = None,
) -> Iterator[ImageFile.ImageFile]:
    """The one way Knockout opens a user's image file; everything that reads pixels comes here.

    Only the formats we support are tried (never Ghostscript for a PostScript file, whatever
    its name); the pixel count is checked from the header before any pixel is decoded. The
    caller decodes inside the ``with``: what Pillow raises there on damaged data becomes a
    typed :class:`ImageError` naming the file.
    """
    label = _label(source, name)
    if isinstance(source, bytes):
        if not source:
            raise EmptyFile("the file is empty (0 bytes)", label)
        with _damage_is_typed(label):
            yield _identify(io.BytesIO(source), max_pixels, label)
        return
    path = Path(source)
    try:
        _refuse_special(os.stat(path).st_mode, label)  # before opening: a FIFO blocks, a device may act
        fh = open(os.open(path, _READ_FLAGS), "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        raise Unreadable("the file does not exist", label) from None
    except IsADirectoryError:
        raise Unreadable("this is a folder, not a file", label) from None
    except PermissionError:
        raise Unreadable("permission denied: the file cannot be read", label) from None
    except OSError as exc:
        raise Unreadable(f"the file cannot be read ({exc.strerror or exc})", label) from None
    with fh:
        st = os.fstat(fh.fileno())
        _refuse_special(st.st_mode, label)  # swapped in after the check above
        if st.st_size == 0:
            raise EmptyFile("the file is empty (0 bytes)", label)
        with _damage_is_typed(label):
            yield _identify(fh, max_pixels, label)


# O_NONBLOCK: a FIFO swapped in after the check must not wait for a writer; O_BINARY: Windows.
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)


def _refuse_special(mode: int, label: str) -> None:
    if stat.S_ISDIR(mode):
        raise Unreadable("this is a folder, not a file", label)
    if not stat.S_ISREG(mode):
        raise Unreadable(NOT_A_FILE, label)


def open_image(
    source: str | os.PathLike[str] | bytes,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    name: str | None = None,
) -> Decoded:
    """Decode ``source`` (a path or the file's bytes) into a :class:`Decoded`."""
    with open_checked(source, max_pixels, name) as img:
        return _decode(img, _label(source, name))


def thumbnail(
    source: str | os.PathLike[str] | bytes,
    side: int,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    name: str | None = None,
) -> Image.Image:
    """An upright RGB picture that fits in ``side``×``side``, cheap for big photos: JPEG decodes
    at a reduced scale (draft) and other formats are reduced by whole factors before they are
    resampled; the pixel limit refuses an over-size file before anything is decoded."""
    label = _label(source, name)
    with open_checked(source, max_pixels, name) as img:
        icc = img.info.get("icc_profile") or None
        exif = img.getexif()
        img.thumbnail((side, side), Image.Resampling.BOX)  # draft() and reduce() first, as they apply
        img.load()  # when already small enough, thumbnail() decoded nothing yet
        notes: list[str] = []
        upright, _exif = _upright(img, exif, notes)
        rgb_like, _alpha = _split_alpha(upright, label)
        rgb, _note = colour.to_srgb(rgb_like, icc, notes)
        return rgb if rgb.mode == "RGB" else rgb.convert("RGB")


def _label(source: str | os.PathLike[str] | bytes, name: str | None) -> str:
    """How errors name the file: the given name, else the path."""
    return name or (os.fspath(source) if not isinstance(source, bytes) else "image")


def _identify(fh: BinaryIO, max_pixels: int, label: str) -> ImageFile.ImageFile:
    """Open ``fh`` with our formats only and check the header's size against ``max_pixels``."""
    _backstop(max_pixels)
    try:
        img = Image.open(fh, formats=_plugins())
    except UnidentifiedImageError:
        raise _not_readable(fh, label) from None
    except Image.DecompressionBombError:  # over twice the limit: Pillow's backstop spoke first
        raise _too_large(_claimed_size(fh), max_pixels, label) from None
    width, height = img.size
    if width <= 0 or height <= 0:
        raise CorruptImage("the image header declares an empty size", label)
    if width * height > max_pixels:
        raise _too_large((width, height), max_pixels, label)
    return img


def _too_large(size: tuple[int, int] | None, max_pixels: int, label: str) -> TooLarge:
    limit = f"the limit of {max_pixels / 1e6:.0f} megapixels"
    if size is None:
        return TooLarge(f"the image is over {limit}", label)
    width, height = size
    return TooLarge(f"{width}×{height} is {width * height / 1e6:.0f} megapixels, over {limit}", label)


def _claimed_size(fh: BinaryIO) -> tuple[int, int] | None:
    """The size the header claims, for the message, when Pillow's bomb check refused the file
    before it could be seen: our formats' header parsers run again, and nothing is decoded."""
    fh.seek(0)
    prefix = fh.read(16)
    for fmt in _plugins():
        factory, accept = Image.OPEN[fmt]
        try:
            if accept is None or accept(prefix):
                fh.seek(0)
                return factory(fh, "").size
        except (*DAMAGE, OSError):
            continue
    return None


def _not_readable(fh: BinaryIO, label: str) -> ImageError:
    """Unsupported (naming the format) when the first bytes carry the signature of an image
    format Pillow knows but we do not open; otherwise not an image. Only each plugin's
    signature test runs on those bytes, never its parser."""
    fh.seek(0)
    prefix = fh.read(16)
    for fmt, (_factory, accept) in Image.OPEN.items():
        if fmt in ALLOWED_FORMATS or accept is None:
            continue
        try:
            if accept(prefix):
                return UnsupportedImage(f"this is a {fmt} file, a format Knockout does not read "
                                        f"(it reads {READABLE})", label)
        except (SyntaxError, IndexError, TypeError, struct.error):
            continue
    return NotAnImage("not an image, or a format Knockout does not read", label)


@contextmanager
def _damage_is_typed(label: str) -> Iterator[None]:
    """Pillow's exceptions on damaged or hostile data, as typed errors naming the file."""
    try:
        yield
    except ImageError:
        raise
    except Image.DecompressionBombError:
        raise TooLarge("a frame of the image is larger than the pixel limit", label) from None
    except MemoryError:
        raise TooLarge("not enough memory to decode this image", label) from None
    except OSError as exc:
        text = str(exc)
        if _is_truncation(text):
            raise CorruptImage(TRUNCATED_MESSAGE, label) from None
        raise CorruptImage(f"the image data is damaged ({text})", label) from None
    except DAMAGE as exc:
        raise CorruptImage(f"the image data is damaged ({type(exc).__name__}: {exc})", label) from None


def _decode(opened: ImageFile.ImageFile, label: str) -> Decoded:
    """Everything after the header check, run inside open_checked()'s ``with``."""
    source_format = opened.format or "unknown"
    source_mode = opened.mode
    icc = opened.info.get("icc_profile") or None
    frames = getattr(opened, "n_frames", 1)  # walks the whole file: damage here is typed too
    opened.load()
    notes: list[str] = []
    exif = opened.getexif()
    facts = source_quality.facts(opened, exif)  # before _upright and _exif_bytes change the EXIF
    img, exif = _upright(opened, exif, notes)
    exif_bytes = _exif_bytes(exif, notes)
    if frames > 1:
        notes.append(f"{frames} frames/pages: only the first is used")
    rgb_like, alpha = _split_alpha(img, label)
    rgb, note = colour.to_srgb(rgb_like, icc, notes)
    return Decoded(rgb, alpha, source_format, source_mode, note, exif_bytes, frames, notes, facts)


def _upright(img: Image.Image, exif: Image.Exif, notes: list[str]) -> tuple[Image.Image, Image.Exif]:
    """Turn the pixels as EXIF Orientation says and drop the tag (a kept tag would make viewers
    turn them again). An orientation that is not a number (stored as text by some software)
    means no turn, with a warning: a valid photo must not fail on its metadata."""
    orientation = exif.get(ORIENTATION_TAG, 1)
    if not isinstance(orientation, int):
        notes.append(f"the EXIF orientation is unreadable ({orientation!r}): the photo is used as stored")
        exif.pop(ORIENTATION_TAG, None)
    elif orientation in (2, 3, 4, 5, 6, 7, 8):
        img = ImageOps.exif_transpose(img)
        exif.pop(ORIENTATION_TAG, None)
    return img, exif


def _exif_bytes(exif: Image.Exif, notes: list[str]) -> bytes | None:
    """The EXIF to carry to an export that keeps it, without the source file's layout tags; None
    when there is none or it cannot be written back (a tag stored with the wrong type): the photo
    itself is fine."""
    for tag in LAYOUT_TAGS.intersection(exif):
        del exif[tag]
    if not len(exif):
        return None
    try:
        return exif.tobytes()
    except (*DAMAGE, OSError):
        notes.append("the EXIF metadata is damaged and cannot be kept")
        return None


def _is_truncation(text: str) -> bool:
    """Pillow's wording for data that stops early, in the header or in the pixels."""
    lowered = text.lower()
    return any(words in lowered for words in ("truncated", "broken data stream", "premature end"))


def _split_alpha(img: Image.Image, label: str) -> tuple[Image.Image, Image.Image | None]:
    """Return (colour image in L/RGB/CMYK, alpha or None), with bit depth reduced to 8."""
    mode = img.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        return _to_8bit_grey(img), None
    if mode == "1":
        return img.convert("L"), None
    if mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in img.info
        img = img.convert("RGBA" if has_alpha else "RGB")
        mode = img.mode
    if mode in ("La", "RGBa"):
        img = img.convert("RGBA" if mode == "RGBa" else "LA")
        mode = img.mode
    if mode == "LA":
        grey, alpha = img.split()
        return grey, _alpha_or_none(alpha)
    if mode == "RGBA":
        r, g, b, alpha = img.split()
        return Image.merge("RGB", (r, g, b)), _alpha_or_none(alpha)
    if mode in ("L", "RGB", "CMYK"):
        return img, None
    if mode in ("RGBX", "YCbCr", "HSV"):
        return img.convert("RGB"), None
    if mode == "LAB":
        return img, None
    raise UnsupportedImage(f"pixel format {mode} is not supported", label)


def _alpha_or_none(alpha: Image.Image) -> Image.Image | None:
    """Drop an alpha channel that is fully opaque: it carries no information."""
    lo = alpha.getextrema()[0]
    return None if lo == 255 else alpha


def _to_8bit_grey(img: Image.Image) -> Image.Image:
    arr = np.asarray(img)
    if img.mode == "F":
        peak = float(np.nanmax(arr)) if arr.size else 0.0
        scale = 255.0 if peak <= 1.0 else 1.0
        out = np.clip(np.nan_to_num(arr) * scale, 0, 255) + 0.5
    else:
        wide = arr.astype(np.uint32)
        # 16-bit data (also 16-bit PNGs that Pillow opens as 32-bit "I") -> 8 bits with rounding
        sixteen = img.mode.startswith("I;16") or int(wide.max(initial=0)) > 255
        out = (np.minimum(wide, 65535) * 255 + 32767) // 65535 if sixteen else wide
    return Image.fromarray(out.astype(np.uint8), "L")
