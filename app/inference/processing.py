"""Pre- and post-processing, driven entirely by a model's manifest fields."""

from __future__ import annotations

import numpy as np
from PIL import Image

from app.inference.manifest import InputSpec, OutputSpec


def preprocess(rgb: Image.Image, spec: InputSpec, size: tuple[int, int] | None = None) -> np.ndarray:
    """Photo -> float32 tensor (1, 3, H, W) or (1, H, W, 3), normalised per the manifest, at
    ``size`` (width, height; the manifest's size when None)."""
    if rgb.mode != "RGB":  # L, P, RGBA...: the model sees colour only
        rgb = rgb.convert("RGB")
    small = rgb.resize(size or spec.size, Image.Resampling.BILINEAR, reducing_gap=3.0)
    arr = np.asarray(small, dtype=np.float32)
    if spec.channels == "BGR":
        arr = arr[..., ::-1]
    mean = np.asarray(spec.mean, dtype=np.float32)
    inv_std = np.float32(1.0) / np.asarray(spec.std, dtype=np.float32)
    arr = (arr - mean) * inv_std
    if spec.layout == "NCHW":
        arr = arr.transpose(2, 0, 1)
    return np.ascontiguousarray(arr[np.newaxis], dtype=np.float32)


def postprocess_batch(raw: np.ndarray, spec: OutputSpec) -> list[np.ndarray]:
    """A batch's output (N, ...) -> one probability map per photo."""
    return [postprocess(raw[i : i + 1], spec) for i in range(raw.shape[0])]


def postprocess(raw: np.ndarray, spec: OutputSpec) -> np.ndarray:
    """Model output -> (H, W) float32 probability of foreground in 0..1."""
    pred: np.ndarray = np.asarray(raw, dtype=np.float32)
    while pred.ndim > 2 and pred.shape[0] == 1:
        pred = pred[0]
    if pred.ndim == 3:  # (C, H, W) or (H, W, C), told apart by the shorter end axis; channel 0 is the matte
        pred = pred[0] if pred.shape[0] <= pred.shape[-1] else pred[..., 0]
    if pred.ndim != 2:
        raise ValueError(f"unexpected model output shape {raw.shape}")
    if spec.activation == "sigmoid":
        with np.errstate(over="ignore"):  # exp(-x) overflows to inf for x << 0: sigmoid is 0
            pred = 1.0 / (1.0 + np.exp(-pred))
    if spec.normalize == "minmax":
        lo, hi = float(pred.min()), float(pred.max())
        pred = (pred - lo) / (hi - lo) if hi > lo else np.zeros_like(pred)
    return np.clip(pred, 0.0, 1.0)  # a new array: ``raw`` may be read-only or the caller's
