"""The model's answer for a photo from one or two views of it (``--views 1|2``).

Two views: the photo and its mirror image, run as one batch of two when the model allows it,
their answers fused by confidence (app.core.fusion). Every caller (command line, window, hot
folder, eval) goes through ``answer``, or ``prepare`` then ``finish`` when preparing the input
runs on another thread than the model.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from app.core import fusion
from app.inference.engine import Engine

VIEWS = (1, 2)
DEFAULT_VIEWS = 1


def check(views: int) -> int:
    if views not in VIEWS:
        raise ValueError(f"views must be 1 or 2, not {views!r}")
    return views


def prepare(engine: Engine, rgb: Image.Image) -> np.ndarray:
    """The model input for the photo's first view (safe on another thread than ``finish``)."""
    return engine.prepare(rgb)


def finish(engine: Engine, rgb: Image.Image, tensor: np.ndarray, views: int) -> np.ndarray:
    """The probability map for ``views`` views of the photo, from its ``prepare``d input."""
    del rgb  # the mirror view needs only the tensor
    if check(views) == 1:
        return engine.infer(tensor)
    width_axis = 3 if engine.spec.input.layout == "NCHW" else 2
    pair = np.concatenate([tensor, np.flip(tensor, axis=width_axis)])
    straight, mirrored = engine.infer_batch(pair)
    return fusion.fuse([straight, np.ascontiguousarray(mirrored[:, ::-1])])


def answer(engine: Engine, rgb: Image.Image, views: int = DEFAULT_VIEWS) -> np.ndarray:
    """The model's probability map for the photo (model resolution, 0..1)."""
    return finish(engine, rgb, prepare(engine, rgb), views)
