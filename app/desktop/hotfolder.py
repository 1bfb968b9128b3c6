"""The desktop app's hot folder: the same watching and journal as ``knockout watch``, but
every photo goes through the app's one job runner, so it shows in the queue and the
model is never loaded twice, and is written through the one export path
(app.batch.export_service: the preset's rules, the audit record and the journal line, as ``cut``).

The command line's :class:`~app.batch.watch.Watcher` decides *when* a file is complete and
*where* its cutout goes (mirrored name, never someone else's file); the output folder's
journal makes a restarted watch skip what was already written. A photo that cannot even be
started (say, the disk is full) fails alone; if watching itself stops (the folder became
unreadable), the app is told, so it never goes on showing "Watching" for nothing.
"""

from __future__ import annotations

import functools
import threading
from pathlib import Path
from typing import Any

from app.batch.export_service import ExportService, export_fields
from app.batch.journal import Journal, header_for
from app.batch.pipeline import Job, Result
from app.batch.watch import Watcher
from app.core import naming
from app.core.errors import explain
from app.desktop.document import Document
from app.desktop.jobs import JobRunner
from app.governance.presets import Preset
from app.governance.review import ReviewStore, batch_store_path


class HotFolder:
    """Watches ``inbox``; each complete image is cut out and exported to ``out_dir`` with ``preset``."""

    def __init__(self, runner: JobRunner, inbox: Path, out_dir: Path, preset: Preset, template: str,
                 interval: float = 2.0, audited: bool = False, sidecar: bool = False) -> None:
        if not inbox.is_dir():
            raise ValueError(f"{inbox} is not a folder")
        self.runner = runner
        self.inbox, self.out_dir, self.preset = inbox, out_dir, preset
        # The CLI's name templates know {stem} {name} {ext} {parent}; the preset id is filled in here.
        self.template = naming.fill(template, {"preset": preset.id})
        outputs = tuple((o.id, naming.fill(o.template, {"preset": preset.id}), o.settings) for o in preset.outputs)
        self.watcher = Watcher(inbox, out_dir, preset.settings, self.template, interval, quiet=True,
                               on_skipped=self._skipped, outputs=outputs)
        self.journal = Journal.open(out_dir, header_for(preset.settings, runner.model_spec().id, self.template,
                                                        outputs))
        self.service = ExportService(preset.settings, preset, audited, sidecar, self.journal)
        self.reviews = ReviewStore(batch_store_path(out_dir))  # the batch's decisions, beside its journal
        self.counts = {"written": 0, "failed": 0, "skipped": 0}
        self.error: str | None = None  # why watching stopped by itself, if it did
        self._thread = threading.Thread(target=self._feed, name="knockout-hotfolder", daemon=True)

    def start(self) -> HotFolder:
        self._thread.start()
        self._publish()
        return self

    def stop(self) -> None:
        """Stop taking new files (photos already queued still finish and are exported)."""
        self.watcher.stop.set()
        self._thread.join(timeout=10)
        self.runner.after_queue(self.journal.close)
        self.runner.hub.publish({"type": "watch", "watch": None})

    def _skipped(self, name: Path, code: str, reason: str) -> None:
        """A file in the inbox that is not read (a pipe, a link out of the folder...): the window names
        it, in its language by ``code`` (app.batch.inputs.refusal), else in English."""
        self.counts["skipped"] += 1
        self.runner.hub.publish({"type": "watch-skipped", "name": str(name), "code": code, "message": reason})
        self._publish()

    def describe(self) -> dict[str, Any] | None:
        """What the UI shows; None once watching stopped by itself (``error`` says why)."""
        if self.error is not None:
            return None
        return {"inbox": str(self.inbox), "folder": str(self.out_dir), "preset": self.preset.id, **self.counts}

    def _feed(self) -> None:
        try:
            for job in self.watcher.jobs(self.journal):
                self._take(job)
        except Exception as exc:  # the watcher reports its own failures; this is anything else
            self.watcher.error = self.watcher.error or explain(exc).message
        if not self.watcher.stop.is_set():  # it ended by itself
            self.error = f"Stopped watching “{self.inbox.name}”: {self.watcher.error or 'the folder cannot be read'}"
            self.watcher.stop.set()
            self.runner.hub.publish({"type": "watch", "watch": None, "error": self.error, "code": "watch-stopped",
                                     "params": {"name": self.inbox.name}})

    def _take(self, job: Job) -> None:
        """Queue one photo; one that cannot even be started (its journal line: a full disk) fails alone."""
        try:
            self.journal.started(job)
            _added, errors = self.runner.add([job.source], then=functools.partial(self._export, job),
                                             review_store=self.reviews)
        except Exception as exc:
            self._failed(job, explain(exc).message)
            return
        if errors:
            self._failed(job, errors[0]["message"])

    def _export(self, job: Job, doc: Document) -> None:
        """On the worker, right after the cutout: the one export path, to where the watcher said."""
        if not doc.finished or doc.provenance is None:
            self._failed(job, doc.message or "could not be cut out")
            return
        result = self.service.export(doc.snapshot(), doc.exif, job, doc.provenance, doc.review.remarks)
        self._count(result)
        if result.status == "written":
            doc.review.wrote(job.output, result.version, audited=self.service.audited)
            self.runner.hub.publish({"type": "export", "id": doc.id, "name": doc.name, "state": "written",
                                     **export_fields(result)})

    def _failed(self, job: Job, message: str) -> None:
        self._count(self.service.finish(Result(job.label, str(job.source), "failed", code="failed", message=message)))

    def _count(self, result: Result) -> None:
        self.counts[result.status] += 1
        self._publish()

    def _publish(self) -> None:
        self.runner.hub.publish({"type": "watch", "watch": self.describe()})
