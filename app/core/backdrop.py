"""Plain backdrops: fit one, and bring back subject parts the model cut away from it.

On a studio sweep or a coloured screen the background is one smooth colour, so anything
beside the subject that leaves that colour is subject the model dropped (a plant's leaves,
a toy's hair). The background is fitted with a smooth fill of the pixels the model calls
background, away from the subject, refitted without what it cannot explain; a photo counts
as a backdrop when that fill explains most of them (``BACKDROP_SHARE``). Colours are compared
across the backdrop's colour direction: a shadow is the same colour, darker, and stays out.

``app.core.qa`` flags such parts ("left-out"); ``recover`` brings them back where that flag
fires (``auto_recover_parts``, app.batch.pipeline.fix_mask) or, over the whole backdrop, on
request (the app's "Recover parts" button). Not over every backdrop by default: on a real
table a warm shadow does leave the backdrop's colour, and a scene that is only partly plain
(sky over hills) can pass for a backdrop (docs/quality.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from app.core.components import label
from app.core.morphology import grow
from app.core.refine import box_mean

# A smooth fill explains a background pixel within FIT (0..255 RGB distance); a photo is a
# backdrop when it explains SHARE of them. Measured at the QA size (.bench/research/exp18b.py):
# scenes explain at most 0.60 (grabcut; davis 0.52, coco 0.37, alphamatting 0.34), products on
# plain tables and flat backdrops with a dropped part 0.63-1.0.
FIT, SHARE = 8.0, 0.62
RADII = (0.064, 0.256)  # of the diagonal: the fill's scales (then the whole frame's mean)
CHROMA = 15.0  # a colour this far across the backdrop's direction (0..255) is surely not backdrop
WORK_SIDE = 512  # fitting and the subject's local colours run on a copy this size
BAND = 256  # full-resolution rows per step of recovery


@dataclass(frozen=True)
class Backdrop:
    """A fitted backdrop at some working size: its colour per pixel and how clean it is."""

    colour: np.ndarray  # HxWx3 float, 0..255
    kept: np.ndarray  # HxW bool: background pixels the fill explains
    noise: float  # 95th percentile of the kept pixels' distance across the colour direction

    def across(self, rgb: np.ndarray, colour: np.ndarray | None = None) -> np.ndarray:
        """Each pixel's colour with its component along the backdrop's colour removed."""
        return across(rgb, self.colour if colour is None else colour)


def across(rgb: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """``rgb`` minus its projection on ``colour``'s direction (shadows of ``colour`` → ~0)."""
    direction = colour / (np.linalg.norm(colour, axis=-1, keepdims=True) + 1e-3)
    return rgb - (rgb * direction).sum(axis=-1, keepdims=True) * direction


def smooth_fill(rgb: np.ndarray, weight: np.ndarray, radii: list[int]) -> np.ndarray:
    """Weighted mean colour around every pixel, from the finest scale that has samples there;
    the whole frame's weighted mean where none has."""
    out = np.zeros_like(rgb)
    taken = np.zeros(weight.shape, np.float32)
    for r in radii:
        support = box_mean(weight, r)
        mean = box_mean(rgb * weight[..., None], r) / np.maximum(support, 1e-6)[..., None]
        share = np.clip(support * 4, 0, 1) * (1 - taken)
        out += mean * share[..., None]
        taken += share
    overall = (rgb * weight[..., None]).sum(axis=(0, 1)) / max(float(weight.sum()), 1e-6)
    return out + (1 - taken)[..., None] * overall


def fit(rgb: np.ndarray, alpha: np.ndarray) -> Backdrop | None:
    """The backdrop of ``rgb`` (float 0..255) under ``alpha`` (0..1), or None if it has none."""
    h, w = alpha.shape
    diag = float(np.hypot(h, w))
    subject = alpha >= 0.5
    background = alpha < 0.02
    if subject.any():
        background &= ~grow(subject, round(0.02 * diag))
    total = float(background.sum())
    if total < 0.05 * alpha.size:
        return None
    radii = [max(2, round(r * diag)) for r in RADII]
    weight = background.astype(np.float32)
    # Drop what the fill cannot explain (a left-out part) and refit. The first fit is coarse
    # only: a fine one would explain a large flat-coloured part by its own colour.
    for scales in (radii[1:], radii, radii):
        colour = smooth_fill(rgb, weight, scales)
        weight = background * (np.sqrt(((rgb - colour) ** 2).sum(axis=-1)) < FIT)
    kept = weight > 0
    if not kept.any() or kept.sum() < SHARE * total:
        return None
    noise = float(np.percentile(np.linalg.norm(across(rgb, colour)[kept], axis=-1), 95))
    return Backdrop(colour.astype(np.float32), kept, noise)


