"""Fusing the model's answers on several views of one photo into one probability map.

The answers are averaged in logit space, each pixel weighted by how sure each view is there
(|logit|): where one view is confident and another unsure, the confident one decides; where
both are sure and disagree, the surer one wins. A plain mean of probabilities instead drags
a confident 0.99 to 0.75 whenever the other view hesitates at 0.5, which shows as grey
haze in the exported alpha (docs/quality.md: plain averaging raised coco's MAE).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

EPS = np.float32(1e-4)  # keeps logits finite: probability 1e-4 ↔ logit ±9.2


def logit(prob: np.ndarray) -> np.ndarray:
    p = np.clip(prob.astype(np.float32, copy=False), EPS, np.float32(1) - EPS)
    return np.log(p / (np.float32(1) - p))


def sigmoid(z: np.ndarray) -> np.ndarray:
    return (np.float32(1) / (np.float32(1) + np.exp(-z))).astype(np.float32, copy=False)


def fuse(probs: Sequence[np.ndarray], weights: Sequence[np.ndarray | float] | None = None) -> np.ndarray:
    """One probability map from several same-shaped ones (confidence-weighted logit mean).

    ``weights`` (a number or a map per view, default 1) scale each view's say, e.g. 0 outside
    the part of the frame a view covers."""
    if not probs:
        raise ValueError("nothing to fuse")
    if len(probs) == 1:
        return probs[0]
    total = np.zeros(probs[0].shape, np.float32)
    norm = np.full(probs[0].shape, np.float32(1e-6))
    for i, prob in enumerate(probs):
        z = logit(prob)
        w = np.abs(z) * np.float32(1 if weights is None else weights[i])
        total += w * z
        norm += w
    return sigmoid(total / norm)


Box = tuple[int, int, int, int]  # left, top, right, bottom in photo pixels


def subject_box(prob: np.ndarray, size: tuple[int, int], margin: float = 0.10,
                threshold: float = 0.5) -> Box | None:
    """The photo's pixels around what a first pass called subject: the bounding box of
    ``prob`` > ``threshold`` (a map over the whole frame), grown by ``margin`` of its own width
    and height on each side and clipped to the photo ``size`` (width, height). None when
    nothing is subject or the box would be too small to look at again (under 16 px)."""
    rows = np.flatnonzero((prob > threshold).any(axis=1))
    cols = np.flatnonzero((prob > threshold).any(axis=0))
    if rows.size == 0:
        return None
    gh, gw = prob.shape
    width, height = size
    x0, x1 = cols[0] / gw, (cols[-1] + 1) / gw
    y0, y1 = rows[0] / gh, (rows[-1] + 1) / gh
    mx, my = (x1 - x0) * margin, (y1 - y0) * margin
    snug = 1e-6  # floating-point noise must not widen the box by a pixel
    box = (int(max(0.0, x0 - mx) * width + snug), int(max(0.0, y0 - my) * height + snug),
           int(np.ceil(min(1.0, x1 + mx) * width - snug)), int(np.ceil(min(1.0, y1 + my) * height - snug)))
    if box[2] - box[0] < 16 or box[3] - box[1] < 16:
        return None
    return box


def paste(crop_prob: np.ndarray, box: Box, size: tuple[int, int],
          grid: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """A crop's answer placed back into the frame: (probability map, weight map) on the frame's
    ``grid`` (rows, cols), the crop's ``box`` given in the photo's pixels (``size`` width, height).
    The weight is 1 where the crop has a say and 0 elsewhere, for ``fuse``."""
    gh, gw = grid
    width, height = size
    left, top = round(box[0] * gw / width), round(box[1] * gh / height)
    right = max(left + 1, min(gw, round(box[2] * gw / width)))
    bottom = max(top + 1, min(gh, round(box[3] * gh / height)))
    placed = Image.fromarray(crop_prob.astype(np.float32, copy=False), "F").resize(
        (right - left, bottom - top), Image.Resampling.BILINEAR)
    prob = np.full(grid, np.float32(0.5))
    weight = np.zeros(grid, np.float32)
    prob[top:bottom, left:right] = np.asarray(placed)
    weight[top:bottom, left:right] = 1.0
    return prob, weight
