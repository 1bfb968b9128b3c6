"""Cutout quality metrics against ground truth: IoU, MAE, SAD, boundary F and edge flatten error.

Pure numpy + Pillow so the maths is testable on tiny arrays without a model. Alphas are
float arrays in 0..1 (``as_alpha`` turns 8-bit masks into that); ``valid`` is a boolean
array that is False where the ground truth is unreliable (e.g. GrabCut's mixed-pixel
band) and those pixels are left out of IoU, MAE, SAD and the flatten error.

Conventions for degenerate inputs, so a set mean never turns into NaN: when there is
nothing to compare (both masks empty, or every pixel ignored) the prediction cannot be
wrong, so IoU and BF are 1 and MAE/SAD are 0.

Boundary F-measure (Martin et al.; the DAVIS ``F`` score): boundaries are the *internal
morphological gradient* of the mask binarised at 0.5 (mask minus its 3×3 erosion, a
1-pixel band just inside the object, with the image frame not counted as an edge). A
predicted boundary pixel is correct when a ground-truth boundary pixel lies within the
tolerance (Euclidean, a disk; by default 0.75 % of the image diagonal rounded up), and
vice versa for recall. The disk dilation is done row by row from a cumulative sum, so it
costs O(radius · pixels) instead of O(radius² · pixels) on large photos.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

BF_TOLERANCE = 0.0075  # share of the image diagonal
BAND_LOW, BAND_HIGH = 0.02, 0.98  # ground-truth alpha strictly between these is the edge band
BAND_RADIUS = 3  # px the edge band is widened by, so a prediction's halo just outside counts


@dataclass(frozen=True)
class Scores:
    """The metrics of one prediction; ``flatten_error`` is None without a true foreground layer."""

    iou: float
    mae: float
    sad: float
    bf: float
    flatten_error: float | None = None


def as_alpha(mask: Image.Image | np.ndarray) -> np.ndarray:
    """An 8-bit mask (L image or uint8 array, 255 = foreground) as float32 alpha in 0..1."""
    arr = np.asarray(mask)
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / np.float32(255.0)
    return np.clip(arr.astype(np.float32), 0.0, 1.0)


def _valid_or_all(valid: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
    return np.ones(shape, dtype=bool) if valid is None else np.asarray(valid, dtype=bool)


def iou(pred: np.ndarray, gt: np.ndarray, valid: np.ndarray | None = None) -> float:
    """Intersection over union of alpha >= 0.5; 1.0 when both are empty where valid."""
    keep = _valid_or_all(valid, gt.shape)
    p, g = (pred >= 0.5) & keep, (gt >= 0.5) & keep
    union = int(np.count_nonzero(p | g))
    return 1.0 if union == 0 else int(np.count_nonzero(p & g)) / union


def mae(pred: np.ndarray, gt: np.ndarray, valid: np.ndarray | None = None) -> float:
    """Mean absolute alpha error (0..1) over the valid pixels; 0.0 when none is valid."""
    keep = _valid_or_all(valid, gt.shape)
    count = int(np.count_nonzero(keep))
    return 0.0 if count == 0 else float(np.abs(pred - gt, dtype=np.float64)[keep].sum() / count)


def sad(pred: np.ndarray, gt: np.ndarray, valid: np.ndarray | None = None) -> float:
    """Sum of absolute alpha differences over the valid pixels, in thousands (matting convention)."""
    keep = _valid_or_all(valid, gt.shape)
    return float(np.abs(pred - gt, dtype=np.float64)[keep].sum() / 1000.0)


def boundary(binary: np.ndarray) -> np.ndarray:
    """Pixels of a boolean mask with a background pixel among their 8 neighbours.

    Done with Pillow's 3×3 MinFilter (an erosion); Pillow pads by repeating the edge, so
    an object touching the image frame has no boundary along the frame.
    """
    img = Image.fromarray(np.where(binary, 255, 0).astype(np.uint8), "L")
    eroded = np.asarray(img.filter(ImageFilter.MinFilter(3))) > 0
    return binary & ~eroded


def dilate_disk(binary: np.ndarray, radius: int) -> np.ndarray:
    """Every pixel within Euclidean ``radius`` of a True pixel (dilation by a disk)."""
    if radius <= 0 or not binary.any():
        return binary.copy()
    h, w = binary.shape
    # Horizontal run counts from one cumulative sum: any True in [x-k, x+k] for any k.
    padded = np.zeros((h, w + 2 * radius + 1), dtype=np.int32)
    padded[:, radius + 1: radius + 1 + w] = binary
    csum = np.cumsum(padded, axis=1)
    out = np.zeros((h, w), dtype=bool)
    for dy in range(-radius, radius + 1):
        k = math.isqrt(radius * radius - dy * dy)
        x0 = radius + 1  # column of image x = 0 in ``padded``
        row_hit = (csum[:, x0 + k: x0 + k + w] - csum[:, x0 - k - 1: x0 - k - 1 + w]) > 0
        # out[y] |= row_hit[y + dy]
        if dy >= 0:
            out[: h - dy] |= row_hit[dy:]
        else:
            out[-dy:] |= row_hit[: h + dy]
    return out


def bf_tolerance(shape: tuple[int, int], share: float = BF_TOLERANCE) -> int:
    """Tolerance in pixels: ``share`` of the image diagonal, rounded up, at least 1."""
    return max(1, math.ceil(share * math.hypot(*shape)))


def boundary_f(pred: np.ndarray, gt: np.ndarray, tolerance: int | None = None) -> float:
    """Boundary F-measure of alpha >= 0.5 at ``tolerance`` px (default: 0.75 % of the diagonal)."""
    radius = bf_tolerance(gt.shape) if tolerance is None else tolerance
    pb, gb = boundary(pred >= 0.5), boundary(gt >= 0.5)
    n_pred, n_gt = int(np.count_nonzero(pb)), int(np.count_nonzero(gb))
    if n_pred == 0 and n_gt == 0:
        return 1.0
    if n_pred == 0 or n_gt == 0:
        return 0.0
    precision = np.count_nonzero(pb & dilate_disk(gb, radius)) / n_pred
    recall = np.count_nonzero(gb & dilate_disk(pb, radius)) / n_gt
    if precision + recall == 0:
        return 0.0
    return float(2 * precision * recall / (precision + recall))


def edge_band(gt: np.ndarray, radius: int = BAND_RADIUS) -> np.ndarray:
    """Where the ground truth is partly transparent (hair, fur, motion blur), widened by ``radius``."""
    soft = (gt > BAND_LOW) & (gt < BAND_HIGH)
    return dilate_disk(soft, radius)


def white_flatten(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """fg·α + 255·(1−α) per channel, float 0..255: what a flatten-to-white export shows."""
    a = alpha[..., None]
    return rgb.astype(np.float32) * a + np.float32(255.0) * (1 - a)


def flatten_error(
    photo: np.ndarray,
    pred: np.ndarray,
    true_fg: np.ndarray,
    gt: np.ndarray,
    valid: np.ndarray | None = None,
    radius: int = BAND_RADIUS,
) -> float | None:
    """Mean |flatten(photo, pred) − flatten(true_fg, gt)| (0..255) over the edge band.

    ``photo`` is the exported colour (the photo's own pixels, background spill included);
    ``true_fg`` is the clean foreground colour. None when the band is empty (a hard mask).
    """
    band = edge_band(gt, radius) & _valid_or_all(valid, gt.shape)
    if not band.any():
        return None
    diff = np.abs(white_flatten(photo[band], pred[band]) - white_flatten(true_fg[band], gt[band]))
    return float(diff.mean())


def score(
    pred: np.ndarray,
    gt: np.ndarray,
    valid: np.ndarray | None = None,
    photo: np.ndarray | None = None,
    true_fg: np.ndarray | None = None,
) -> Scores:
    """All metrics for one prediction (the flatten error only when both colour layers are given)."""
    if pred.shape != gt.shape:
        raise ValueError(f"prediction {pred.shape} and ground truth {gt.shape} differ in size")
    flat = None
    if photo is not None and true_fg is not None:
        flat = flatten_error(photo, pred, true_fg, gt, valid)
    return Scores(iou(pred, gt, valid), mae(pred, gt, valid), sad(pred, gt, valid), boundary_f(pred, gt), flat)
