"""Mask clean-up after the model: stray specks, pinholes, and background seen through holes.

The model's mask is smooth at its own 1024² scale, so its mistakes at full resolution are
of three kinds a person would fix by hand: dust-sized opaque islands far from the subject
(specks), tiny transparent pinholes inside it, and enclosed gaps (inside a mug handle,
between the spokes of a wheel) that show the background but were kept opaque. Each fix
here is conservative: a real small part of the subject, a real mesh hole, or a subject
on a busy background is left alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from app.core.components import label
from app.core.morphology import grow, shrink

WORK_SIDE = 768  # hole finding runs on a copy this size (same as app.core.qa)

VISIBLE = 8  # alpha (0..255) above which a pixel shows at all
SOLID = 200  # alpha around a pinhole: it must sit inside solid subject
SPECK_SHARE = 0.002  # an island smaller than this share of the largest part ...
SPECK_GAP = 0.02  # ... and farther than this share of the diagonal from every larger part is a speck
PINHOLE_SHARE = 0.00005  # enclosed transparent spots up to this share of the frame are pinholes

BG_MIN_SHARE = 0.02  # clear pixels needed to trust a background estimate
BG_BUSY = 28.0  # median distance (0..255 RGB) from the background's mean above which it is too busy
HOLE_MATCH = 22.0  # a hole's colour lies within this of the background (or of its spread)
HOLE_SHARE, HOLE_MIN_PX = 0.004, 40  # a hole is at least this share of the subject, and these pixels


@dataclass(frozen=True)
class Holes:
    """Enclosed, background-coloured regions the mask keeps (alpha >= 0.5), at some working resolution."""

    mask: np.ndarray  # bool, the regions (each one a solid blob of at least the minimum size)
    count: int
    colour: np.ndarray  # the background's mean RGB
    tolerance: float  # colour distance that still counts as background


def background_colour(rgb: np.ndarray, alpha: np.ndarray) -> tuple[np.ndarray, float] | None:
    """(mean colour, median distance from it) of the clearly transparent pixels (alpha 0..1), or None if too few."""
    clear = alpha <= 0.05
    if clear.mean() < BG_MIN_SHARE:
        return None
    pixels = rgb[clear].astype(np.float32)
    mean = pixels.mean(axis=0)
    return mean, float(np.median(np.sqrt(((pixels - mean) ** 2).sum(axis=1))))


def find_holes(rgb: np.ndarray, alpha: np.ndarray) -> Holes | None:
    """Opaque regions inside the subject whose colour is the background's and that do not reach it.

    ``rgb`` float 0..255 and ``alpha`` float 0..1 at a working resolution (~768 px): the
    size thresholds are in its pixels. None on a busy background: there is no single
    colour a hole could match.
    """
    bg = background_colour(rgb, alpha)
    if bg is None or bg[1] > BG_BUSY:
        return None
    mean, spread = bg
    tolerance = max(HOLE_MATCH, spread)
    kept = alpha >= 0.5
    candidates = kept & (np.sqrt(((rgb - mean) ** 2).sum(axis=-1)) <= tolerance)
    if candidates.sum() < HOLE_MIN_PX:
        return None
    # Enclosed: its background-looking region does not reach the real background.
    open_ = alpha <= 0.25
    regions = label(candidates | open_)
    enclosed = candidates & ~np.isin(regions.labels, np.unique(regions.labels[open_]))
    if enclosed.sum() < HOLE_MIN_PX:
        return None
    blobs = label(shrink(enclosed, 1))  # a gap is a solid blob, not scattered look-alike pixels
    big = np.flatnonzero(blobs.areas >= max(HOLE_MIN_PX, HOLE_SHARE * kept.sum()))
    if big.size == 0:
        return None
    mask = grow(np.isin(blobs.labels, big), 1) & enclosed
    return Holes(mask, int(big.size), mean, tolerance)


def downscale(photo: Image.Image, alpha: Image.Image, side: int = WORK_SIDE) -> tuple[np.ndarray, np.ndarray]:
    """Area-averaged float32 copies (rgb 0..255, alpha 0..1) with the long side at most ``side``."""
    factor = max(1, -(-max(alpha.size) // side))
    if factor > 1:  # reduce() before convert(): no full-size copy of a 100 MP photo
        photo, alpha = photo.reduce(factor), alpha.reduce(factor)
    return np.asarray(photo.convert("RGB"), np.float32), np.asarray(alpha.convert("L"), np.float32) / np.float32(255)


def punch_holes(photo: Image.Image, alpha: Image.Image) -> Image.Image:
    """``alpha`` with enclosed background-coloured gaps made transparent, with soft edges.

    Holes are found on a small copy; at full resolution each pixel in (and just around)
    a hole keeps only the subject's share of its colour (``_subject_share``), so the
    edge follows the photo, anti-aliasing included (the handle's rim stays), not the
    coarse blob.
    """
    small_rgb, small_alpha = downscale(photo, alpha)
    holes = find_holes(small_rgb, small_alpha)
    if holes is None:
        return alpha
    w, h = alpha.size
    region_small = Image.fromarray(grow(holes.mask, 2).astype(np.uint8) * 255, "L")
    region_full = region_small.resize((w, h), Image.Resampling.BILINEAR)
    box = region_full.getbbox()
    if box is None:
        return alpha
    region = np.asarray(region_full.crop(box), np.float32) / np.float32(255)
    rgb = np.asarray(photo.crop(box).convert("RGB"), np.float32)
    kept = _subject_share(rgb, region > 0, holes.colour, holes.tolerance)
    out = np.array(alpha)
    part = out[box[1]:box[3], box[0]:box[2]].astype(np.float32)
    part *= 1 - region * (1 - kept)
    out[box[1]:box[3], box[0]:box[2]] = (part + 0.5).astype(np.uint8)
    return Image.fromarray(out, "L")


def _subject_share(rgb: np.ndarray, near: np.ndarray, bg: np.ndarray, tolerance: float) -> np.ndarray:
    """How much of each pixel's colour is subject (0..1) rather than background, around holes.

    The subject's colour is the mean of the clearly-not-background pixels ``near`` the
    holes (the handle around the gap); a pixel on the line from background to it is a
    mix in that proportion (an anti-aliased rim). Pixels within ``tolerance`` of the
    background are background; pixels off that line are some other part of the
    subject and are kept whole.
    """
    distance = np.sqrt(((rgb - bg) ** 2).sum(axis=-1))
    solid = near & (distance > 2 * tolerance)
    if not solid.any():
        return np.clip((distance - tolerance) / tolerance, 0, 1)
    direction = rgb[solid].mean(axis=0) - bg
    length2 = max(float((direction ** 2).sum()), 1.0)
    t = ((rgb - bg) * direction).sum(axis=-1) / length2
    off_line = np.sqrt((((rgb - bg) - t[..., None] * direction) ** 2).sum(axis=-1)) > 2 * tolerance
    share = np.where(off_line, 1.0, np.clip(t, 0, 1))
    share[distance <= tolerance] = 0
    return share.astype(np.float32)


def remove_specks(alpha: np.ndarray) -> np.ndarray:
    """uint8 ``alpha`` without tiny islands far from every larger part of the subject.

    An island is a connected patch of visible pixels (soft edge included, so a hair
    strand joined to the head by faint pixels is not an island). It goes when it is
    below ``SPECK_SHARE`` of the largest part and no larger part is within ``SPECK_GAP``
    of the diagonal: a button beside a shirt stays, a dust speck in the corner goes.
    """
    visible = alpha >= VISIBLE
    parts = label(visible)
    if parts.count < 2:
        return alpha
    small = parts.areas < SPECK_SHARE * parts.areas.max()
    small[0] = False
    if not small.any():
        return alpha
    ys, xs, ids = parts.pixels(small)  # only the islands' pixels: few
    # Distance test on a coarse grid: the gap is tens of pixels, a speck a few.
    h, w = alpha.shape
    gap = max(1, int(SPECK_GAP * np.hypot(h, w)))
    cell = max(1, gap // 4)
    visible[ys, xs] = False  # what is left is the larger parts
    large = Image.fromarray(visible.view(np.uint8) * np.uint8(255), "L")
    near = grow(np.asarray(large.reduce(cell)) > 0, -(-gap // cell))
    hits = np.bincount(ids, near[np.minimum(ys // cell, near.shape[0] - 1), np.minimum(xs // cell, near.shape[1] - 1)],
                       parts.areas.size)
    far = small & (hits == 0)
    if not far.any():
        return alpha
    out = alpha.copy()
    gone = far[ids]
    out[ys[gone], xs[gone]] = 0
    return out


def fill_pinholes(alpha: np.ndarray, photo: Image.Image | None = None) -> np.ndarray:
    """uint8 ``alpha`` with tiny enclosed transparent spots made opaque.

    A spot is tiny below ``PINHOLE_SHARE`` of the frame and must sit inside solid
    subject: gaps between strands of hair or fur sit in soft alpha and are real (filling
    them cost boundary F on the alphamatting set). With the photo given, a spot whose
    colour is the (uniform) background's is a real hole (a mesh, a buttonhole) and stays.
    """
    gaps = label(alpha < 128)
    if gaps.count < 2:
        return alpha
    tiny = gaps.areas <= max(1.0, PINHOLE_SHARE * alpha.size)
    tiny[0] = False
    tiny[gaps.on_border()] = False
    if not tiny.any():
        return alpha
    ys, xs, ids = gaps.pixels(tiny)
    y0, y1, x0, x1 = max(0, ys.min() - 2), ys.max() + 3, max(0, xs.min() - 2), xs.max() + 3
    ys, xs, window = ys - y0, xs - x0, alpha[y0:y1, x0:x1]
    fill = np.zeros(window.shape, bool)
    fill[ys, xs] = True
    inside_solid = shrink((window >= SOLID) | fill, 1)
    tiny &= np.bincount(ids, ~inside_solid[ys, xs], tiny.size) == 0
    if photo is not None and tiny.any():
        bg = background_colour(*downscale(photo, Image.fromarray(alpha, "L")))
        if bg is not None and bg[1] <= BG_BUSY:
            rgb = np.asarray(photo.crop((x0, y0, x1, y1)).convert("RGB"), np.float64)
            sums = np.stack([np.bincount(ids, rgb[ys, xs, c], tiny.size) for c in range(3)], -1)
            means = sums / np.maximum(gaps.areas, 1)[:, None]
            tiny &= np.sqrt(((means - bg[0]) ** 2).sum(axis=1)) > max(HOLE_MATCH, bg[1])
    if not tiny.any():
        return alpha
    fill = np.zeros_like(fill)
    keep = tiny[ids]
    fill[ys[keep], xs[keep]] = True
    ring = grow(fill, 1)  # the half-transparent rim of each spot too
    out = alpha.copy()
    part = out[y0:y1, x0:x1]
    part[ring & ((part >= 128) | fill)] = 255
    return out


def clean(photo: Image.Image, alpha: Image.Image, specks: bool = False, holes: bool = False) -> Image.Image:
    """The final mask after the clean-ups asked for: specks (and pinholes) and/or punched holes."""
    if holes:
        alpha = punch_holes(photo, alpha)
    if specks:
        arr = remove_specks(np.asarray(alpha))
        alpha = Image.fromarray(fill_pinholes(arr, photo), "L")
    return alpha
