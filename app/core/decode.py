"""Decode any supported photo into 8-bit sRGB pixels plus its own alpha, safely.

The pixel-count limit is checked from the header before any pixel is decoded; EXIF
orientation is applied; embedded colour profiles (Display P3, Adobe RGB, CMYK...) are
converted to sRGB with LittleCMS; 16-bit, greyscale, palette and alpha inputs are
normalised; multi-frame files give their first frame. Every failure is a typed
:class:`~app.core.errors.ImageError` naming the reason in plain words.
"""

from __future__ import annotations

import io
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from app.core import colour
from app.core.errors import CorruptImage, EmptyFile, NotAnImage, TooLarge, Unreadable, UnsupportedImage

DEFAULT_MAX_PIXELS = 160_000_000  # 160 MP: every current medium-format camera fits
ORIENTATION_TAG = 0x0112
TRUNCATED_MESSAGE = "the file is truncated (an incomplete download or copy?)"

# Formats we open. Deliberately excludes EPS/PDF (Ghostscript) and other exotic parsers.
# (Pillow opens MPO camera files through its JPEG plugin.)
ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP", "TIFF", "BMP", "DIB", "GIF", "TGA", "PPM", "HEIF", "AVIF")
IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".tif", ".tiff", ".bmp", ".dib", ".gif",
     ".tga", ".ppm", ".pgm", ".pbm", ".heic", ".heif", ".hif", ".avif", ".mpo"}
)

# We enforce our own limit from the header (below); Pillow's global bomb check would
# refuse large-but-allowed photos with a less helpful message.
Image.MAX_IMAGE_PIXELS = None
ImageFile.LOAD_TRUNCATED_IMAGES = False

_open_formats: list[str] | None = None


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

    @property
    def size(self) -> tuple[int, int]:
        return self.image.size


def open_image(
    source: str | os.PathLike[str] | bytes,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    name: str | None = None,
) -> Decoded:
    """Decode ``source`` (a path or the file's bytes) into a :class:`Decoded`."""
    label = name or (os.fspath(source) if not isinstance(source, bytes) else "image")
    if isinstance(source, bytes):
        if not source:
            raise EmptyFile("the file is empty (0 bytes)", label)
        return _decode(io.BytesIO(source), max_pixels, label)
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
        return _decode(fh, max_pixels, label)


# O_NONBLOCK: a FIFO swapped in after the check must not wait for a writer; O_BINARY: Windows.
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)


def _refuse_special(mode: int, label: str) -> None:
    if stat.S_ISDIR(mode):
        raise Unreadable("this is a folder, not a file", label)
    if not stat.S_ISREG(mode):
        raise Unreadable("not a regular file (a pipe, device or socket), so it is not read", label)


def _decode(fh: BinaryIO, max_pixels: int, label: str) -> Decoded:
    try:
        img: Image.Image = Image.open(fh, formats=_plugins())
    except UnidentifiedImageError:
        raise NotAnImage("not an image, or a format Knockout does not read", label) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        if _is_truncation(str(exc)):
            raise CorruptImage(TRUNCATED_MESSAGE, label) from None
        raise CorruptImage(f"the file is damaged and cannot be opened ({exc})", label) from None
    width, height = img.size
    if width <= 0 or height <= 0:
        raise CorruptImage("the image header declares an empty size", label)
    if width * height > max_pixels:
        raise TooLarge(
            f"{width}×{height} is {width * height / 1e6:.0f} megapixels, over the limit of "
            f"{max_pixels / 1e6:.0f} megapixels",
            label,
        )
    frames = getattr(img, "n_frames", 1)
    source_format = img.format or "unknown"
    source_mode = img.mode
    icc = img.info.get("icc_profile") or None
    try:
        img.load()
        exif = img.getexif()
        orientation = exif.get(ORIENTATION_TAG, 1)
        if orientation in (2, 3, 4, 5, 6, 7, 8):
            img = ImageOps.exif_transpose(img)
            # The pixels are upright now: a kept tag would make viewers turn them again.
            exif.pop(ORIENTATION_TAG, None)
        exif_bytes = exif.tobytes() if len(exif) else None
    except OSError as exc:
        text = str(exc)
        if _is_truncation(text):
            raise CorruptImage(TRUNCATED_MESSAGE, label) from None
        raise CorruptImage(f"the image data is damaged ({text})", label) from None
    except (SyntaxError, ValueError, EOFError, IndexError, TypeError) as exc:
        raise CorruptImage(f"the image data is damaged ({exc})", label) from None
    except MemoryError:
        raise TooLarge("not enough memory to decode this image", label) from None

    warnings: list[str] = []
    if frames > 1:
        warnings.append(f"{frames} frames/pages: only the first is used")
    rgb_like, alpha = _split_alpha(img, label)
    rgb, note = colour.to_srgb(rgb_like, icc, warnings)
    return Decoded(rgb, alpha, source_format, source_mode, note, exif_bytes, frames, warnings)


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
