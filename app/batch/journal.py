"""A batch journal in the output folder, so an interrupted batch can be resumed safely.

``OUTDIR/.knockout-journal.jsonl`` is append-only JSON lines, each flushed and fsynced:
a header with everything that decides what the outputs look like (export settings, name
template, model id), then a ``start`` line when a file enters the pipeline and a ``done``
line when it is written or fails. Rerunning the same command skips sources whose
recorded output is still there and intact, redoes the one that was interrupted, and
refuses to mix settings in one folder. While a batch runs it holds a lock on the journal
(``app.core.filelock``), so two runs (``cut`` and ``watch``) never write into one folder at once;
holding it also makes it safe to delete unfinished ``.part`` files left by a crash.

Output folders are often shared, so the journal is opened without following a symbolic
link and must be a regular file (else anyone who can write the folder could make the
next run empty a file of theirs), and it is created readable by its owner only. Any file
name can be recorded: names that are not UTF-8 are kept exactly (see ``_line``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import stat
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PIL import Image

from app.batch.pipeline import Job, Result
from app.core import filelock
from app.core.errors import KnockoutError, OutputError
from app.core.export import EXTENSIONS, ExportSettings
from app.core.private import RefusedFile, open_private

JOURNAL_NAME = ".knockout-journal.jsonl"
JOURNAL_VERSION = 1
# write_atomic's temporary names: ".<output name>.<8 random chars>.part"
_EXTS = "|".join(re.escape(e) for e in EXTENSIONS.values())
PART_PATTERN = re.compile(rf"^\..+({_EXTS})\.[A-Za-z0-9_]{{8}}\.part$")


class JournalError(KnockoutError):
    """The output folder holds a batch we must not continue (other settings, or busy)."""

    code = "journal_error"


Signature = tuple[int, int]  # (size in bytes, mtime in ns): a source counts as unchanged if both match


def signature(path: Path) -> Signature:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


@dataclass(frozen=True)
class Done:
    """A ``done`` line: which source version gave which output."""

    source: str
    signature: Signature
    output: str  # relative to the output folder
    output_size: int | None
    status: str  # written | failed
    others: tuple[tuple[str, int | None], ...] = ()  # a delivery set's other outputs: (relative path, size)


def header_for(settings: ExportSettings, model: str, template: str,
               outputs: tuple[tuple[str, str, ExportSettings], ...] = ()) -> dict[str, Any]:
    """What the outputs depend on, normalised through JSON so it compares with a stored header.
    ``outputs``: a delivery set's (id, template, settings); ``settings`` then makes its mask."""
    raw: dict[str, Any] = {"model": model, "name": template, "settings": dataclasses.asdict(settings)}
    if outputs:
        raw["outputs"] = [{"id": i, "name": name, "settings": dataclasses.asdict(s)} for i, name, s in outputs]
    return json.loads(json.dumps(raw))


def _differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    flat_old = {**old.get("settings", {}), "model": old.get("model"), "name": old.get("name")}
    flat_new = {**new["settings"], "model": new["model"], "name": new["name"]}
    changed = [f"{key} {flat_old.get(key)!r} → {flat_new.get(key)!r}"
               for key in flat_new if flat_old.get(key) != flat_new.get(key)]
    if old.get("outputs") != new.get("outputs"):
        changed.append("the delivery set's outputs")
    return changed


# Never through a symlink; never wait on a FIFO; not inherited by children; bytes as they are.
_OPEN_FLAGS = os.O_RDWR | os.O_CREAT | os.O_APPEND  # open_private adds no-follow, close-on-exec...


def _open_journal_file(path: Path) -> int:
    """The journal's descriptor (app.core.private: created 0600, never through a symbolic link,
    only a regular file), or JournalError saying why it was refused."""
    try:
        return open_private(path, _OPEN_FLAGS)
    except RefusedFile as exc:
        raise JournalError(f"refusing to use {path} as the batch journal: {exc.reason} (someone else may have "
                           "put it there); remove it or choose another output folder") from None