def _shrink(photo: Image.Image, alpha: Image.Image) -> tuple[np.ndarray, np.ndarray]:
    factor = max(1, -(-max(alpha.size) // WORK_SIDE))
    if factor > 1:
        photo, alpha = photo.reduce(factor), alpha.reduce(factor)
    return np.asarray(photo.convert("RGB"), np.float32), np.asarray(alpha, np.float32) / 255


def _subject_colour(rgb: np.ndarray, sure: np.ndarray) -> np.ndarray:
    """The subject's local colour around every pixel, from the finest scale with samples."""
    diag = float(np.hypot(*sure.shape))
    return smooth_fill(rgb, sure.astype(np.float32), [max(1, round(r * diag)) for r in (0.005, 0.015, 0.05)])


def _attached(subject: np.ndarray, off: np.ndarray) -> np.ndarray:
    """Where recovery may reach: off-backdrop pixels joined (within 2 px) to the kept subject,
    following the part's own shape; everything off the backdrop when nothing was kept."""
    parts = label(grow(subject | off, 2))
    keep = np.zeros(parts.count + 1, bool)
    if subject.any():
        keep[np.unique(parts.labels[subject])] = True
        keep[0] = False
    else:
        keep[1:] = True
    return parts.mask(keep)


def recover(photo: Image.Image, alpha: Image.Image) -> Image.Image | None:
    """``alpha`` raised where the photo shows subject colour on a plain backdrop; None when the
    photo has no plain backdrop to tell subject from. Opacity only goes up.

    Each pixel is read as a mix of the local subject colour F and the backdrop B, measured
    across B's colour direction: alpha = |I⊥| / |F⊥|, less a dead zone of the backdrop's own
    noise. Fields are fitted on a ≤512 px copy; the per-pixel step runs at full resolution.
    """
    alpha = alpha.convert("L")
    rgb_w, a_w = _shrink(photo, alpha)
    backdrop = fit(rgb_w, a_w)
    if backdrop is None:
        return None
    distance = np.linalg.norm(backdrop.across(rgb_w), axis=-1)
    sure = (a_w > 0.95) | (distance > max(3 * backdrop.noise, CHROMA))
    sure &= ~grow(~sure, 1)  # not their anti-aliased rims
    colour = _subject_colour(rgb_w, sure)
    reach = _attached(a_w >= 0.5, distance > max(3 * backdrop.noise, CHROMA / 3))
    fields = [Image.fromarray(np.ascontiguousarray(field[..., i]), "F")
              for field in (backdrop.colour, colour) for i in range(3)]
    fields.append(Image.fromarray(reach.astype(np.float32), "F"))
    dead = np.float32(1.5 * backdrop.noise)
    w, h = alpha.size
    sy = a_w.shape[0] / h
    out = np.array(alpha)
    for y0 in range(0, h, BAND):
        y1 = min(h, y0 + BAND)
        box = (0, y0 * sy, a_w.shape[1], y1 * sy)
        up = [np.asarray(f.resize((w, y1 - y0), Image.Resampling.BILINEAR, box=box)) for f in fields]
        bg, fg, near = np.stack(up[:3], -1), np.stack(up[3:6], -1), up[6] > 0
        img = np.asarray(photo.crop((0, y0, w, y1)).convert("RGB"), np.float32)
        fg_across = across(fg, bg)
        strength = np.linalg.norm(fg_across, axis=-1)
        share = (across(img, bg) * fg_across).sum(axis=-1) / np.maximum(strength, 1e-3)
        raised = np.clip((share - dead) / np.maximum(strength - dead, 1e-3), 0, 1)
        raised[(strength < CHROMA) | ~near] = 0  # subject colour too close to the backdrop's to tell
        band = out[y0:y1]
        np.maximum(band, (raised * 255 + 0.5).astype(np.uint8), out=band)
    return Image.fromarray(out, "L")
