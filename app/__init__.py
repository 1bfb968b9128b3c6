"""Knockout: remove image backgrounds entirely on this machine.

Library use::

    >>> from app import remove_background
    >>> from app.paths import sample_photo
    >>> cutout = remove_background(sample_photo())
    >>> cutout.mode, cutout.size
    ('RGBA', (600, 400))
    >>> remove_background(sample_photo(), background="white").mode
    'RGB'
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["__version__", "remove_background"]

if TYPE_CHECKING:
    from PIL import Image

_engines: dict[tuple[str | None, str], Any] = {}
_engines_lock = threading.Lock()


def remove_background(
    image: str | os.PathLike[str] | bytes | Image.Image,
    *,
    background: str | tuple[int, int, int] | None = None,
    mask_only: bool = False,
    model: str | None = None,
    device: str = "auto",
) -> Image.Image:
    """Cut out ``image`` (a path, the file's bytes, or a PIL image) and return a PIL image.

    Transparent RGBA by default; RGB flattened onto ``background`` when given; the 8-bit
    mask (mode L) with ``mask_only``. The model is loaded once per process and reused.
    """
    from PIL import Image as PILImage

    from app.batch.pipeline import cut_image
    from app.core.decode import Decoded, open_image
    from app.core.export import ExportSettings, parse_colour
    from app.inference.engine import Engine

    with _engines_lock:
        engine = _engines.get((model, device))
        if engine is None:
            engine = _engines[(model, device)] = Engine(model=model, device=device)
    if isinstance(image, PILImage.Image):
        rgba = image.convert("RGBA")
        alpha = rgba.getchannel("A")
        lowest = alpha.getextrema()[0]
        decoded = Decoded(rgba.convert("RGB"), alpha if lowest != 255 else None, "PIL", image.mode, "assumed sRGB")
    else:
        decoded = open_image(image)
    colour = parse_colour(background) if isinstance(background, str) else background
    settings = ExportSettings(background=colour, mask_only=mask_only)
    return cut_image(engine, decoded, settings)
