"""What a batch hands back: the jobs (one input, its output or a delivery set's outputs),
their results, and writing a rendered export atomically (one file, or each of a set's files on
its own, so one that fails loses none of the others)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from app.core.errors import OutputError, explain
from app.core.export import ExportSettings, save
from app.core.versions import Versioned, label

Outputs = tuple[tuple[str, ExportSettings], ...]  # a delivery set's outputs: (id, settings), in order


@dataclass
class Job:
    """One input file and where its result goes."""

    source: Path
    output: Path
    label: str  # how reports name the file (relative to what the user gave)
    outputs: tuple[tuple[str, Path], ...] = ()  # a delivery set's (output id, path); the first is ``output``
    # a {version} name: a new version, never replacing one (``output`` is its first pick); by keyword only
    versions: Versioned | None = field(default=None, kw_only=True)

    @property
    def version(self) -> str | None:
        """The ``{version}`` of ``output`` (v1, v2…), None for a name without one."""
        number = self.versions.number(self.output) if self.versions else None
        return None if number is None else label(number)


@dataclass
class Result:
    label: str
    source: str
    status: str  # written | failed | skipped | cancelled
    output: str | None = None
    version: str | None = None  # what {version} became in the output's name
    code: str | None = None
    message: str | None = None
    seconds: float = 0.0
    width: int | None = None
    height: int | None = None
    warnings: list[str] = field(default_factory=list)
    flags: list[dict[str, str]] = field(default_factory=list)  # QA (app.core.qa): reasons to look at it
    violations: list[dict[str, str]] = field(default_factory=list)  # the preset's rules it breaks (compliance)
    outputs: list[dict[str, Any]] = field(default_factory=list)  # a delivery set's files: id, path, status, why
    source_score: int | None = None  # 0-100, how good a source the photo is (app.core.source_quality)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None and v != []}


def write_output(job: Job, image: Image.Image, settings: ExportSettings, exif: bytes | None) -> None:
    """Encode and write atomically (app.core.export.save); OutputError names the file and why. A
    versioned job never replaces a file: if its version appeared meanwhile, it takes the next one."""
    if job.output.resolve() == job.source.resolve():
        raise OutputError("refusing to overwrite the source file", job.label)
    try:
        while job.versions is not None:
            try:
                save(image, job.output, settings, exif, replace=False)
                return
            except FileExistsError:  # another program wrote this version first
                job.output = job.versions.path(job.versions.next_free([job.output]))
        save(image, job.output, settings, exif)
    except OSError as exc:
        raise OutputError(f"cannot write {job.output} ({exc.strerror or exc})", job.label) from None


def write_outputs(job: Job, images: list[Image.Image | BaseException], outputs: Outputs,
                  exif: bytes | None) -> list[dict[str, Any]]:
    """Write each output of a delivery set (atomically, each on its own): one that fails is named
    with its reason and the others are still written."""
    done = []
    for (output_id, settings), (_, path), image in zip(outputs, job.outputs, images, strict=True):
        entry: dict[str, Any] = {"id": output_id, "path": str(path), "status": "written"}
        try:
            if isinstance(image, BaseException):
                raise image
            write_output(Job(job.source, path, job.label), image, settings, exif)
        except Exception as exc:
            explained = explain(exc)
            entry.update(status="failed", code=explained.code, message=explained.message)
        done.append(entry)
    return done


def set_result(result: Result, written: list[dict[str, Any]]) -> Result:
    """A delivery set's photo is done only when every output is written; else it failed, naming which."""
    result.outputs = written
    broken = [w for w in written if w["status"] != "written"]
    if broken:
        result.status, result.code = "failed", broken[0].get("code") or "output_failed"
        result.message = "; ".join(f"{w['id']}: {w.get('message')}" for w in broken)
    return result


def failed(job: Job, exc: BaseException, started: float) -> Result:
    """The result of a file that could not be done, with a reason a person can read (``explain``)."""
    explained = explain(exc)
    return Result(job.label, str(job.source), "failed", code=explained.code, message=explained.message,
                  seconds=time.perf_counter() - started)
