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


def soft_blocks(soft: np.ndarray, tile: int, max_run: int = 0) -> list[tuple[int, int, int, int]]:
    """(top, left, bottom, right) blocks covering every ``soft`` pixel: runs of tile-sized tiles
    that contain one, merged along each tile row to save per-block overhead, at most
    ``max_run`` tiles long when given (so a block's float arrays stay small allocations).

    Edge work (decontamination, guided refinement) only needs these blocks: a product's
    soft edge is a thin curve through a mostly opaque or empty frame.
    """
    h, w = soft.shape
    rows, cols = -(-h // tile), -(-w // tile)
    padded = np.zeros((rows * tile, cols * tile), bool)
    padded[:h, :w] = soft
    has_soft = np.asarray(padded.reshape(rows, tile, cols, tile).any(axis=(1, 3)))
    blocks = []
    for ty in range(rows):
        tx = 0
        while tx < cols:
            if not has_soft[ty, tx]:
                tx += 1
                continue
            start = tx
            while tx < cols and has_soft[ty, tx] and not (max_run and tx - start == max_run):
                tx += 1
            blocks.append((ty * tile, start * tile, min(h, (ty + 1) * tile), min(w, tx * tile)))
    return blocks