def remove_stale_parts(out_dir: Path) -> int:
    """Delete unfinished temporary outputs a killed run left behind; returns how many."""
    removed = 0
    for root, _dirs, files in os.walk(out_dir):
        for name in files:
            if PART_PATTERN.match(name):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(root, name))
                    removed += 1
    return removed


class Journal:
    """The open journal of one output folder. Thread-safe: the pipeline starts files on its
    decode thread while results are recorded on the caller's."""

    def __init__(self, out_dir: Path, fd: int, header: dict[str, Any],
                 done: dict[str, Done], owners: dict[str, str], stale_parts: int) -> None:
        self.out_dir = out_dir
        self.path = out_dir / JOURNAL_NAME
        self.header = header
        self.stale_parts = stale_parts  # .part files removed when the journal was opened
        self._fd = fd
        self._torn = False  # a write failed midway: the next record starts on a line of its own
        self._done = done  # latest done line per source
        self._owners = owners  # output (relative) -> the source that started writing it
        self._started: dict[str, Signature] = {}
        self._lock = threading.Lock()

    # -- opening ---------------------------------------------------------------------------
    @classmethod
    def open(cls, out_dir: Path, header: dict[str, Any], restart: bool = False) -> Journal:
        """Open (or create) the journal for ``header``.

        Raises :class:`JournalError` if another run holds the folder, or if the folder's
        batch used other settings and still has outputs. ``restart`` starts afresh, except
        when the folder's batch has the same settings and was interrupted: that one resumes.
        """
        out_dir.mkdir(parents=True, exist_ok=True)
        fd = _open_journal_file(out_dir / JOURNAL_NAME)
        try:
            if not filelock.try_lock(fd):
                raise JournalError(f"another knockout run is writing to {out_dir}; wait for it to finish "
                                   "or choose another output folder")
            text = _read_all(fd)
            if text and not text.endswith("\n"):
                _append(fd, b"\n")  # end a line torn by a crash, so the next record starts cleanly
            old_header, done, owners, ended = _read(text)
            same = old_header is not None and all(old_header.get(k) == v for k, v in header.items())
            if same and not ended:
                restart = False  # an interrupted batch, even an --overwrite one: rerunning it resumes it
            if old_header is not None and not same and not restart:
                changed = _differences(old_header, header)
                if any(d.status == "written" and (out_dir / d.output).exists() for d in done.values()):
                    raise JournalError(
                        f"{out_dir} holds a batch made with other settings ({'; '.join(changed)}); "
                        "rerun with the same options to resume, or use --overwrite or another output folder")
            if restart or not same:
                os.ftruncate(fd, 0)
                done, owners = {}, {}
                _append(fd, _line({"kind": "header", "journal": JOURNAL_VERSION, **header,
                                   "created": datetime.now(UTC).isoformat(timespec="seconds")}))
            stale = remove_stale_parts(out_dir)
        except BaseException:
            os.close(fd)
            raise
        return cls(out_dir, fd, header, done, owners, stale)

    def finish(self) -> None:
        """Record that the batch ran to its end (so a later --overwrite starts afresh). If even
        that line cannot be written (a full disk), the next run resumes instead: nothing is lost."""
        with self._lock, contextlib.suppress(OSError):
            self._write({"kind": "end"})

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)  # also releases the lock
                self._fd = -1

    def _write(self, record: dict[str, Any]) -> None:
        """Append one record (the caller holds ``self._lock``); a failure leaves the journal usable."""
        data = _line(record)
        if self._torn:
            data = b"\n" + data
        self._torn = True
        _append(self._fd, data)
        self._torn = False

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- queries ---------------------------------------------------------------------------
    def _relative(self, output: Path | str) -> str:
        return Path(os.path.relpath(Path(output).resolve(), self.out_dir.resolve())).as_posix()

    def is_done(self, source: Path, sig: Signature | None = None) -> bool:
        """True if this version of ``source`` was written and its output is still there, intact."""
        entry = self._done.get(str(source.resolve()))
        if entry is None or entry.status != "written":
            return False
        try:
            sig = sig or signature(source)
        except OSError:
            return False
        return sig == entry.signature and all(_intact(self.out_dir / rel, size)
                                              for rel, size in ((entry.output, entry.output_size), *entry.others))

    def wrote(self, source: Path, output: Path | str) -> bool:
        """True if this version of ``source`` was written to ``output``, still there and intact."""
        entry = self._done.get(str(source.resolve()))
        return entry is not None and entry.output == self._relative(output) and self.is_done(source)

    def owner(self, output: Path | str) -> str | None:
        """The source (absolute) that this batch started writing ``output`` for, if any."""
        return self._owners.get(self._relative(output))

    def may_replace(self, output: Path | str, source: Path) -> bool:
        """True if ``output`` was started for ``source`` in this batch: ours to redo."""
        return self.owner(output) == str(source.resolve())

    # -- resuming a planned batch ----------------------------------------------------------
    def resume(self, jobs: list[Job], early: list[Result]) -> tuple[list[Job], list[Result]]:
        """Adjust ``inputs.plan``'s answer: skip what this batch already wrote, and redo
        (rather than refuse) an output of ours that exists but was never recorded as done."""
        todo: list[Job] = []
        settled: list[Result] = []
        for job in jobs:  # in overwrite mode every job is planned, done or not
            if self.wrote(job.source, job.output):
                settled.append(_done_earlier(job.label, str(job.source), str(job.output)))
            else:
                todo.append(job)
        for result in early:
            exists = result.code == "output_exists" or result.status == "skipped"
            if not exists or result.output is None:
                settled.append(result)
            elif self.wrote(Path(result.source), result.output):
                settled.append(_done_earlier(result.label, result.source, result.output))
            elif self.may_replace(result.output, Path(result.source)):  # ours: interrupted, or an old source
                outputs = tuple((o["id"], Path(o["path"])) for o in result.outputs)  # a delivery set's
                todo.append(Job(Path(result.source), Path(result.output), result.label, outputs))
            else:
                settled.append(result)
        return todo, settled

    # -- recording -------------------------------------------------------------------------
    def started(self, job: Job) -> None:
        """Record that ``job`` entered the pipeline (before its output can appear). Raises
        :class:`OutputError` (that file fails) if the line cannot be written, e.g. a full disk."""
        try:
            sig = signature(job.source)
        except OSError:
            sig = (-1, -1)
        rel = self._relative(job.output)
        others = [self._relative(path) for _id, path in job.outputs[1:]]
        source = str(job.source.resolve())
        with self._lock:
            try:
                self._write({"kind": "start", "source": source, "output": rel,
                             **({"others": others} if others else {})})
            except OSError as exc:
                raise OutputError(f"cannot record it in the batch journal {self.path} ({exc.strerror or exc}); "
                                  "it was not started", job.label) from None
            self._started[str(job.source)] = sig
            for owned in (rel, *others):
                self._owners[owned] = source

    def record(self, result: Result) -> None:
        """Record a finished file (written or failed); other statuses are not final."""
        if result.status not in ("written", "failed"):
            return
        with self._lock:
            sig = self._started.pop(result.source, None)
            if sig is None:  # failed before it started (e.g. refused by the plan): nothing to record
                return
            source = str(Path(result.source).resolve())
            rel = self._relative(result.output) if result.output else None
            size = _size(result.output) if result.status == "written" and result.output else None
            # A delivery set's other outputs (the first is ``output``): each must still be there to count done.
            others = tuple((self._relative(o["path"]), _size(o["path"]) if o["status"] == "written" else None)
                           for o in result.outputs[1:])
            extra = {"others": [list(o) for o in others]} if others else {}
            try:
                self._write({"kind": "done", "source": source, "size": sig[0], "mtime_ns": sig[1],
                             "output": rel, "output_size": size, "status": result.status, "code": result.code,
                             **extra})
            except OSError as exc:  # the file itself is fine; a rerun redoes it (it is ours)
                result.warnings.append(f"not recorded in the batch journal ({exc.strerror or exc}): "
                                       "a rerun will do it again")
                return
            if rel is not None:
                self._done[source] = Done(source, sig, rel, size, result.status, others)


