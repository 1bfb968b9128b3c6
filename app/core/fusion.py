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
