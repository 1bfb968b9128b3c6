"""Turn what a user gave (files, folders, globs) into jobs with output paths.

Folders are walked recursively and their tree is mirrored under the output folder;
files and glob matches land at the output folder's top level. Problems found while
collecting (a missing path, a folder without images) are reported like failed files.
Files nobody should open in a batch (a FIFO or device with an image name, a symlink
loop, a symlink in a shared folder that pulls in a file from outside it) are refused
before anything opens them: a named one fails, one found in a folder is skipped, each
with its reason.
"""

from __future__ import annotations

import errno
import glob
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from app.batch.pipeline import Job, Result
from app.core.decode import NOT_A_FILE, is_image_name
from app.core.naming import has_version, render_name
from app.core.versions import Versioned, versioned

DEFAULT_TEMPLATE = "{stem}"


@dataclass(frozen=True)
class Source:
    path: Path
    relative: Path  # path below the folder it came from (or just the name)
    label: str


def refusal(path: Path, within: Path | None = None) -> tuple[str, str] | None:
    """Why ``path`` must not be read, as (code, message), or None if it may be. Only stats it:
    a FIFO would block whoever opens it, a device may act when opened, a loop has no end,
    and a symlink that leads out of ``within`` (the folder being walked) could pull someone's
    private photo into a shared batch."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symlink_loop", "a symlink loop (it leads back to itself), so it is not read"
        return "unreadable", f"the file cannot be read ({exc.strerror or exc})"
    if not stat.S_ISREG(mode):
        return "not_a_file", NOT_A_FILE
    if within is not None and not _inside(os.path.realpath(path), os.path.realpath(within)):
        return "outside_folder", f"a symlink leads outside {within}, so it is not read"
    return None


def _inside(path: str, folder: str) -> bool:
    try:
        return os.path.commonpath([path, folder]) == folder
    except ValueError:  # another drive (Windows)
        return False


def _walk(folder: Path, given: str) -> tuple[list[Source], list[Result]]:
    """Images below ``folder`` (links to folders are not followed), and those refused."""
    found, refused = [], []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            path = Path(root) / name
            if is_image_name(path):
                rel = path.relative_to(folder)
                label = os.path.join(given, str(rel))
                if why := refusal(path, within=folder):
                    refused.append(Result(label, str(path), "skipped", code=why[0], message=why[1]))
                else:
                    found.append(Source(path, rel, label))
    return found, refused


def _glob_root(pattern: str) -> Path:
    """The folder a glob pattern stays inside: its leading parts without wildcards."""
    parts = Path(pattern).parts
    fixed = next((i for i, part in enumerate(parts) if glob.has_magic(part)), len(parts))
    return Path(*parts[:fixed])


def collect(inputs: list[str]) -> tuple[list[Source], list[Result]]:
    """Expand inputs into image sources, plus one result for each input that gave none
    and for each file refused (see ``refusal``)."""
    sources: list[Source] = []
    problems: list[Result] = []
    for given in inputs:
        path = Path(given)
        if path.is_dir():
            found, refused = _walk(path, given)
            if not found and not refused:
                problems.append(Result(given, given, "failed", code="no_images",
                                       message="no image files in this folder (or its subfolders)"))
            sources.extend(found)
            problems.extend(refused)
        elif path.exists() or path.is_symlink():
            if why := refusal(path):
                problems.append(Result(given, given, "failed", code=why[0], message=why[1]))
            else:
                sources.append(Source(path, Path(path.name), given))
        elif glob.has_magic(given):
            root = _glob_root(given)
            matches = [Path(m) for m in sorted(glob.glob(given, recursive=True))]
            files = [m for m in matches if is_image_name(m) and not m.is_dir()]
            if not files:
                problems.append(Result(given, given, "failed", code="no_match",
                                       message="no image files match this pattern"))
            seen: set[tuple[str, str]] = set()  # ** follows folder links: one file, many paths
            for file in files:
                place = (os.path.realpath(file.parent), file.name)
                if place in seen:
                    continue
                seen.add(place)
                if why := refusal(file, within=root):
                    problems.append(Result(str(file), str(file), "skipped", code=why[0], message=why[1]))
                else:
                    sources.append(Source(file, Path(file.name), str(file)))
        else:
            problems.append(Result(given, given, "failed", code="unreadable", message="the file does not exist"))
    return _dedupe(sources), problems


def _dedupe(sources: list[Source]) -> list[Source]:
    seen: set[Path] = set()
    unique = []
    for src in sources:
        key = src.path.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(src)
    return unique


def _fields(source: Source) -> dict[str, str]:
    return {"stem": source.path.stem, "name": source.path.name, "ext": source.path.suffix.lstrip("."),
            "parent": source.path.parent.name}


def output_name(source: Source, template: str, extension: str) -> Path:
    """``template`` with {stem}, {name}, {ext}, {parent} -> a relative output path (app.core.naming);
    ``{version}`` shows as ``v1`` here (``output_versions`` finds the real one)."""
    try:
        name = render_name(template, {**_fields(source), "version": "v1"})
    except ValueError as exc:
        raise ValueError(f"bad --name template: {exc}") from None
    return source.relative.parent / f"{name}{extension}"


def output_versions(source: Source, template: str, extension: str, out_dir: Path) -> Versioned | None:
    """Where the versions of ``source``'s output go, for a template with ``{version}`` (else None)."""
    folder = out_dir / source.relative.parent
    try:
        return versioned(template, _fields(source), folder, extension)
    except ValueError as exc:
        raise ValueError(f"bad --name template: {exc}") from None