def _size(path: str) -> int | None:
    try:
        return Path(path).stat().st_size
    except OSError:
        return None


def written_files(out_dir: Path) -> tuple[dict[str, Any] | None, list[Done]]:
    """The folder's journal header and what its batch wrote (the latest per source, oldest first), read
    without locking or changing it (a report); (None, []) without a journal. Never through a link."""
    try:
        fd = open_private(Path(out_dir) / JOURNAL_NAME, os.O_RDONLY)
    except FileNotFoundError:
        return None, []
    try:
        header, done, _owners, _ended = _read(_read_all(fd))
    finally:
        os.close(fd)
    return header, [entry for entry in done.values() if entry.status == "written"]


def _done_earlier(label: str, source: str, output: str) -> Result:
    return Result(label, source, "skipped", output=output, message="done in an earlier run (journal)")


def _intact(path: Path, size: int | None) -> bool:
    """The output exists with the recorded size and its header still identifies an image."""
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode) or (size is not None and st.st_size != size):
            return False  # a FIFO put in its place would block Image.open
        with Image.open(path) as img:
            return img.width > 0 and img.height > 0
    except Image.DecompressionBombError:  # a huge canvas export: its header was read, it is an image
        return True
    except (OSError, ValueError, SyntaxError):
        return False


_SURROGATE = re.compile("[\ud800-\udfff]")


