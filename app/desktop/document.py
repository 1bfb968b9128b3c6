"""One photo open in the editor: its full-resolution mask, edits with undo/redo, and the
pictures the page asks for (thumbnail, preview, tiles).

Only a few documents keep their pixels in memory (``Residency``); the rest keep just a
losslessly compressed copy of their mask in the session folder (0600 files in a 0700
folder) and decode the photo again from its source when the user comes back to it, so a
queue of hundreds of 12 MP photos does not need gigabytes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from app.core import brush
from app.core.compose import Cutout
from app.core.decode import DEFAULT_MAX_PIXELS, Decoded, open_image, thumbnail
from app.core.errors import NotFound, NotReady
from app.desktop import pictures
from app.desktop.answers import EditAnswer, EditState, Item
from app.desktop.history import Edit, History
from app.desktop.pictures import VIEWS, ShrunkPhoto
from app.desktop.residency import Residency, load_mask, spill_mask
from app.desktop.reviewing import PhotoReview

if TYPE_CHECKING:
    from app.batch.pipeline import Provenance

TILE = 512
PREVIEW = 2048
FIRST_LOOK = 1024
THUMB = 160


@dataclass
class Document:
    """A queued photo and, once cut out, its editable mask.

    A first look (``attach_preview``) makes it editable before it is finished: strokes on the
    preview are kept and re-applied to the full answer when ``attach`` swaps it in, since the
    person painted on the subject, not on that version of its mask."""

    id: str
    path: Path
    name: str
    spill_dir: Path
    max_pixels: int = DEFAULT_MAX_PIXELS
    state: str = "queued"
    progress: float = 0.0
    message: str | None = None
    code: str | None = None  # the failure's KnockoutError code: the window words it in its language
    flags: list[dict[str, str]] = field(default_factory=list)
    width: int | None = None
    height: int | None = None
    version: int = 0
    previewing: bool = False  # the mask shown is the quick first look; the full answer is still to come
    exif: bytes | None = None
    then: Callable[[Document], None] | None = field(default=None, repr=False)  # see JobRunner.add
    provenance: Provenance | None = None  # how its mask was made, for the audit record (see attach)
    residency: Residency | None = field(default=None, repr=False)  # who keeps its pixels in memory
    review: PhotoReview = field(default_factory=PhotoReview)  # to check, approved or rejected (app.desktop.reviewing)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _rgb: Image.Image | None = field(default=None, repr=False)
    _decoded: Decoded | None = field(default=None, repr=False)  # kept from the quick pass for the full one
    _alpha: np.ndarray | None = field(default=None, repr=False)
    _model: np.ndarray | None = field(default=None, repr=False)  # the model's mask, for "Reset"
    _history: History = field(default_factory=History, repr=False)
    _cache: dict[tuple[object, ...], tuple[bytes, str]] = field(default_factory=dict, repr=False)
    _thumb: bytes | None = field(default=None, repr=False)
    _shrunk: ShrunkPhoto | None = field(default=None, repr=False)  # the photo at the sizes the page asked for
    _first_look_made: threading.Event = field(default_factory=threading.Event, repr=False)

    # -- state shown in the queue -------------------------------------------------
    @property
    def finished(self) -> bool:
        return self.state in ("done", "flagged")

    @property
    def has_mask(self) -> bool:
        """A mask to show and paint on: the finished one, or the first look before it."""
        return self.finished or self.previewing

    def as_item(self) -> Item:
        return {"id": self.id, "name": self.name, "path": str(self.path), "state": self.state,
                "progress": round(self.progress, 3), "message": self.message, "code": self.code,
                "flags": list(self.flags),
                "width": self.width, "height": self.height, "version": self.version, "preview": self.previewing,
                "review": self.review.as_item()}

    # -- pixels -------------------------------------------------------------------
    def decode(self) -> Decoded:
        """Decode the source (orientation, colour profile → sRGB, size guard)."""
        return open_image(self.path, self.max_pixels, self.name)

    def decoded(self) -> Decoded:
        """The decoded source: kept from the quick pass while in memory, else decoded again."""
        with self.lock:
            if self._decoded is None:
                self._decoded = self.decode()
            return self._decoded

    def attach_preview(self, decoded: Decoded, alpha: Image.Image) -> None:
        """Show the quick first look as the mask (editable) until ``attach`` brings the full answer."""
        with self.lock:
            self._keep(decoded, alpha)
            self.previewing = True
            self._first_look_made.clear()
            self._changed()
        self._touch()

    def wait_first_look_made(self, timeout: float) -> bool:
        """Wait (at most ``timeout`` s) until the page has been given the first look's picture:
        the full answer, started at once, would take the cores the picture needs to be made."""
        return self._first_look_made.wait(timeout)

    def attach(self, decoded: Decoded, alpha: Image.Image, flags: list[dict[str, str]],
               provenance: Provenance | None = None) -> None:
        """Keep the finished cutout: the photo, the model's mask, the quality flags and how it was made.

        Over a preview, the strokes painted on it (those not undone) are painted again on the
        new mask, each still one undoable step."""
        with self.lock:
            replay = self._history.strokes() if self.previewing else []
            self.provenance = provenance
            self._keep(decoded, alpha)
            self._decoded = None  # the full answer is made: the document keeps only the photo
            self.previewing = False
            self.flags = flags
            self.state = "flagged" if flags else "done"
            self.progress = 1.0
            self.message = None
            for stroke in replay:
                applied = brush.apply(self._alpha, stroke)  # type: ignore[arg-type]
                if applied is not None:
                    self._history.push(Edit(applied[0], applied[1], stroke=stroke), keep_all=True)
            self._changed()
        self._touch()

    def drop_preview(self) -> None:
        """Forget a first look whose full answer will not come (stopped, failed): no mask, no edits."""
        with self.lock:
            if not self.previewing:
                return
            self.previewing = False
            self._alpha = self._model = self._decoded = None
            for kind in ("model", "mask"):
                self._spill_path(kind).unlink(missing_ok=True)
            self._history.clear()
            self._changed()

    def _keep(self, decoded: Decoded, alpha: Image.Image) -> None:
        self._rgb = decoded.image
        self._decoded = decoded
        self._alpha = np.array(alpha, dtype=np.uint8)
        self.exif = decoded.exif
        self.width, self.height = decoded.size
        self._model = self._alpha.copy()  # written to the session folder only when evicted
        self._spill_path("model").unlink(missing_ok=True)
        self._spill_path("mask").unlink(missing_ok=True)
        self._history.clear()

    def rgb(self) -> Image.Image:
        with self.lock:
            if self._rgb is None:  # before the cutout, one decode serves the page and the worker
                self._rgb = (self.decode() if self.finished else self.decoded()).image
            self._touch()
            return self._rgb

    def alpha(self) -> np.ndarray:
        with self.lock:
            if not self.has_mask:
                raise NotReady.cutout(self.name)
            if self._alpha is None:
                spilled = self._spill_path("mask")
                self._alpha = load_mask(spilled) if spilled.exists() else self.model_alpha().copy()
            self._touch()
            return self._alpha

    def model_alpha(self) -> np.ndarray:
        with self.lock:
            if self._model is None:
                self._model = load_mask(self._spill_path("model"))
            return self._model

    def cutout(self) -> Cutout:
        """The photo and its current mask; the mask shares the document's pixels (hold ``lock``)."""
        with self.lock:
            return Cutout(self.rgb(), Image.fromarray(self.alpha(), "L"))

    def snapshot(self) -> Cutout:
        """The cutout as it is now, safe to use without the lock: edits go on meanwhile (an export).
        Never a preview's: what is written is the full answer."""
        with self.lock:
            if not self.finished:
                raise NotReady.cutout(self.name)
            return Cutout(self.rgb(), Image.fromarray(self.alpha().copy(), "L"))

    def evict(self) -> bool:
        """Drop the pixels from memory (an edited mask goes to the session folder first).

        Gives up (returns False) if another thread is using the document right now."""
        if not self.lock.acquire(blocking=False):
            return False
        try:
            if self._model is not None and not self._spill_path("model").exists():
                spill_mask(self._model, self._spill_path("model"))
            if self._alpha is not None and (self._history.undo or self._spill_path("mask").exists()):
                spill_mask(self._alpha, self._spill_path("mask"))
            self._model = None
            self._alpha = None
            self._rgb = self._shrunk = None
            self._decoded = None
            self._cache.clear()
            return True
        finally:
            self.lock.release()

    def forget(self) -> None:
        """Removed from the queue: free memory and delete its session files."""
        with self.lock:
            self._alpha = None
            self._model = None
            self._rgb = self._shrunk = None
            self._decoded = None
            self._cache.clear()
            for kind in ("model", "mask"):
                self._spill_path(kind).unlink(missing_ok=True)

    def _spill_path(self, kind: str) -> Path:
        return self.spill_dir / f"{self.id}-{kind}.png"

    def _touch(self) -> None:
        if self.residency is not None:
            self.residency.touch(self)

    def _changed(self) -> None:
        self.version += 1
        self._cache.clear()
        self._thumb = None

    # -- edits --------------------------------------------------------------------
    def edit_state(self) -> EditState:
        return {"version": self.version, "can_undo": bool(self._history.undo), "can_redo": bool(self._history.redo)}

    def stroke(self, stroke: brush.Stroke) -> EditAnswer:
        with self.lock:
            alpha = self.alpha()
            applied = brush.apply(alpha, stroke)
            if applied is None:
                return {**self.edit_state(), "box": None}
            box, before = applied
            self._push(Edit(box, before, stroke=stroke))
            return {**self.edit_state(), "box": list(box)}

    def reset(self) -> EditAnswer:
        """Back to the model's mask, as one undoable edit."""
        with self.lock:
            return self.replace_mask(self.model_alpha())

    def replace_mask(self, new: np.ndarray) -> EditAnswer:
        """Swap in a whole new mask (reset, punched holes) as one undoable edit of the pixels
        that changed; nothing changes (and no undo step) when it is the same mask."""
        with self.lock:
            alpha = self.alpha()
            changed = np.argwhere(alpha != new)
            if not len(changed):
                return {**self.edit_state(), "box": None}
            (y0, x0), (y1, x1) = changed.min(axis=0), changed.max(axis=0) + 1
            box = (int(x0), int(y0), int(x1), int(y1))
            before = alpha[y0:y1, x0:x1].copy()
            alpha[y0:y1, x0:x1] = new[y0:y1, x0:x1]
            self._push(Edit(box, before))
            return {**self.edit_state(), "box": list(box)}

    def undo(self) -> EditAnswer:
        return self._step(back=True)

    def redo(self) -> EditAnswer:
        return self._step(back=False)

    def _push(self, edit: Edit) -> None:
        # a preview's strokes are all kept, to paint again on the full answer
        self._history.push(edit, keep_all=self.previewing)
        self._changed()

    def _step(self, back: bool) -> EditAnswer:
        with self.lock:
            box = self._history.step(self.alpha(), back)
            if box is None:
                return {**self.edit_state(), "box": None}
            self._changed()
            return {**self.edit_state(), "box": list(box)}

    # -- pictures for the page ----------------------------------------------------
    def levels(self) -> int:
        """Number of zoom levels: level z is the photo scaled by 2**-z, down to one tile."""
        if not self.width or not self.height:
            return 1
        longest, z = max(self.width, self.height), 0
        while longest > TILE:
            longest = (longest + 1) // 2
            z += 1
        return z + 1

    def thumbnail(self) -> bytes:
        with self.lock:
            if self._thumb is None:
                if self.has_mask:
                    self._thumb = pictures.png(self._picture("cutout", None, THUMB))
                else:
                    self._thumb = pictures.png(self._quick_thumbnail())
            return self._thumb

    def _quick_thumbnail(self) -> Image.Image:
        """A queued photo's thumbnail without decoding it in full, through the decoder's
        guards (formats, pixel limit) like every other read of the user's file."""
        if self._rgb is not None:
            return self._picture("original", None, THUMB)
        return thumbnail(self.path, THUMB, self.max_pixels, self.name)

    def preview(self, view: str) -> tuple[bytes, str]:
        """The whole picture, longest side at most PREVIEW pixels; half that for a first look's mask
        or cutout: a quarter of the pixels to encode, send and decode, and the full answer (a new
        version, a new URL) replaces it soon. The original keeps one size: its URL never changes."""
        with self.lock:
            first_look = self.previewing and view != "original"
            side = FIRST_LOOK if first_look else PREVIEW
        picture = self._cached(("preview", view, side), view, None, side)
        if first_look:
            self._first_look_made.set()
        return picture

    def tile(self, view: str, z: int, x: int, y: int) -> tuple[bytes, str]:
        with self.lock:
            if not self.width or not self.height:  # the original, before the cutout is done
                self.width, self.height = self.rgb().size
        if not 0 <= z < self.levels():
            raise NotFound("no such zoom level")
        assert self.width and self.height
        scale = 2**z
        lw, lh = -(-self.width // scale), -(-self.height // scale)
        if not (0 <= x * TILE < lw and 0 <= y * TILE < lh):
            raise NotFound("no such tile")
        box = (x * TILE * scale, y * TILE * scale, min(self.width, (x + 1) * TILE * scale),
               min(self.height, (y + 1) * TILE * scale))
        size = (min(TILE, lw - x * TILE), min(TILE, lh - y * TILE))
        return self._cached(("tile", view, z, x, y), view, box, size)

    def _cached(self, key: tuple[object, ...], view: str, box: tuple[int, int, int, int] | None,
                size: int | tuple[int, int]) -> tuple[bytes, str]:
        """The encoded picture, from the cache when this version was already asked for.

        The document is locked only while the (small) picture is cut out of the full-size
        pixels; encoding happens outside, so a brush stroke never waits for a preview."""
        if view not in VIEWS:
            raise NotFound(f"no such view {view!r}")
        with self.lock:
            version = self.version
            key = (version, *key)  # a mask swapped in (the full answer after a preview) is a new version
            hit = self._cache.get(key)
            if hit is not None:
                return hit
            image = self._picture(view, box, size)
        encoded = pictures.encode(view, image, whole=box is None)
        with self.lock:
            if self.version == version:  # an edit meanwhile makes this picture stale: do not keep it
                if len(self._cache) > 256:
                    self._cache.clear()
                self._cache[key] = encoded
        return encoded

    def _picture(self, view: str, box: tuple[int, int, int, int] | None, size: int | tuple[int, int]) -> Image.Image:
        """``view`` of ``box`` (or all) at ``size`` (app.desktop.pictures); hold ``lock``."""
        if view not in VIEWS:
            raise NotFound(f"no such view {view!r}")
        if view != "original" and not self.has_mask:
            raise NotReady.cutout(self.name)
        photo = None
        if view != "mask":
            rgb = self.rgb()
            if self._shrunk is None or self._shrunk.source is not rgb:
                self._shrunk = ShrunkPhoto(rgb)
            photo = self._shrunk
        mask = Image.fromarray(self.alpha(), "L") if view != "original" else None
        return pictures.picture(view, photo, mask, box, size)
