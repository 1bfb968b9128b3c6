"""How sharp and how clean a photo is where it matters for a cutout: along the subject's outline.

Measured on a copy with the long side at ``EDGE_SIDE`` (what a product image shows), so a
12 MP photo's fine grain does not count, only blur and noise a viewer would see. Two numbers:

- **edge width**: across the outline, the local contrast between the subject and the
  background divided by the steepest luminance step near the mask's edge. A sharp edge
  measures about 2 px (central differences spread a one-pixel step over two); a Gaussian
  blur of sigma s about 2.5·s;
- **noise**: the standard deviation of the luminance grain on the flat half of the photo, from
  the Immerkær Laplacian difference (robust median form), which a smooth shade leaves at zero.
  (Independent grain of sigma s in each of R, G and B is about 0.67·s in luminance.)

Pure numpy + Pillow (app.core).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from app.core.morphology import grow, shrink
from app.core.refine import box_mean

EDGE_SIDE = 1024
SEARCH = 3  # px either side of the mask's outline where the photo's own edge may be
OFFSET = 5  # px into the subject / background where the local colours are taken
LOCAL = 10  # window radius for those local colours
MIN_CONTRAST = 40.0  # luminance (0..255) between subject and background for an outline pixel to count
MIN_OUTLINE = 60  # outline pixels needed to judge the edge
NOISE_KERNEL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
MAD_TO_SIGMA = 1 / 0.6745  # median absolute deviation of a normal distribution → its sigma
# Grain steepens the steepest step near an edge by about its own sigma (blurred synthetic edges with
# luminance grain of sigma 5 to 17: 1.0 to 1.9 sigma); taken off, so a noisy photo does not pass as sharp.
NOISE_GRADIENT = 1.35


@dataclass(frozen=True)
class EdgeMeasure:
    width: float | None  # px at EDGE_SIDE; None: too little contrasted outline to judge
    noise: float  # 0..255


def _luminance(photo: Image.Image, alpha: Image.Image) -> tuple[np.ndarray, np.ndarray]:
    factor = max(1, -(-max(photo.size) // EDGE_SIDE))
    if factor > 1:  # reduce() first: no full-size float copy of a large photo
        photo, alpha = photo.reduce(factor), alpha.reduce(factor)
    grey = np.asarray(photo.convert("L"), np.float32)
    return grey, np.asarray(alpha.convert("L"), np.float32) / np.float32(255)


def _local_max(x: np.ndarray, r: int) -> np.ndarray:
    """Maximum over a (2r+1)² square, separably (edges repeat)."""
    out = x.copy()
    for axis in (0, 1):
        src = np.pad(out, [(r, r) if a == axis else (0, 0) for a in (0, 1)], mode="edge")
        n = x.shape[axis]
        out = np.max([np.take(src, range(d, d + n), axis=axis) for d in range(2 * r + 1)], axis=0)
    return out


def _filter3(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """A 3×3 correlation over the interior (the border row and column are dropped)."""
    h, w = x.shape
    out = np.zeros((h - 2, w - 2), np.float32)
    for dy in range(3):
        for dx in range(3):
            if kernel[dy, dx]:
                out += kernel[dy, dx] * x[dy:dy + h - 2, dx:dx + w - 2]
    return out


def noise_level(grey: np.ndarray) -> float:
    """Grain (standard deviation, 0..255) on the flat half of a greyscale picture."""
    if min(grey.shape) < 8:
        return 0.0
    response = np.abs(_filter3(grey, NOISE_KERNEL))
    gy, gx = np.gradient(grey)
    steep = np.hypot(gx, gy)[1:-1, 1:-1]
    flat = steep <= np.median(steep)  # texture and edges out; grain stays (it is everywhere)
    # the kernel's response to white noise of sigma s has standard deviation 6·s
    return float(np.median(response[flat]) * MAD_TO_SIGMA / 6)


def edge_width(grey: np.ndarray, alpha: np.ndarray, noise: float = 0.0) -> float | None:
    """Median width (px) of the photo's own edge along the well-contrasted parts of the mask's outline;
    ``noise``: the photo's grain (``noise_level``), whose share of the steepest steps is taken off."""
    subject = alpha >= 0.5
    outline = subject & ~shrink(subject, 1)
    inside, outside = shrink(alpha >= 0.95, OFFSET), shrink(alpha <= 0.05, OFFSET)
    if outline.sum() < MIN_OUTLINE or not inside.any() or not outside.any():
        return None
    gy, gx = np.gradient(grey)
    steepest = _local_max(np.hypot(gx, gy), SEARCH) - NOISE_GRADIENT * noise
    stacked = np.stack([grey * inside, grey * outside, inside, outside], axis=-1).astype(np.float32)
    means = box_mean(stacked, LOCAL, np.float32)
    w_in, w_out = means[..., 2], means[..., 3]
    contrast = np.abs(means[..., 0] / np.maximum(w_in, 1e-6) - means[..., 1] / np.maximum(w_out, 1e-6))
    usable = outline & (w_in > 0.05) & (w_out > 0.05) & (contrast >= MIN_CONTRAST) & (steepest > 0)
    if usable.sum() < MIN_OUTLINE:
        return None
    return float(np.median(contrast[usable] / steepest[usable]))


def measure_edges(photo: Image.Image, alpha: Image.Image) -> EdgeMeasure | None:
    """Edge width and noise of ``photo`` around the outline of ``alpha`` (same size); None: no subject."""
    grey, small_alpha = _luminance(photo, alpha)
    if not (small_alpha >= 0.5).any():
        return None
    band = grow(small_alpha >= 0.5, 3 * LOCAL) & ~shrink(small_alpha >= 0.5, 3 * LOCAL)
    ys, xs = np.nonzero(band)
    box = np.s_[ys.min():ys.max() + 1, xs.min():xs.max() + 1]  # the work around the outline only
    noise = noise_level(grey)
    return EdgeMeasure(edge_width(grey[box], small_alpha[box], noise), noise)
