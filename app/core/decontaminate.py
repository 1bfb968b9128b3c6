"""Edge colour decontamination: the subject's true colour in its soft edge.

A semi-transparent edge pixel of the photo mixes subject and old background,
I = α·F + (1−α)·B. Exporting I with alpha α puts the old background in twice, which is
the grey or green rim people see after flattening onto white. We estimate F with blur
fusion (Forte & Pitié, "Approximate fast foreground colour estimation", ICIP 2021): a
large blur gives smooth guesses of the foreground and background colours around each
pixel, one compositing-equation correction step refines F, and a second, small blur
repeats it with those guesses.

Both blurs run at a working resolution (at most ``WORK_SIDE`` on the long side), where
they are cheap full-frame array operations. A larger photo keeps its own detail: what the
estimate changes at the working resolution (F minus the reduced photo, a smooth colour
shift) is upsampled and added to its soft pixels only, block by block, with Pillow's
resize, add and paste. That scores like a full-resolution correction step on the
composites (bench/quality.py) at about 0.15 s per 12 MP photo instead of 0.5 s; pasting
the upsampled estimate itself was as fast but blurred wide soft areas (motion blur, glass).
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageChops

from app.core import mask
from app.core.refine import box_mean

COARSE_RADIUS = 90  # at full resolution (scaled to the working size): the first pass
FINE_RADIUS = 3  # at the working resolution: the second pass
WORK_SIDE = 512  # both passes run at this long side (1024 scored the same, slower)
TILE = 64  # full-resolution block size of the correction step: soft edges are thin curves
EPS = 1e-5


def _fuse(image: np.ndarray, fg: np.ndarray, bg: np.ndarray, alpha: np.ndarray,
          r: int) -> tuple[np.ndarray, np.ndarray]:
    """One blur-fusion step on float arrays in 0..1: (F, blurred B).

    Sums accumulate in float32: these are means of colours (no variances), and at a megapixel
    their rounding stays under a tenth of an 8-bit level.
    """
    a = alpha[..., None]
    blur_a = box_mean(alpha, r, np.float32)[..., None]
    blur_f = box_mean(fg * a, r, np.float32) / (blur_a + EPS)
    blur_b = box_mean(bg * (1 - a), r, np.float32) / ((1 - blur_a) + EPS)
    f = blur_f + a * (image - a * blur_f - (1 - a) * blur_b)
    return np.clip(f, 0, 1), np.clip(blur_b, 0, 1)


def _scaled(rgb: Image.Image, alpha: Image.Image, side: int) -> tuple[Image.Image, Image.Image, float]:
    """Photo and alpha at (at most) ``side`` on the long side, and that scale."""
    w, h = rgb.size
    scale = min(1.0, side / max(w, h))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    if size == rgb.size:
        return rgb, alpha, 1.0
    return (rgb.resize(size, Image.Resampling.BILINEAR, reducing_gap=3.0),
            alpha.resize(size, Image.Resampling.BILINEAR, reducing_gap=3.0), scale)


def _working_estimate(rgb: Image.Image, alpha: Image.Image) -> tuple[Image.Image, np.ndarray]:
    """The reduced photo and F at the working resolution: a coarse pass (large blur) and a
    fine pass (small blur) on the same reduced photo, which is reduced once."""
    work_rgb, work_a, scale = _scaled(rgb, alpha, WORK_SIDE)
    img = np.asarray(work_rgb, np.float32) / 255
    a = np.asarray(work_a, np.float32) / 255
    f0, b0 = _fuse(img, img, img, a, max(1, round(COARSE_RADIUS * scale)))
    return work_rgb, _fuse(img, f0, b0, a, FINE_RADIUS)[0]


def estimate_foreground(rgb: Image.Image, alpha: Image.Image, low: int = 3, high: int = 252) -> Image.Image:
    """Photo colours with the soft edge (``low`` < α < ``high``) replaced by estimated subject colour."""
    a_all = np.asarray(alpha)
    soft = (a_all > low) & (a_all < high)
    if not soft.any():
        return rgb
    work_rgb, f = _working_estimate(rgb, alpha)
    if f.shape[:2] == a_all.shape:
        out = np.array(rgb)  # writable copy
        out[soft] = (f[soft] * 255 + 0.5).astype(np.uint8)
        return Image.fromarray(out, "RGB")
    # Larger photos: the working-resolution colour shift, upsampled, added to the soft pixels.
    # Signed shifts travel as uint8 around 128 (ImageChops.add's offset takes the 128 off).
    shift = np.clip(f * 255 - np.asarray(work_rgb, np.float32) + 128.5, 0, 255).astype(np.uint8)
    shift_img = Image.fromarray(shift, "RGB")
    result = rgb.copy()
    sx, sy = f.shape[1] / rgb.width, f.shape[0] / rgb.height
    soft_img = Image.fromarray(soft.view(np.uint8) * np.uint8(255), "L")
    for y0, x0, y1, x1 in mask.soft_blocks(soft, TILE):
        box = (x0 * sx, y0 * sy, x1 * sx, y1 * sy)
        block_shift = shift_img.resize((x1 - x0, y1 - y0), Image.Resampling.BILINEAR, box=box)
        fixed = ImageChops.add(rgb.crop((x0, y0, x1, y1)), block_shift, 1.0, -128)
        result.paste(fixed, (x0, y0), soft_img.crop((x0, y0, x1, y1)))
    return result
