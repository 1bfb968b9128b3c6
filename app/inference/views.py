"""The model's answer for a photo from one or two views of it (``--views 1|2``).

One view: the photo, resized to the model's input. Two views add a second look, fused with
the first by confidence (app.core.fusion), chosen in docs/quality.md among the ones tried:

- ``zoom``: the photo cropped to the first answer's subject box plus a margin, so the
  subject fills more of the model's input and what lies far from it cannot distract it;
- ``mirror``: the photo's mirror image (one ``session.run`` with a batch of two).

Every caller (command line, window, hot folder, eval) goes through ``answer``, or ``prepare``
then ``finish`` when preparing the input runs on another thread than the model.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageOps

from app.core import fusion
from app.inference.engine import Engine

VIEWS = (1, 2)
DEFAULT_VIEWS = 1
SECOND_VIEW = "zoom"  # zoom | mirror | zoom-mirror (the crop, mirrored)
ZOOM_MARGIN = 0.10  # of the subject box's width and height, on each side
ZOOM_SIDE = 1024  # the crop's input size (longest side) where the model is resizable
ZOOM_WEIGHT = 1.0  # the crop's say against the whole photo's, inside its box


def check(views: int) -> int:
    if views not in VIEWS:
        raise ValueError(f"views must be 1 or 2, not {views!r}")
    return views


def prepare(engine: Engine, rgb: Image.Image) -> np.ndarray:
    """The model input for the photo's first view (safe on another thread than ``finish``)."""
    return engine.prepare(rgb)


def finish(engine: Engine, rgb: Image.Image, tensor: np.ndarray, views: int,
           second: str = SECOND_VIEW) -> np.ndarray:
    """The probability map (model resolution, over the whole photo) for ``views`` views of it,
    from its ``prepare``d input."""
    if check(views) == 1:
        return engine.infer(tensor)
    if second == "mirror":
        straight, mirrored = engine.infer_batch(np.concatenate([tensor, _mirror(engine, tensor)]))
        return fusion.fuse([straight, np.ascontiguousarray(mirrored[:, ::-1])])
    first = engine.infer(tensor)
    box = fusion.subject_box(first, rgb.size, ZOOM_MARGIN)
    if box is None:  # nothing to zoom in on: the first answer stands
        return first
    crop = rgb.crop(box)
    if second == "zoom-mirror":
        crop = ImageOps.mirror(crop)
    zoomed = engine.infer(engine.prepare(crop, _zoom_size(engine)))
    if second == "zoom-mirror":
        zoomed = np.ascontiguousarray(zoomed[:, ::-1])
    placed, covers = fusion.paste(zoomed, box, rgb.size, first.shape)
    return fusion.fuse([first, placed], [1.0, covers * np.float32(ZOOM_WEIGHT)])


def answer(engine: Engine, rgb: Image.Image, views: int = DEFAULT_VIEWS) -> np.ndarray:
    """The model's probability map for the photo (model resolution, 0..1)."""
    return finish(engine, rgb, prepare(engine, rgb), views)


def _mirror(engine: Engine, tensor: np.ndarray) -> np.ndarray:
    return np.flip(tensor, axis=-1 if engine.spec.input.layout == "NCHW" else -2)


def _zoom_size(engine: Engine) -> tuple[int, int] | None:
    """The crop's input size: ZOOM_SIDE square where the model allows it, else its own size."""
    if not engine.resizable:
        return None
    return (ZOOM_SIDE, ZOOM_SIDE)