def check_set_names(templates: Iterable[str]) -> None:
    """ValueError if a delivery set's name templates use ``{version}``: its files are one delivery,
    written together, not versions of one file."""
    if any(has_version(template) for template in templates):
        raise ValueError("bad --name template: a delivery set's file names cannot use {version}")


def plan(
    sources: list[Source],
    out_dir: Path,
    extension: str,
    template: str = DEFAULT_TEMPLATE,
    existing: str = "refuse",  # refuse | skip | overwrite
    outputs: tuple[tuple[str, str, str], ...] = (),  # a delivery set's (id, template, extension)
) -> tuple[list[Job], list[Result]]:
    """Jobs for sources; results for those skipped or refused before any work starts. With
    ``outputs`` each job gets every output's path (a clash with another input's adds -2... to all).
    A template with ``{version}`` makes each source's next free version: nothing exists to skip or
    refuse (a delivery set's names cannot have one: its files are one delivery, not versions)."""
    jobs: list[Job] = []
    early: list[Result] = []
    taken: set[Path] = set()
    source_paths = {s.path.resolve() for s in sources}
    names = outputs or (("", template, extension),)
    check_set_names(each_template for _id, each_template, _ext in outputs)
    for src in sources:
        versions = None if outputs else output_versions(src, template, extension, out_dir)
        if versions is not None:
            target = versions.path(versions.next_free(taken))
            taken.add(target)
            jobs.append(Job(src.path, target, src.label, versions=versions))
            continue
        rels = [output_name(src, each_template, each_ext) for _id, each_template, each_ext in names]
        targets, n = [out_dir / rel for rel in rels], 2
        while any(t.resolve() in taken for t in targets):  # two inputs would give the same name
            targets = [out_dir / rel.parent / f"{rel.stem}-{n}{rel.suffix}" for rel in rels]
            n += 1
        resolved = [t.resolve() for t in targets]
        taken.update(resolved)
        target = targets[0]
        present = [t for t in targets if t.exists()]
        if any(r in source_paths for r in resolved):
            early.append(Result(src.label, str(src.path), "failed", code="would_overwrite_source",
                                message=f"the output {target} would overwrite a source file; "
                                        "choose another output folder or --name"))
        elif present and existing != "overwrite":
            # a set's outputs travel with the result, so a resumed batch can still redo them all (Journal.resume)
            planned = [{"id": o[0], "path": str(t), "status": "exists" if t in present else "missing"}
                       for o, t in zip(outputs, targets, strict=False)]
            if existing == "skip" and len(present) == len(targets):
                early.append(Result(src.label, str(src.path), "skipped", output=str(target),
                                    message="output exists", outputs=planned))
            else:
                early.append(Result(src.label, str(src.path), "failed", output=str(target), code="output_exists",
                                    message=f"{present[0]} already exists (use --overwrite or --skip-existing)",
                                    outputs=planned))
        else:
            ids = tuple(zip((o[0] for o in outputs), targets, strict=False))
            jobs.append(Job(src.path, target, src.label, ids))
    return jobs, early
