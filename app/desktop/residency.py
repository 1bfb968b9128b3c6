"""Which photos keep their pixels in memory, and where the others' masks go meanwhile.

The window can hold hundreds of photos; only the few most recently used keep their
decoded pixels and masks in memory (``Residency``). The others spill their masks into the
private session folder (``spill_mask``, readable by this user only) and read them back
when the photo is looked at again (``load_mask``).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from app.core.private import open_private, private_dir

if TYPE_CHECKING:
    from app.desktop.document import Document


def spill_mask(mask: np.ndarray, path: Path) -> None:
    """Write a mask into the session folder, readable by this user only."""
    private_dir(path.parent)
    with os.fdopen(open_private(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), "wb") as fh:
        Image.fromarray(mask, "L").save(fh, format="PNG", compress_level=1)


def load_mask(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        return np.array(img.convert("L"), dtype=np.uint8)



class Residency:
    """Keeps the pixels of the few most recently used documents in memory."""

    def __init__(self, keep: int = 4) -> None:
        self.keep = keep
        self._order: OrderedDict[str, Document] = OrderedDict()
        self._lock = threading.Lock()

    def touch(self, doc: Document) -> None:
        with self._lock:
            self._order.pop(doc.id, None)
            self._order[doc.id] = doc
            evict = []
            while len(self._order) > self.keep:
                evict.append(self._order.popitem(last=False)[1])
        for old in evict:
            if not old.evict():  # busy: try again at the next touch
                with self._lock:
                    self._order[old.id] = old
                    self._order.move_to_end(old.id, last=False)

    def drop(self, doc: Document) -> None:
        with self._lock:
            self._order.pop(doc.id, None)