def _line(record: dict[str, Any]) -> bytes:
    """One JSON line in UTF-8. A file name that is not UTF-8 reaches us with its odd bytes as
    lone surrogates (os.fsdecode); they are written as \\udcXX escapes, which json.loads turns
    back into the very same name, so a resume still matches it."""
    text = json.dumps(record, ensure_ascii=False)
    return (_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text) + "\n").encode("utf-8")


def _append(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    os.fsync(fd)


def _read_all(fd: int) -> str:
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", errors="replace")  # a damaged byte spoils one line, not the run


def _read(text: str) -> tuple[dict[str, Any] | None, dict[str, Done], dict[str, str], bool]:
    """Parse a journal: header, done lines, output owners, whether the last run reached its end.
    A torn line (the process died mid-write) is ignored."""
    header: dict[str, Any] | None = None
    done: dict[str, Done] = {}
    owners: dict[str, str] = {}
    kind = None
    for line in _lines(text):
        kind = line.get("kind")
        if kind == "header" and header is None:
            header = line
        elif kind == "start" and isinstance(line.get("output"), str) and isinstance(line.get("source"), str):
            for owned in [line["output"], *(o for o in line.get("others") or [] if isinstance(o, str))]:
                owners[owned] = line["source"]
        elif kind == "done" and isinstance(line.get("output"), str):
            try:
                sig = (int(line["size"]), int(line["mtime_ns"]))
                others = tuple((str(rel), None if size is None else int(size))
                               for rel, size in line.get("others") or [])
                done[line["source"]] = Done(line["source"], sig, line["output"], line.get("output_size"),
                                            line["status"], others)
            except (KeyError, TypeError, ValueError):
                continue
    return header, done, owners, kind == "end"


def _lines(text: str) -> Iterable[dict[str, Any]]:
    for raw in text.splitlines():
        try:
            line = json.loads(raw)
        except ValueError:
            continue
        if isinstance(line, dict):
            yield line
