"""The window's quick first look: the same model at a reduced input size.

A resizable model (manifest ``input.resizable``) answers at 640² in about a third of its
time at 1024² (quality against the eval sets: ``bench/preview_size.py``, docs/architecture.md),
which is enough to show the cutout within about a second while the full answer
(``app.inference.views``) is computed. A model that only runs at its own size has no quick
pass: ``size_for`` says None and the window waits for the full answer.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

from app.inference.manifest import ModelSpec

QUICK_SIDE = 640  # the knee of quality per second measured by bench/preview_size.py (docs/architecture.md)
MULTIPLE = 32  # ISNet halves its input five times: sides stay whole at every level


def size_for(spec: ModelSpec, side: int = QUICK_SIDE) -> tuple[int, int] | None:
    """The quick pass's input size (width, height) for ``spec``, or None when it has none:
    the model only runs at its own size, or that is already no larger than ``side``."""
    if not spec.input.resizable:
        return None
    width, height = spec.input.size
    scale = side / max(width, height)
    if scale >= 1:
        return None
    return (max(MULTIPLE, round(width * scale / MULTIPLE) * MULTIPLE),
            max(MULTIPLE, round(height * scale / MULTIPLE) * MULTIPLE))


def quick_look(engine: Any, rgb: Image.Image) -> np.ndarray | None:
    """The model's probability map for the photo from the quick pass (at the quick size:
    ``app.batch.pipeline.alpha_for`` takes it to the photo's size), or None without one."""
    size = size_for(engine.spec)
    if size is None:
        return None
    return np.asarray(engine.infer(engine.prepare(rgb, size=size)))
