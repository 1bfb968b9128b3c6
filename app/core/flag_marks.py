"""QA flags drawn where they are, so a reviewer (and new staff learning what a failure looks like)
sees the halo, the filled hole or the cut-off edge instead of reading about it.

Each ``app.core.qa.Flag`` carries its ``region`` at the size its check ran at; here it is scaled to
the picture and drawn in the flag's own colour with a short word beside it: a halo band outlined,
a filled hole circled, a touched frame edge as a thick bar along that edge, a left-out part shaded.
Pure Pillow + numpy: the window, the review sheet and the tests call the same function.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from app.core.components import label
from app.core.morphology import grow
from app.core.qa import Flag

# code -> (RGB, the word written beside the mark)
STYLES: dict[str, tuple[tuple[int, int, int], str]] = {
    "halo": ((255, 0, 200), "halo"),
    "filled-hole": ((0, 170, 255), "hole"),
    "touches-edge": ((255, 120, 0), "edge"),
    "left-out": ((0, 200, 90), "left out"),
    "low-confidence": ((255, 215, 0), "unsure"),
    "multiple-subjects": ((150, 90, 255), "part"),
}
SHADE = 0.45  # opacity of a shaded region
MAX_CIRCLES = 8  # holes circled per flag: the largest ones


def _scaled(region: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``region`` at the picture's ``size`` (w, h); a pixel is in if any of its share was (thin bands survive)."""
    if region.shape[::-1] == size:
        return np.asarray(region, bool)
    small = Image.fromarray(np.asarray(region, np.uint8) * 255, "L")
    return np.asarray(small.resize(size, Image.Resampling.BILINEAR)) > 0


def _stroke(size: tuple[int, int]) -> int:
    return max(2, round(min(size) / 150))


def _font_px(size: tuple[int, int]) -> int:
    return max(11, round(min(size) / 30))


def _label(draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, colour: tuple[int, int, int],
           size: tuple[int, int]) -> None:
    """The flag's word in a small dark box at ``xy`` (its top left), kept inside the picture; the word is
    about a thirtieth of the picture high, so it reads when the picture is shown small."""
    font = ImageFont.load_default(size=_font_px(size))
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    pad = max(2, (bottom - top) // 4)
    w, h = right - left + 2 * pad, bottom - top + 2 * pad
    x = min(max(0, int(xy[0])), max(0, size[0] - w))
    y = min(max(0, int(xy[1]) - h), max(0, size[1] - h))
    draw.rectangle((x, y, x + w, y + h), fill=(20, 20, 20, 230))
    draw.text((x + pad - left, y + pad - top), text, fill=(*colour, 255), font=font)


def _box(mask: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())


def _outline(overlay: Image.Image, region: np.ndarray, colour: tuple[int, int, int]) -> tuple[float, float]:
    """A line either side of a band: its neighbourhood without the band itself (the band stays visible)."""
    width = _stroke(overlay.size)
    ring = grow(region, width + 1) & ~grow(region, 1)
    _paint(overlay, ring, colour, 1.0)
    x0, y0, _x1, _y1 = _box(region)
    return x0, y0 - width - 2


def _paint(overlay: Image.Image, mask: np.ndarray, colour: tuple[int, int, int], opacity: float) -> None:
    layer = Image.new("RGBA", overlay.size, (*colour, round(255 * opacity)))
    overlay.paste(layer, (0, 0), Image.fromarray(mask.astype(np.uint8) * 255, "L"))


def _circles(draw: ImageDraw.ImageDraw, region: np.ndarray, colour: tuple[int, int, int],
             size: tuple[int, int]) -> tuple[float, float]:
    """A circle around each of the largest blobs of ``region`` (the holes), with room around it."""
    parts = label(region)
    width = _stroke(size)
    order = np.argsort(parts.areas[1:])[::-1][:MAX_CIRCLES] + 1
    first = (0.0, 0.0)
    for index, number in enumerate(order):
        keep = np.zeros(parts.areas.size, bool)
        keep[number] = True
        x0, y0, x1, y1 = _box(parts.mask(keep))
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        r = 0.5 * float(np.hypot(x1 - x0 + 1, y1 - y0 + 1)) + 2 * width + 2
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=(*colour, 255), width=width)
        if index == 0:
            first = (cx + r + width + 4, cy)  # beside the circle, not on it
    return first


def _edges(draw: ImageDraw.ImageDraw, region: np.ndarray, colour: tuple[int, int, int],
           size: tuple[int, int]) -> tuple[float, float]:
    """A thick bar along each frame edge the subject touches, over the stretch it touches."""
    w, h = size
    thick = max(4, round(min(size) / 30))
    where = (0.0, 0.0)
    fill = (*colour, 255)
    for side, line in (("top", region[0]), ("bottom", region[-1]), ("left", region[:, 0]), ("right", region[:, -1])):
        hits = np.flatnonzero(line)
        if hits.size == 0:
            continue
        a, b = int(hits.min()), int(hits.max())
        bar = {"top": (a, 0, b, thick - 1), "bottom": (a, h - thick, b, h - 1),
               "left": (0, a, thick - 1, b), "right": (w - thick, a, w - 1, b)}[side]
        draw.rectangle(bar, fill=fill)
        where = {"top": (a, thick + 2 * _font_px(size)), "bottom": (a, h - thick - 2), "left": (thick + 2, a),
                 "right": (w - thick - 2, a)}[side]
    return where


def draw_flag_marks(image: Image.Image, flags: Sequence[Flag]) -> Image.Image:
    """A copy of ``image`` with each flag that knows its ``region`` drawn where it is (RGBA stays RGBA:
    marks on a cutout's transparent parts are opaque; anything else comes back RGB)."""
    size = image.size
    base = image.convert("RGBA")
    overlay = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    labels: list[tuple[tuple[float, float], str, tuple[int, int, int]]] = []
    for flag in flags:
        if flag.region is None or flag.code not in STYLES:
            continue
        region = _scaled(flag.region, size)
        if not region.any():
            continue
        colour, word = STYLES[flag.code]
        if flag.code == "halo":
            where = _outline(overlay, region, colour)
        elif flag.code == "filled-hole":
            where = _circles(draw, region, colour, size)
        elif flag.code == "touches-edge":
            where = _edges(draw, region, colour, size)
        elif flag.code == "multiple-subjects":
            where = _outline(overlay, region, colour)
        else:  # left-out, low-confidence: a shaded area
            _paint(overlay, region, colour, SHADE)
            x0, y0, _x1, _y1 = _box(region)
            where = (x0, y0 - 2)
        labels.append((where, word, colour))
    for where, word, colour in labels:  # last, so no mark covers a word
        _label(draw, where, word, colour, size)
    marked = Image.alpha_composite(base, overlay)
    return marked if image.mode == "RGBA" else marked.convert("RGB")
