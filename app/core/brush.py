"""Brush strokes on a full-resolution mask: erase towards transparent, restore towards opaque.

The editor sends a stroke as a polyline in image pixels with a radius and a hardness;
it is applied here to the real mask, never to a preview, so what you paint is what
gets exported. Work is confined to each segment's own bounding box: a stroke of a
hundred short segments touches a few hundred thousand pixels, not the whole photo.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

MODES = ("erase", "restore")
MAX_POINTS = 20_000
MAX_RADIUS = 2_000.0


@dataclass(frozen=True)
class Stroke:
    mode: str
    radius: float
    hardness: float
    points: tuple[tuple[float, float], ...]

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown brush {self.mode!r}: use erase or restore")
        if not 0.5 <= self.radius <= MAX_RADIUS:
            raise ValueError(f"brush radius must be between 0.5 and {MAX_RADIUS:g} pixels")
        if not 0.0 <= self.hardness <= 1.0:
            raise ValueError("brush hardness must be between 0 and 1")
        if not 1 <= len(self.points) <= MAX_POINTS:
            raise ValueError(f"a stroke needs between 1 and {MAX_POINTS} points")

    @classmethod
    def from_json(cls, data: object) -> Stroke:
        """Validate the editor's small JSON stroke (untrusted input from the page)."""
        if not isinstance(data, dict):
            raise ValueError("a stroke must be an object with mode, radius, hardness and points")
        try:
            points = tuple((float(x), float(y)) for x, y in data["points"])
            stroke = cls(str(data["mode"]), float(data["radius"]), float(data.get("hardness", 0.8)), points)
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, ValueError) and str(exc).startswith(("unknown brush", "brush", "a stroke")):
                raise
            raise ValueError("a stroke needs mode, radius, hardness and a list of [x, y] points") from None
        if not all(np.isfinite(v) for p in points for v in p):
            raise ValueError("stroke points must be finite numbers")
        return stroke


def bounds(stroke: Stroke, size: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) of the pixels the stroke can touch, clipped to ``size``; None if outside."""
    xs = [p[0] for p in stroke.points]
    ys = [p[1] for p in stroke.points]
    r = stroke.radius + 1
    x0, y0 = max(0, int(np.floor(min(xs) - r))), max(0, int(np.floor(min(ys) - r)))
    x1, y1 = min(size[0], int(np.ceil(max(xs) + r)) + 1), min(size[1], int(np.ceil(max(ys) + r)) + 1)
    if x0 >= x1 or y0 >= y1:
        return None
    return x0, y0, x1, y1


def coverage(stroke: Stroke, box: tuple[int, int, int, int]) -> np.ndarray:
    """Brush strength 0..1 for every pixel in ``box``: 1 inside ``radius * hardness``, falling
    smoothly to 0 at ``radius`` (distance measured from pixel centres to the polyline)."""
    x0, y0, x1, y1 = box
    out = np.zeros((y1 - y0, x1 - x0), dtype=np.float32)
    r = stroke.radius
    inner = r * stroke.hardness
    pts = stroke.points if len(stroke.points) > 1 else stroke.points * 2
    for (ax, ay), (bx, by) in itertools.pairwise(pts):
        sx0 = max(x0, int(np.floor(min(ax, bx) - r)))
        sy0 = max(y0, int(np.floor(min(ay, by) - r)))
        sx1 = min(x1, int(np.ceil(max(ax, bx) + r)) + 1)
        sy1 = min(y1, int(np.ceil(max(ay, by) + r)) + 1)
        if sx0 >= sx1 or sy0 >= sy1:
            continue
        px = np.arange(sx0, sx1, dtype=np.float32)[None, :] + 0.5
        py = np.arange(sy0, sy1, dtype=np.float32)[:, None] + 0.5
        dx, dy = bx - ax, by - ay
        length2 = dx * dx + dy * dy
        if length2 > 0:
            t = np.clip(((px - ax) * dx + (py - ay) * dy) / length2, 0.0, 1.0)
            dist = np.hypot(px - (ax + t * dx), py - (ay + t * dy))
        else:
            dist = np.hypot(px - ax, py - ay)
        if r > inner:
            strength = np.clip((r - dist) / (r - inner), 0.0, 1.0)
            strength = strength * strength * (3 - 2 * strength)  # smoothstep: no visible ring
        else:
            strength = (dist <= r).astype(np.float32)
        view = out[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0]
        np.maximum(view, strength, out=view)
    return out


def apply(alpha: np.ndarray, stroke: Stroke) -> tuple[tuple[int, int, int, int], np.ndarray] | None:
    """Paint ``stroke`` into ``alpha`` (uint8 HxW, modified in place).

    Returns the touched box and the pixels it held before (for undo), or None when the
    stroke lies entirely outside the image.
    """
    box = bounds(stroke, (alpha.shape[1], alpha.shape[0]))
    if box is None:
        return None
    x0, y0, x1, y1 = box
    region = alpha[y0:y1, x0:x1]
    before = region.copy()
    strength = coverage(stroke, box)
    current = region.astype(np.float32)
    target = 0.0 if stroke.mode == "erase" else 255.0
    # Painting only ever moves pixels towards the target, so a soft edge passed over
    # twice does not overshoot, and restore never darkens what the model kept.
    updated = current + (target - current) * strength
    region[...] = np.clip(np.rint(updated), 0, 255).astype(np.uint8)
    return box, before
