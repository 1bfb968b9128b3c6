"""The desktop app's one job runner: a single worker thread does every cutout and export
in order, so the model runs once at a time, the window never waits on it, and
cancelling is a flag the worker checks between stages.

A photo opened in the window gets a quick first look (app.inference.preview) shown as a
preview, then its full answer (app.inference.views) in its place; app.desktop.schedule
says which photo's work comes next.

Every change is published as an event (see docs/desktop-bridge.md) for the page.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.batch.inputs import collect
from app.batch.pipeline import MaskOptions
from app.core.decode import DEFAULT_MAX_PIXELS
from app.core.errors import NotFound, NotReady, explain, sentence
from app.desktop import mask_fixes
from app.desktop.answers import Item
from app.desktop.cutouts import CutoutSteps
from app.desktop.document import Document
from app.desktop.events import EventHub
from app.desktop.residency import Residency
from app.desktop.reviewing import ReviewDesk
from app.desktop.schedule import FULL, QUICK, Schedule
from app.governance.review import ReviewStore
from app.inference import variants
from app.inference.manifest import ModelSpec

log = logging.getLogger(__name__)

STATES = ("queued", "working", "done", "flagged", "failed", "cancelled")
IDLE = 2  # priority of background work: after fixes (0) and everything queued (1)


@dataclass(frozen=True)
class ExportTask:
    """Write the listed documents with one preset (see app/desktop/exporting.py)."""

    ids: tuple[str, ...]
    run: Callable[[Document], dict[str, Any]]
    folder: str


class JobRunner(CutoutSteps):
    """Owns the queue of documents and the single worker thread."""

    def __init__(
        self,
        engine_factory: Callable[[], Any],
        hub: EventHub,
        spill_dir: Path,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        mask_options: MaskOptions | None = None,
        keep_in_memory: int = 4,
        first_look: bool = True,
        model_note: str | None = None,
        reviews: ReviewDesk | None = None,
    ) -> None:
        self.hub = hub
        self.reviews = reviews or ReviewDesk()  # decisions on the photos, kept across sessions
        self.reviews.on_decided.append(self._publish_item)
        self.spill_dir = spill_dir
        self.max_pixels = max_pixels
        self.mask_options = mask_options or MaskOptions()  # how new masks are made (see use_mask_options)
        self.first_look = first_look  # a quick preview before each photo's full answer (when the model allows)
        self.schedule = Schedule()
        self.model_note = model_note  # why this model, for the status bar ("fastest on this CPU")
        self.docs: OrderedDict[str, Document] = OrderedDict()
        self.residency = Residency(keep_in_memory)
        self.status: dict[str, Any] = {"provider": "Starting…", "model": "", "ready": False, "offline": True}
        self._engine_factory = engine_factory
        self._engine: Any = None
        self._tasks: queue.PriorityQueue[tuple[int, int, str, Any]] = queue.PriorityQueue()
        self._order = itertools.count()
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self._cancelled: set[str] = set()
        self._infer_seconds = 2.0  # running estimate for the progress bar during inference
        self.ready_at: float | None = None  # when the model was loaded (time.perf_counter), for the benchmark
        self._stop = threading.Event()
        self._worker = threading.Thread(target=self._work, name="knockout-jobs", daemon=True)

    # -- lifecycle ------------------------------------------------------------------
    def start(self, warm: bool = True) -> JobRunner:
        """Start the worker; it warms the model up first so the first photo is quick (the window
        asks for that after its first paint instead: ``warm``)."""
        self._worker.start()
        if warm:
            self.warm()
        return self

    def warm(self) -> None:
        """Load the model now rather than with the first photo."""
        self._queue("warm")

    def stop(self) -> None:
        self._stop.set()
        self.cancel(None)
        self._queue("stop")
        if self._worker.is_alive():
            self._worker.join(timeout=10)

    def use_engine(self, factory: Callable[[], Any], note: str | None = None) -> None:
        """Switch model or device: the worker loads the new engine before its next task."""
        with self._lock:
            self._engine_factory = factory
            self._engine = None
            self.model_note = note
            self.status = {**self.status, "ready": False, "provider": ""}  # the page says it is warming up
        self.hub.publish({"type": "status", "status": self.status})
        self._queue("warm")

    def note_model(self, note: str | None) -> None:
        """Say why this model (the status bar's "fastest on this CPU") without reloading it."""
        with self._lock:
            self.model_note = note
            self.status = {**self.status, "note": note, "note_code": variants.note_code(note)}
        self.hub.publish({"type": "status", "status": self.status})

    def model_spec(self) -> ModelSpec:
        """The model photos are cut out with now (a journal names it), known before it has loaded:
        from the engine itself, never from the status the page shows."""
        with self._lock:
            engine, factory = self._engine, self._engine_factory
        return (engine if engine is not None else factory()).spec  # an engine only loads on the worker

    def use_mask_options(self, options: MaskOptions) -> None:
        """How photos cut out from now on get their mask (the Settings dialog's cutout quality).
        Documents already cut out keep theirs: the user may have painted on it."""
        with self._lock:
            self.mask_options = options

    def focus(self, doc_id: str | None) -> None:
        """The photo the person is looking at: its work goes before every other photo's."""
        with self._lock:
            self.schedule.focus = doc_id

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Block until every queued task is finished (tests and the CLI-less benchmark)."""
        done = threading.Event()
        self._queue("mark", done)
        return done.wait(timeout)

    # -- the queue ------------------------------------------------------------------
    def add(self, paths: Iterable[str | Path], then: Callable[[Document], None] | None = None,
            review_store: ReviewStore | None = None) -> tuple[list[Item], list[dict[str, str]]]:
        """Queue image files (folders are walked); returns (added items, errors by path).

        ``then(doc)`` runs on the worker right after each cutout finishes or fails (the
        hot folder exports and journals there); ``review_store`` keeps their decisions
        (a hot-folder batch's, beside its journal; else the window's)."""
        added: list[Item] = []
        errors: list[dict[str, str]] = []
        for path in _expand(paths, errors):
            doc = Document(f"d{next(self._ids)}", path, path.name, self.spill_dir, self.max_pixels,
                           residency=self.residency)
            doc.then = then
            doc.review.store = review_store
            with self._lock:
                self.docs[doc.id] = doc
            self._plan(doc)
            added.append(doc.as_item())
            self._publish_item(doc)
        return added, errors

    def documents(self) -> list[Document]:
        """The queue's documents, in order."""
        with self._lock:
            return list(self.docs.values())

    def get(self, doc_id: str) -> Document:
        with self._lock:
            doc = self.docs.get(doc_id)
        if doc is None:
            raise NotFound("That image is no longer in the list.")
        return doc

    def items(self) -> list[Item]:
        with self._lock:
            return [doc.as_item() for doc in self.docs.values()]

    def summary(self) -> dict[str, int]:
        with self._lock:
            counts = dict.fromkeys(STATES, 0)
            for doc in self.docs.values():
                counts[doc.state] += 1
            return {"total": len(self.docs), **counts}

    def cancel(self, doc_id: str | None) -> None:
        """Cancel one document (or all): queued ones at once, the working one between stages."""
        with self._lock:
            targets = list(self.docs.values()) if doc_id is None else [self.get(doc_id)]
            for doc in targets:
                if doc.state in ("queued", "working"):
                    self._cancelled.add(doc.id)
                    if doc.state == "queued":
                        self.schedule.take(doc.id)
                        doc.drop_preview()
                        self._set(doc, "cancelled", message="Cancelled")

    def retry(self, doc_id: str) -> Item:
        doc = self.get(doc_id)
        with self._lock:
            if doc.state in ("failed", "cancelled"):
                self._cancelled.discard(doc.id)
                self._set(doc, "queued", progress=0.0, message=None)
                self._plan(doc)
        return doc.as_item()

    def remove(self, doc_id: str) -> None:
        doc = self.get(doc_id)
        self.cancel(doc_id)
        with self._lock:
            self.docs.pop(doc_id, None)
        self.residency.drop(doc)
        doc.forget()
        self.hub.publish({"type": "removed", "id": doc_id, "summary": self.summary()})

    def clear(self) -> None:
        for doc_id in list(self.docs):
            self.remove(doc_id)

    def when_idle(self, steps: Iterator[Any], done: Callable[[Any], None]) -> None:
        """Background work in small steps, each run only when nothing else is queued: ``next(steps)``
        until it gives something other than None, then ``done(that)`` (the variant timing)."""
        self._tasks.put((IDLE, next(self._order), "idle", (steps, done)))

    def after_queue(self, call: Callable[[], None]) -> None:
        """Run ``call`` on the worker once everything queued so far is done."""
        self._queue("call", call)

    def export(self, task: ExportTask) -> int:
        self._queue("export", task)
        return len(task.ids)

    def fix(self, doc_id: str, kind: str) -> bool:
        """Queue a whole-mask fix of a finished document (app.desktop.mask_fixes): it runs on the worker,
        before queued cutouts since the user waits for it, and its answer comes with the item event."""
        if kind not in mask_fixes.FIXES:
            raise ValueError(f"unknown fix {kind!r}")
        doc = self.get(doc_id)
        if not doc.finished:
            raise NotReady.cutout(doc.name)
        self._queue("fix", (doc_id, kind), urgent=True)
        return True

    def _plan(self, doc: Document) -> None:
        """Schedule a photo's cutout: a first look then the full answer, or the full answer only
        for the hot folder's photos (nobody looks at them). One task per piece of work; which
        photo each task serves is chosen when it runs (app.desktop.schedule)."""
        quick = self.first_look and doc.then is None
        with self._lock:
            self.schedule.put(doc.id, next(self._order), QUICK if quick else FULL)
        for _ in range(2 if quick else 1):
            self._queue("cut")

    def _queue(self, kind: str, arg: Any = None, urgent: bool = False) -> None:
        """Tasks run in the order queued, except an edit the user waits for, which goes first."""
        self._tasks.put((0 if urgent else 1, next(self._order), kind, arg))

    # -- the worker -----------------------------------------------------------------
    def _work(self) -> None:
        while not self._stop.is_set():
            _priority, order, kind, arg = self._tasks.get()
            try:
                if kind == "stop":
                    return
                if kind in ("mark", "call"):
                    self._finish_before(order)
                if kind == "mark":
                    arg.set()
                elif kind == "call":
                    arg()
                elif kind == "warm":
                    self._ensure_engine()
                elif kind == "idle":
                    self._idle_step(*arg)
                elif kind == "cut":
                    self._cut()
                elif kind == "export":
                    self._export(arg)
                elif kind == "fix":
                    self._fix(*arg)
            except Exception as exc:  # the worker must survive anything one task does
                self.hub.publish({"type": "error", "message": explain(exc).for_window()["message"]})

    def _ensure_engine(self) -> Any:
        with self._lock:
            factory, engine = self._engine_factory, self._engine
        if engine is not None:
            return engine
        try:
            engine = factory()
            engine.load()
        except Exception as exc:
            said = explain(exc).for_window()  # the page words it in its language by code and params
            self.status = {**self.status, "ready": False, "provider": "", "error": said["message"],
                           "error_code": said["code"], "error_params": said.get("params", {})}
            self.hub.publish({"type": "status", "status": self.status})
            raise
        with self._lock:
            self._engine = engine
            self.ready_at = time.perf_counter()
            # what the page shows; journals and audit records read the engine's spec (model_spec, Provenance)
            self.status = {"provider": engine.description, "model": engine.spec.name, "note": self.model_note,
                           "note_code": variants.note_code(self.model_note), "ready": True, "offline": True}
        self.hub.publish({"type": "status", "status": self.status})
        return engine

    def _export(self, task: ExportTask) -> None:
        written = failed = 0
        for doc_id in task.ids:
            try:
                doc = self.get(doc_id)
            except NotFound:
                continue  # removed meanwhile
            with self._lock:
                unit = self.schedule.take(doc_id)
            if unit is not None:  # never a first look: its full answer is made now, then written
                self._full(doc)
            try:
                result = task.run(doc)
                written += 1
                self.hub.publish({"type": "export", "id": doc.id, "name": doc.name, "state": "written", **result})
            except Exception as exc:
                failed += 1
                self.hub.publish({"type": "export", "id": doc.id, "name": doc.name, "state": "failed",
                                  "path": None, **explain(exc).as_dict()})
        self.hub.publish({"type": "export-done", "written": written, "failed": failed, "folder": task.folder})

    # -- helpers ----------------------------------------------------------------------
    def _take_cancel(self, doc: Document) -> bool:
        with self._lock:
            if doc.id not in self._cancelled:
                return False
            self._cancelled.discard(doc.id)
            self.schedule.take(doc.id)
        doc.drop_preview()
        if doc.id in self.docs:
            self._set(doc, "cancelled", progress=0.0, message="Cancelled")
        return True

    def _idle_step(self, steps: Iterator[Any], done: Callable[[Any], None]) -> None:
        """One step of background work; a failure ends it quietly (logged): nobody asked for it."""
        try:
            result = next(steps, steps)
            if result is None and not self._stop.is_set():
                self._tasks.put((IDLE, next(self._order), "idle", (steps, done)))
            elif result is not None and result is not steps:
                done(result)
        except Exception:
            log.warning("background work stopped", exc_info=True)

    def _fix(self, doc_id: str, kind: str) -> None:
        """A whole-mask fix (app.desktop.mask_fixes); the page gets its answer as the item event's ``edit``."""
        try:
            doc = self.get(doc_id)
        except NotFound:
            return  # removed meanwhile
        try:
            answer = mask_fixes.apply(doc, kind)
        except Exception as exc:  # the page waits for an answer, whatever happened (no plain backdrop, a bug)
            answer = {"kind": kind, "ok": False, "error": explain(exc).for_window()}
        if answer["ok"]:
            self.reviews.edited(doc, self.documents())  # an approval was for the mask before the fix
        self._publish_item(doc, edit=answer)

    def _set(self, doc: Document, state: str, progress: float | None = None, message: str | None = None) -> None:
        with doc.lock:
            doc.state = state
            if progress is not None:
                doc.progress = progress
            doc.message = message
            if message is None:
                doc.code = None
        self._publish_item(doc)

    def _publish_item(self, doc: Document, edit: dict[str, Any] | None = None) -> None:
        event = {"type": "item", "item": doc.as_item(), "summary": self.summary()}
        self.hub.publish(event if edit is None else {**event, "edit": edit})


def _expand(paths: Iterable[str | Path], errors: list[dict[str, str]]) -> list[Path]:
    """Files as given, folders walked for images, exactly as ``knockout cut`` collects them
    (app.batch.inputs: FIFOs, loops and symlinks out of a dropped folder are refused); problems are
    reported by path as sentences for the queue."""
    sources, problems = collect([str(p) for p in paths])
    for problem in problems:
        errors.append({"path": problem.source, "code": problem.code or "unreadable",
                       "message": sentence(problem.message or "cannot be opened")})
    return [source.path for source in sources]
