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
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app.batch.inputs import collect
from app.batch.pipeline import MaskOptions, Provenance, alpha_for
from app.core import qa
from app.core.decode import DEFAULT_MAX_PIXELS
from app.core.errors import NotFound, NotReady, explain, sentence
from app.desktop import mask_fixes
from app.desktop.answers import Item
from app.desktop.document import Document
from app.desktop.events import EventHub
from app.desktop.residency import Residency
from app.desktop.schedule import FULL, QUICK, Schedule
from app.inference import preview, views
from app.inference.manifest import ModelSpec

STATES = ("queued", "working", "done", "flagged", "failed", "cancelled")
QUICK_SHARE = 0.3  # of a photo's progress bar: its first look is shown


@dataclass(frozen=True)
class ExportTask:
    """Write the listed documents with one preset (see app/desktop/exporting.py)."""

    ids: tuple[str, ...]
    run: Callable[[Document], dict[str, Any]]
    folder: str


class JobRunner:
    """Owns the queue of documents and the single worker thread."""

    def __init__(
        self,
        engine_factory: Callable[[], Any],
        hub: EventHub,
        spill_dir: Path,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        refine_edges: bool = True,
        keep_in_memory: int = 4,
        remove_specks: bool = True,
        first_look: bool = True,
    ) -> None:
        self.hub = hub
        self.spill_dir = spill_dir
        self.max_pixels = max_pixels
        self.refine_edges = refine_edges  # how new masks are made (see use_mask_options)
        self.remove_specks = remove_specks
        self.first_look = first_look  # a quick preview before each photo's full answer (when the model allows)
        self.schedule = Schedule()
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
        self._stop = threading.Event()
        self._worker = threading.Thread(target=self._work, name="knockout-jobs", daemon=True)

    # -- lifecycle ------------------------------------------------------------------
    def start(self) -> JobRunner:
        """Start the worker; it warms the model up first so the first photo is quick."""
        self._worker.start()
        self._queue("warm")
        return self

    def stop(self) -> None:
        self._stop.set()
        self.cancel(None)
        self._queue("stop")
        if self._worker.is_alive():
            self._worker.join(timeout=10)

    def use_engine(self, factory: Callable[[], Any]) -> None:
        """Switch model or device: the worker loads the new engine before its next task."""
        with self._lock:
            self._engine_factory = factory
            self._engine = None
            self.status = {**self.status, "ready": False, "provider": "Loading model…"}
        self.hub.publish({"type": "status", "status": self.status})
        self._queue("warm")

    def model_spec(self) -> ModelSpec:
        """The model photos are cut out with now (a journal names it), known before it has loaded:
        from the engine itself, never from the status the page shows."""
        with self._lock:
            engine, factory = self._engine, self._engine_factory
        return (engine if engine is not None else factory()).spec  # an engine only loads on the worker

    def use_mask_options(self, refine_edges: bool, remove_specks: bool) -> None:
        """How photos cut out from now on get their mask (the Settings dialog's cutout quality).
        Documents already cut out keep theirs: the user may have painted on it."""
        with self._lock:
            self.refine_edges, self.remove_specks = bool(refine_edges), bool(remove_specks)

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
            ) -> tuple[list[Item], list[dict[str, str]]]:
        """Queue image files (folders are walked); returns (added items, errors by path).

        ``then(doc)`` runs on the worker right after each cutout finishes or fails (the
        hot folder exports and journals there)."""
        added: list[Item] = []
        errors: list[dict[str, str]] = []
        for path in _expand(paths, errors):
            doc = Document(f"d{next(self._ids)}", path, path.name, self.spill_dir, self.max_pixels,
                           residency=self.residency)
            doc.then = then
            with self._lock:
                self.docs[doc.id] = doc
            self._plan(doc)
            added.append(doc.as_item())
            self._publish_item(doc)
        return added, errors

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
            self.status = {**self.status, "ready": False, "provider": "Model not available",
                           "error": explain(exc).for_window()["message"]}
            self.hub.publish({"type": "status", "status": self.status})
            raise
        with self._lock:
            self._engine = engine
            # what the page shows; journals and audit records read the engine's spec (model_spec, Provenance)
            self.status = {"provider": engine.description, "model": engine.spec.name, "ready": True, "offline": True}
        self.hub.publish({"type": "status", "status": self.status})
        return engine

    def _cut(self) -> None:
        """One piece of cutout work, for the photo the schedule says needs it most now."""
        with self._lock:
            picked = self.schedule.pick()
            doc = self.docs.get(picked[0]) if picked else None
        if picked is not None and doc is not None:
            self._run_unit(doc, picked[1].kind)

    def _finish_before(self, order: int) -> None:
        """Everything queued before task ``order`` is done before it runs (``wait_idle``, ``after_queue``)."""
        while True:
            with self._lock:
                doc_id = self.schedule.due_before(order)
                unit = self.schedule.take(doc_id) if doc_id else None
                doc = self.docs.get(doc_id) if doc_id else None
            if unit is None:
                return
            if doc is not None:
                self._run_unit(doc, unit.kind)

    def _run_unit(self, doc: Document, kind: str) -> None:
        if kind == QUICK:
            self._quick(doc)
        else:
            self._full(doc)

    def _options(self) -> MaskOptions:
        with self._lock:
            return MaskOptions(self.refine_edges, self.remove_specks)

    def _quick(self, doc: Document) -> None:
        """The first look: the model at a small input, through the same mask recipe, shown as a
        preview; the photo's full answer is scheduled in its place in the queue."""
        if doc.state != "queued" or self._take_cancel(doc):
            return
        try:
            engine = self._ensure_engine()
            if preview.size_for(engine.spec) is None:  # this model only runs at its own size
                return self._full(doc)
            self._set(doc, "working", progress=0.02)
            decoded = doc.decoded()
            with doc.lock:
                doc.width, doc.height = decoded.size
            self._set(doc, "working", progress=0.1)
            prob = preview.quick_look(engine, decoded.image)
            if prob is None or self._take_cancel(doc):
                return None
            alpha = alpha_for(decoded, prob, self._options())
            if self._take_cancel(doc):
                return None
            doc.attach_preview(decoded, alpha)
            with self._lock:
                self.schedule.refine(doc.id)
            self._set(doc, "queued", progress=QUICK_SHARE)
        except Exception as exc:
            self._fail(doc, exc)
        return None

    def _full(self, doc: Document) -> None:
        """The full answer (one view or two, as the mask options say), replacing any first look in place."""
        if doc.state != "queued" or self._take_cancel(doc):
            return
        start = QUICK_SHARE if doc.previewing else 0.0
        try:
            engine = self._ensure_engine()
            self._set(doc, "working", progress=max(start, 0.02))
            decoded = doc.decoded()
            with doc.lock:
                doc.width, doc.height = decoded.size
            options = self._options()
            tensor = views.prepare(engine, decoded.image)
            if self._take_cancel(doc):
                return
            prob = self._infer_with_progress(lambda: views.finish(engine, decoded.image, tensor, options.views),
                                             doc, start)
            if self._take_cancel(doc):
                return
            alpha = alpha_for(decoded, prob, options)
            self._set(doc, "working", progress=0.92)
            flags = [flag.as_dict() for flag in qa.assess_images(decoded.image, alpha)]
            if self._take_cancel(doc):
                return
            doc.attach(decoded, alpha, flags, Provenance(engine.spec, options))
            self._publish_item(doc)
        except Exception as exc:
            self._fail(doc, exc)
        if doc.then is not None:
            doc.then(doc)

    def _fail(self, doc: Document, exc: Exception) -> None:
        doc.drop_preview()
        self._set(doc, "failed", progress=0.0, message=explain(exc).message)  # the queue makes it a sentence

    def _infer_with_progress(self, run: Callable[[], np.ndarray], doc: Document, start: float) -> np.ndarray:
        """Run the model while a ticker moves the bar (from ``start``) on the running estimate of its time."""
        done = threading.Event()
        began = time.perf_counter()
        low = start + 0.15 * (1 - start)
        span = 0.85 - low

        def tick() -> None:
            while not done.wait(0.25):
                share = min(0.95, (time.perf_counter() - began) / self._infer_seconds)
                self._set(doc, "working", progress=low + span * share)

        ticker = threading.Thread(target=tick, name="knockout-progress", daemon=True)
        ticker.start()
        try:
            prob = run()
        finally:
            done.set()
            ticker.join()
        self._infer_seconds = 0.7 * self._infer_seconds + 0.3 * (time.perf_counter() - began)
        self._set(doc, "working", progress=0.85)
        return prob

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
                                  "path": None, "message": explain(exc).message})
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
        self._publish_item(doc, edit=answer)

    def _set(self, doc: Document, state: str, progress: float | None = None, message: str | None = None) -> None:
        with doc.lock:
            doc.state = state
            if progress is not None:
                doc.progress = progress
            doc.message = message
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
        errors.append({"path": problem.source, "message": sentence(problem.message or "cannot be opened")})
    return [source.path for source in sources]
