"""Edge-aware upsampling of the model's matte to the photo's full resolution.

The model sees the photo squeezed to 1024². A plain resize of its answer gives soft,
slightly misplaced edges (stair-stepped on large photos). A fast guided filter (He & Sun,
2015) fits, in every small window, the matte as a linear function of the photo's colour
at a working resolution, then applies the upsampled coefficients to the full-resolution
colours: edges snap to where the photo's colour actually changes. A final gentle
contrast curve settles the model's near-certain haze, leaving true soft edges (hair, motion
blur) soft because they are soft in the filter's output too.

Full resolution is only revisited in blocks around the soft edge, so a 100 MP photo needs
no full-size float copies and a 12 MP product shot costs a fraction of a full pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

from app.core import mask

# The filter is fitted at (at most) this long side. 512 scores the same as 1024 on every eval
# source (BF within ±0.002, bench/quality.py) at a quarter of the cost: the model's own answer
# carries no finer detail than this, the full-resolution pass below adds the photo's.
WORK_SIDE = 512
TILE = 128  # full-resolution block size for the soft-edge pass
# Blocks at most 4 tiles (128×512 px) wide keep each of their float arrays under the 1 MiB
# mmap threshold the CLI sets (app.allocator); whole-width runs on a 12 MP photo made every
# array a fresh mmap and doubled the kernel's page-fault time of a batch.
MAX_RUN = 4


@dataclass(frozen=True)
class RefineSettings:
    radius: int = 2  # window radius at the working resolution
    eps: float = 1e-4  # regularisation: larger = smoother, closer to the plain resize
    # alpha at or below ``low`` becomes 0, at or above ``high`` 1. A gentle curve: 0.2/0.8 gave
    # the same IoU/BF but hardened fur and hair (white-flatten error on composites +5 %).
    low: float = 0.05
    high: float = 0.95


def box_mean(x: np.ndarray, r: int, accumulate: type = np.float64) -> np.ndarray:
    """Mean over a (2r+1)² window (edges clamped), per channel, via summed-area tables.

    Sums accumulate in float64 by default: over a megapixel, float32 tables lose the
    small variances the guided filter divides by. Small tiles can use float32. The table
    is summed in place: every large temporary is a fresh mmap (app.allocator), so fewer
    of them is measurably less kernel time in a batch.
    """
    h, w = x.shape[:2]
    k = 2 * r + 1
    pad = ((r + 1, r), (r + 1, r)) + ((0, 0),) * (x.ndim - 2)
    table: np.ndarray = np.pad(x, pad, mode="edge").astype(accumulate, copy=False)
    table.cumsum(0, out=table)
    table.cumsum(1, out=table)
    total = table[k:k + h, k:k + w] - table[:h, k:k + w]
    total -= table[k:k + h, :w]
    total += table[:h, :w]
    total *= 1.0 / (k * k)
    return total.astype(np.float32, copy=False)


def guided_coefficients(guide: np.ndarray, p: np.ndarray, r: int, eps: float) -> np.ndarray:
    """Smoothed per-pixel (a_r, a_g, a_b, b) such that p ≈ a·guide + b locally (colour guide)."""
    mean_i = box_mean(guide, r)
    mean_p = box_mean(p, r)
    cov_ip = box_mean(guide * p[..., None], r) - mean_i * mean_p[..., None]

    def cov(i: int, j: int) -> np.ndarray:
        return box_mean(guide[..., i] * guide[..., j], r) - mean_i[..., i] * mean_i[..., j]

    rr, rg, rb = cov(0, 0) + eps, cov(0, 1), cov(0, 2)
    gg, gb, bb = cov(1, 1) + eps, cov(1, 2), cov(2, 2) + eps
    # inverse of the symmetric 3x3 covariance, by cofactors
    i_rr, i_rg, i_rb = gg * bb - gb * gb, gb * rb - rg * bb, rg * gb - gg * rb
    i_gg, i_gb, i_bb = rr * bb - rb * rb, rb * rg - rr * gb, rr * gg - rg * rg
    det = rr * i_rr + rg * i_rg + rb * i_rb
    c0, c1, c2 = cov_ip[..., 0], cov_ip[..., 1], cov_ip[..., 2]
    a0 = (i_rr * c0 + i_rg * c1 + i_rb * c2) / det
    a1 = (i_rg * c0 + i_gg * c1 + i_gb * c2) / det
    a2 = (i_rb * c0 + i_gb * c1 + i_bb * c2) / det
    b = mean_p - a0 * mean_i[..., 0] - a1 * mean_i[..., 1] - a2 * mean_i[..., 2]
    return box_mean(np.stack([a0, a1, a2, b], axis=-1), r)


def _work_size(size: tuple[int, int]) -> tuple[int, int]:
    w, h = size
    scale = min(1.0, WORK_SIDE / max(w, h))
    return max(1, round(w * scale)), max(1, round(h * scale))


def _curve(alpha: np.ndarray, s: RefineSettings) -> np.ndarray:
    """The contrast curve: ``low`` → 0, ``high`` → 255, as uint8."""
    gain = np.float32(255.0 / max(1e-6, s.high - s.low))
    return np.clip((alpha - np.float32(s.low)) * gain + np.float32(0.5), 0, 255).astype(np.uint8)


def refine_alpha(prob: np.ndarray, photo: Image.Image, settings: RefineSettings | None = None) -> Image.Image:
    """Full-resolution alpha (mode L) for ``photo`` from the model's probability map.

    The filter's answer at the working resolution already decides every pixel that ends
    up fully opaque or fully clear; only blocks around the soft edge are recomputed from
    the full-resolution colours.
    """
    s = settings or RefineSettings()
    full = photo.size
    work = _work_size(full)
    guide = np.asarray(photo.resize(work, Image.Resampling.BILINEAR, reducing_gap=3.0), np.float32) / 255.0
    p = np.asarray(Image.fromarray(prob.astype(np.float32), "F").resize(work, Image.Resampling.BILINEAR))
    coeffs = guided_coefficients(guide, p, s.radius, s.eps)
    low = _curve((coeffs[..., :3] * guide).sum(axis=-1) + coeffs[..., 3], s)
    if work == full:
        return Image.fromarray(low, "L")
    out = np.array(Image.fromarray(low, "L").resize(full, Image.Resampling.BILINEAR))
    # soft at the working resolution, widened by one pixel for the bilinear footprint
    soft_low = Image.fromarray(((low > 0) & (low < 255)).astype(np.uint8) * 255, "L")
    soft_low = soft_low.filter(ImageFilter.MaxFilter(3))
    soft = np.asarray(soft_low.resize(full, Image.Resampling.NEAREST)) > 0
    maps = [Image.fromarray(np.ascontiguousarray(coeffs[..., i]), "F") for i in range(4)]
    sx, sy = work[0] / full[0], work[1] / full[1]
    for y0, x0, y1, x1 in mask.soft_blocks(soft, TILE, MAX_RUN):
        box = (x0 * sx, y0 * sy, x1 * sx, y1 * sy)
        a = [np.asarray(m.resize((x1 - x0, y1 - y0), Image.Resampling.BILINEAR, box=box)) for m in maps]
        rgb = np.asarray(photo.crop((x0, y0, x1, y1)), np.float32) * np.float32(1 / 255)
        out[y0:y1, x0:x1] = _curve(a[0] * rgb[..., 0] + a[1] * rgb[..., 1] + a[2] * rgb[..., 2] + a[3], s)
    return Image.fromarray(out, "L")
