"""Alpha mattes: from the model's low-resolution probability map to a full-size mask."""

from __future__ import annotations

import numpy as np
from PIL import Image


def to_uint8(prob: np.ndarray) -> np.ndarray:
    """Probability in 0..1 (any float dtype) -> uint8 0..255, rounded."""
    return (np.clip(prob, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def upscale(prob: np.ndarray, size: tuple[int, int]) -> Image.Image:
    """Resize a model-resolution probability map to ``size`` (width, height) as an L image."""
    small = Image.fromarray(to_uint8(prob), "L")
    if small.size == size:
        return small
    return small.resize(size, Image.Resampling.BILINEAR)


def combine(alpha: Image.Image, source_alpha: Image.Image | None) -> Image.Image:
    """Keep pixels the source itself made transparent transparent (multiply the two)."""
    if source_alpha is None:
        return alpha
    from PIL import ImageChops

    return ImageChops.multiply(alpha, source_alpha)


def subject_box(alpha: Image.Image, threshold: int = 8) -> tuple[int, int, int, int] | None:
    """Bounding box (left, top, right, bottom) of pixels more opaque than ``threshold``."""
    return alpha.point(lambda v: 255 if v > threshold else 0).getbbox()
