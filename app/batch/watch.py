"""Hot folder: cut out every image that lands in a folder, once, until stopped.

Polling (stdlib only) rather than OS file events, because it behaves the same on every
platform and on network shares. A file is taken only once its size and mtime are the
same on two polls in a row, so a copy in progress is never read half-written; hidden
names and the temporary names copy tools and we ourselves use (``.part``, ``.tmp``,
``~``) are ignored. Every file goes through the output folder's journal, so a restart
never redoes a file that was written. Jobs reach ``run_batch`` from a generator, so the
model is loaded once and decode, inference and encoding overlap as in ``cut``. Files nobody
should open (a FIFO with an image name, a symlink loop, a symlink that pulls in a file from
outside the watched folder) are skipped, and said once (``app.batch.inputs.refusal``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from app.batch.inputs import Source, check_set_names, output_name, output_versions, refusal
from app.batch.journal import Journal, Signature, signature
from app.batch.pipeline import Job, Result, run_batch
from app.core.decode import DEFAULT_MAX_PIXELS, is_image_name
from app.core.export import ExportSettings
from app.core.source_quality import DEFAULT_CHECKS, SourceChecks

IGNORED_ENDINGS = (".part", ".tmp", ".crdownload", ".download", "~")


def is_candidate(name: str) -> bool:
    """An image name that is not hidden and not a temporary file of a copy in progress."""
    return is_image_name(name) and not name.lower().endswith(IGNORED_ENDINGS)


class Watcher:
    """Polls ``inbox`` and feeds each complete, not yet done image to the pipeline once."""

    def __init__(
        self,
        inbox: Path,
        out_dir: Path,
        settings: ExportSettings,
        template: str = "{stem}",
        interval: float = 2.0,
        move_done: Path | None = None,
        once: bool = False,
        overwrite: bool = False,
        quiet: bool = False,
        on_skipped: Callable[[Path, str, str], None] | None = None,
        outputs: tuple[tuple[str, str, ExportSettings], ...] = (),
        checks: SourceChecks = DEFAULT_CHECKS,
    ) -> None:
        self.inbox = inbox
        self.out_dir = out_dir
        self.settings = settings
        self.template = template
        self.interval = interval
        self.move_done = move_done
        self.once = once
        self.overwrite = overwrite
        self.quiet = quiet
        self.on_skipped = on_skipped  # (path below the inbox, code, reason) for each file skipped unread, once
        self.outputs = outputs  # a delivery set's (id, template, settings): every file from one mask
        self.checks = checks  # the preset's source checks (app.batch.assessment)
        self.stop = threading.Event()  # stop taking new files; those in flight finish
        self.cancel = threading.Event()  # also drop files decoded but not yet inferred
        self.counts = {"written": 0, "failed": 0, "skipped": 0}
        self.error: str | None = None  # why watching stopped by itself, if it did
        self._taken: dict[Path, Signature] = {}  # versions handed to the pipeline (or found done)
        self._refused: set[Path] = set()  # files skipped unread, each said once
        inbox_real = inbox.resolve()
        self._excluded = {p.resolve() for p in (out_dir, move_done) if p is not None}
        if inbox_real in self._excluded:
            raise ValueError("the output folder and --move-done folder must not be the watched folder")
        for _id, each, each_settings in outputs or (("", template, settings),):  # a bad --name fails now
            output_name(Source(Path("x.jpg"), Path("x.jpg"), "x.jpg"), each, each_settings.extension)
        check_set_names(each for _id, each, _settings in outputs)

    # -- finding files -----------------------------------------------------------------------
    def scan(self) -> dict[Path, Signature]:
        """Candidate images under the inbox now, with their (size, mtime)."""
        found: dict[Path, Signature] = {}
        for root, dirs, files in os.walk(self.inbox):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".")
                             and Path(os.path.realpath(Path(root) / d)) not in self._excluded)
            for name in sorted(files):
                if is_candidate(name):
                    path = Path(root) / name
                    if why := refusal(path, within=self.inbox):
                        if why[0] != "unreadable" and path not in self._refused:  # unreadable: it vanished
                            self._refused.add(path)
                            self._say(f"skipped {path.relative_to(self.inbox)}: {why[1]}", force=True)
                            if self.on_skipped is not None:
                                self.on_skipped(path.relative_to(self.inbox), *why)
                        continue
                    self._refused.discard(path)
                    with contextlib.suppress(OSError):  # vanished between listing and stat
                        found[path] = signature(path)
        return found

    def jobs(self, journal: Journal) -> Iterator[Job]:
        """Jobs for files that are complete (unchanged since the last poll), each version once."""
        previous: dict[Path, Signature] = {}
        try:
            while not self.stop.is_set():
                current = self.scan()
                pending = False
                for path, sig in current.items():
                    if self._taken.get(path) == sig:
                        continue
                    if previous.get(path) != sig:  # new or still growing: look again next poll
                        pending = True
                        continue
                    self._taken[path] = sig
                    if journal.is_done(path, sig):  # written before a restart
                        self.counts["skipped"] += 1
                        self._finish_source(path)
                        continue
                    yield self._job(path, journal)
                    if self.stop.is_set():
                        return
                if self.once and not pending:
                    return
                previous = current
                self.stop.wait(self.interval)
        except Exception as exc:  # never let the feeding thread die silently: the pipeline would wait forever
            self.error = f"{type(exc).__name__}: {exc}"
            self._say(f"knockout: watching stopped: {self.error}", force=True)
            self.counts["failed"] += 1

    def _job(self, path: Path, journal: Journal) -> Job:
        """Where ``path`` goes: its mirrored name, or name-2, -3... if another source owns that; with
        ``{version}`` in the template, its next free version (each arrival is a new version)."""
        rel = path.relative_to(self.inbox)
        source = Source(path, rel, str(rel))
        versions = None if self.outputs else output_versions(source, self.template, self.settings.extension,
                                                             self.out_dir)
        if versions is not None:
            return Job(path, versions.path(versions.next_free()), str(rel), versions=versions)
        firsts = [self.out_dir / output_name(source, each, each_settings.extension)
                  for _id, each, each_settings in self.outputs or (("", self.template, self.settings),)]
        targets, n = firsts, 2
        while True:
            owner = journal.owner(targets[0])
            if owner == str(path.resolve()) or (owner is None and (self.overwrite or
                                                                   not any(t.exists() for t in targets))):
                return Job(path, targets[0], str(rel), tuple(zip((o[0] for o in self.outputs), targets, strict=False)))
            targets = [first.with_name(f"{first.stem}-{n}{first.suffix}") for first in firsts]
            n += 1

    # -- after a file ------------------------------------------------------------------------
    def _finish_source(self, path: Path) -> None:
        """With --move-done, move a finished source out of the inbox (mirrored, never overwriting)."""
        if self.move_done is None or not path.exists():
            return
        rel = path.relative_to(self.inbox)
        dest, n = self.move_done / rel, 2
        while dest.exists():
            dest = (self.move_done / rel).with_name(f"{rel.stem}-{n}{rel.suffix}")
            n += 1
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(path, dest)
        except OSError as exc:
            self._say(f"note   {rel}: written, but could not move it to {dest} ({exc})")

    def _changed_while_read(self, path: Path) -> bool:
        """A file that changed after it was taken (a writer stalled longer than a poll): forget
        it, so the next polls take it again once it is stable, instead of reporting a failure."""
        try:
            changed = signature(path) != self._taken.get(path)
        except OSError:
            return False
        if changed:
            self._taken.pop(path, None)
        return changed

    def _report(self, result: Result) -> None:
        self.counts[result.status] = self.counts.get(result.status, 0) + 1
        if result.status == "failed":
            self._say(f"FAILED {result.label}: {result.message}", force=True)
        elif result.status == "written":
            self._say(f"done   {result.label} → {result.output} ({result.seconds:.1f} s)")

    def _say(self, line: str, force: bool = False) -> None:
        if force or not self.quiet:
            print(line, file=sys.stderr, flush=True)

    def run(self, engine: Any, journal: Journal, max_pixels: int = DEFAULT_MAX_PIXELS,
            finish: Callable[[Result], Any] | None = None, runner: Any = None) -> int:
        """Watch until stopped (or, with ``once``, until the inbox is done); returns the failures.
        ``finish(result)`` follows each file (app.batch.export_service: the preset's rules, the audit
        record, the journal line); by default just the journal line. ``runner``: where the photos are
        cut (app.batch.cluster.ClusterBatch), by default here (run_batch)."""
        finish = finish or journal.record
        provider = engine.description if runner is None else runner.prepare([self.inbox])
        batch = run_batch if runner is None else runner
        stop_hint = "" if self.once else " · Ctrl+C to stop"
        self._say(f"knockout: watching {self.inbox} → {self.out_dir} every {self.interval:g} s · "
                  f"model {engine.spec.id} · {provider}{stop_hint}")
        for result in batch(engine, self.jobs(journal), self.settings, max_pixels, cancel=self.cancel,
                            on_start=journal.started, stop=self.stop,
                            outputs=tuple((i, s) for i, _name, s in self.outputs), checks=self.checks):
            finish(result)
            if result.status == "failed" and self._changed_while_read(Path(result.source)):
                self._say(f"note   {result.label}: still being written; will try again when it is complete")
                continue
            self._report(result)
            if result.status == "written":
                self._finish_source(Path(result.source))
        journal.finish()
        self._say(f"knockout: {self.counts['written']} written, {self.counts['skipped']} done earlier, "
                  f"{self.counts['failed']} failed")
        return self.counts["failed"]


@contextlib.contextmanager
def stop_on_signals(stop: threading.Event, cancel: threading.Event) -> Iterator[None]:
    """SIGINT/SIGTERM: the first stops taking files (the current ones finish), a second also
    drops files not yet in the model; a file that does not finish (a dead network share) is
    given up after ``app.batch.pipeline.STOP_GRACE`` s, so a stop always ends the run. Only the main
    thread can set handlers; elsewhere a no-op."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum: int, frame: Any) -> None:
        if stop.is_set():
            cancel.set()
        stop.set()

    signals = [signal.SIGINT, signal.SIGTERM]
    previous = {s: signal.signal(s, handle) for s in signals}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
