"""The cutout work of the window's job runner (app.desktop.jobs): a photo's quick first look,
then its full answer in its place, on the one worker thread.

The first look is the model at a small input (app.inference.preview), its answer resized to
the photo (PREVIEW_MASK), shown as a preview; the full answer is app.inference.views' (one view or two, as the
mask options say). Which photo's work comes next is app.desktop.schedule's choice.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from app.batch.assessment import assess
from app.batch.pipeline import MaskOptions, Provenance, alpha_for
from app.core.errors import explain
from app.desktop.document import Document
from app.desktop.reviewing import ReviewDesk
from app.desktop.schedule import QUICK, Schedule
from app.inference import preview, views

QUICK_SHARE = 0.3  # of a photo's progress bar: its first look is shown
# Seconds between progress events while the model runs. Every event makes the page lay out
# and repaint, which on a two-core laptop takes cores from the model: measured once with
# bench/app_latency.py on a 2-core Zen 3, the window's two-view pass took 4.4 s with a tick
# every 0.25 s and 3.4 s with none.
TICK = 0.5
# Seconds the full answer of the photo on screen waits for the page to fetch its first look:
# on two cores, the model's threads and the making of that picture slow each other down.
SHOW_GRACE = 0.5
# A first look is a plain resize of the quick answer: the photo-guided edges and the clean-up
# (~0.3 s per 12 MP, more on a busy laptop) come with the full answer a moment later.
PREVIEW_MASK = MaskOptions(refine_edges=False, remove_specks=False)


class CutoutSteps:
    """Mixed into JobRunner: the steps run on its worker, with its lock, schedule and events."""

    docs: dict[str, Document]
    schedule: Schedule
    mask_options: MaskOptions
    _lock: threading.RLock
    _infer_seconds: float
    reviews: ReviewDesk

    if TYPE_CHECKING:
        def _ensure_engine(self) -> Any: ...
        def _take_cancel(self, doc: Document) -> bool: ...
        def _set(self, doc: Document, state: str, progress: float | None = None,
                 message: str | None = None) -> None: ...
        def _publish_item(self, doc: Document, edit: dict[str, Any] | None = None) -> None: ...

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
            return self.mask_options

    def _quick(self, doc: Document) -> None:
        """The first look: the model at a small input, its answer resized to the photo, shown as a
        preview; the photo's full answer is scheduled in its place in the queue."""
        if doc.state != "queued" or self._take_cancel(doc):
            return
        try:
            engine = self._ensure_engine()
            if preview.size_for(engine.spec) is None:  # this model only runs at its own size
                self._full(doc)
                return
            self._set(doc, "working", progress=0.02)
            decoded = doc.decoded()
            with doc.lock:
                doc.width, doc.height = decoded.size
            self._set(doc, "working", progress=0.1)
            prob = preview.quick_look(engine, decoded.image)
            if prob is None:  # cannot happen after size_for, but never leave a photo half-way
                self._set(doc, "queued")
                self._full(doc)
                return
            if self._take_cancel(doc):
                return
            alpha = alpha_for(decoded, prob, PREVIEW_MASK)
            if self._take_cancel(doc):
                return
            doc.attach_preview(decoded, alpha)
            with self._lock:
                self.schedule.refine(doc.id)
            self._set(doc, "queued", progress=QUICK_SHARE)
        except Exception as exc:
            self._fail(doc, exc)

    def _full(self, doc: Document) -> None:
        """The full answer (one view or two, as the mask options say), replacing any first look in place."""
        if doc.state != "queued" or self._take_cancel(doc):
            return
        start = QUICK_SHARE if doc.previewing else 0.0
        with self._lock:
            on_screen = self.schedule.focus == doc.id
        if doc.previewing and on_screen:
            doc.wait_first_look_made(SHOW_GRACE)
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
            flags = assess(decoded, alpha).flags  # the source's enlargement waits for an export's preset
            if self._take_cancel(doc):
                return
            self.reviews.load(doc)  # before it shows as finished: a decision kept from an earlier session
            doc.attach(decoded, alpha, flags, Provenance(engine.spec, options))
            self._publish_item(doc)
        except Exception as exc:
            self._fail(doc, exc)
        if doc.then is not None:
            doc.then(doc)

    def _fail(self, doc: Document, exc: Exception) -> None:
        doc.drop_preview()
        explained = explain(exc)
        doc.code = explained.code
        self._set(doc, "failed", progress=0.0, message=explained.message)  # the queue makes it a sentence

    def _infer_with_progress(self, run: Callable[[], np.ndarray], doc: Document, start: float) -> np.ndarray:
        """Run the model while a ticker moves the bar (from ``start``) on the running estimate of its time."""
        done = threading.Event()
        began = time.perf_counter()
        low = start + 0.15 * (1 - start)
        span = 0.85 - low

        def tick() -> None:
            while not done.wait(TICK):
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
