"""The pictures the page asks for, made from a document's photo and mask (app.desktop.document).

Shrinking a 12 MP photo to a preview costs ~0.1 s, and the page asks for the same photo at
the same few sizes again and again: for the original, for the first look's cutout, for the
full answer's, for each thumbnail. The photo never changes while a document keeps it, so
``ShrunkPhoto`` shrinks it once per size (from the nearest larger copy it already has) and
only the mask, which does change, is shrunk per picture. That keeps the page's requests from
competing with the model for a laptop's few cores just as a first look is being shown.
"""

from __future__ import annotations

import io

from PIL import Image

VIEWS = ("cutout", "original", "mask")


def fitted(size: tuple[int, int], side: int) -> tuple[int, int]:
    """``size`` scaled to fit inside a ``side``×``side`` square (never enlarged)."""
    scale = min(1.0, side / max(size))
    return (max(1, round(size[0] * scale)), max(1, round(size[1] * scale)))


class ShrunkPhoto:
    """One photo (RGB) and its shrunk copies, made once per size."""

    def __init__(self, rgb: Image.Image) -> None:
        self.source = rgb  # what it was made from: a new decode of the photo needs a new one
        self.rgb = rgb if rgb.mode == "RGB" else rgb.convert("RGB")
        self._copies: dict[tuple[int, int], Image.Image] = {}

    def at(self, size: tuple[int, int]) -> Image.Image:
        """The whole photo at ``size`` (shared: callers must not change it)."""
        if size == self.rgb.size:
            return self.rgb
        copy = self._copies.get(size)
        if copy is None:
            larger = [c for s, c in self._copies.items() if s[0] >= 2 * size[0] and s[1] >= 2 * size[1]]
            start = min(larger, key=lambda c: c.width) if larger else self.rgb
            copy = self._copies[size] = start.resize(size, Image.Resampling.BOX)
        return copy


def picture(view: str, photo: ShrunkPhoto | None, mask: Image.Image | None,
            box: tuple[int, int, int, int] | None, size: int | tuple[int, int]) -> Image.Image:
    """``view`` of ``box`` (or the whole picture) at ``size`` (exact, or fitted inside a square
    of that side). Photo and mask are shrunk separately before they are put together:
    building a 12 MP RGBA image first costs most of a second; this costs a few tens of ms."""
    source = photo.rgb if photo is not None else mask
    assert source is not None
    full = source.size if box is None else (box[2] - box[0], box[3] - box[1])
    size = fitted(full, size) if isinstance(size, int) else size
    rgb = None
    if photo is not None:
        rgb = photo.at(size) if box is None else _shrink(photo.rgb.crop(box), size)
    if mask is not None:
        mask = _shrink(mask if box is None else mask.crop(box), size)
    if view == "mask":
        assert mask is not None
        return mask
    assert rgb is not None
    if view == "original":
        return rgb.copy() if box is None else rgb
    assert mask is not None
    rgba = rgb.convert("RGBA")
    rgba.putalpha(mask)
    return rgba


def _shrink(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    return image if image.size == size else image.resize(size, Image.Resampling.BOX)


def encode(view: str, image: Image.Image, whole: bool) -> tuple[bytes, str]:
    """Encoded picture and its MIME type."""
    if view == "original":
        return jpeg(image), "image/jpeg"
    # A whole-picture preview is several megapixels: stored, not deflated, it encodes
    # ~3x faster, and size does not matter over loopback. Tiles are small: deflate them.
    return png(image, level=0 if whole else 1), "image/png"


def png(image: Image.Image, level: int = 1) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=level)
    return out.getvalue()


def jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90)
    return out.getvalue()
