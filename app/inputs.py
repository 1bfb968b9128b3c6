"""Turn what a user gave (files, folders, globs) into jobs with output paths.

Folders are walked recursively and their tree is mirrored under the output folder;
files and glob matches land at the output folder's top level. Problems found while
collecting (a missing path, a folder without images) are reported like failed files.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path

from app.core.decode import IMAGE_SUFFIXES
from app.pipeline import Job, Result

DEFAULT_TEMPLATE = "{stem}"


@dataclass(frozen=True)
class Source:
    path: Path
    relative: Path  # path below the folder it came from (or just the name)
    label: str


def _is_image_name(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def _walk(folder: Path, given: str) -> list[Source]:
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            path = Path(root) / name
            if _is_image_name(path):
                rel = path.relative_to(folder)
                found.append(Source(path, rel, os.path.join(given, str(rel))))
    return found


def collect(inputs: list[str]) -> tuple[list[Source], list[Result]]:
    """Expand inputs into image sources, plus one failed result for each input that gave none."""
    sources: list[Source] = []
    problems: list[Result] = []
    for given in inputs:
        path = Path(given)
        if path.is_dir():
            found = _walk(path, given)
            if not found:
                problems.append(Result(given, given, "failed", code="no_images",
                                       message="no image files in this folder (or its subfolders)"))
            sources.extend(found)
        elif path.exists() or path.is_symlink():
            sources.append(Source(path, Path(path.name), given))
        elif glob.has_magic(given):
            matches = sorted(glob.glob(given, recursive=True))
            files = [Path(m) for m in matches if Path(m).is_file() and _is_image_name(Path(m))]
            if not files:
                problems.append(Result(given, given, "failed", code="no_match",
                                       message="no image files match this pattern"))
            sources.extend(Source(f, Path(f.name), str(f)) for f in files)
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


def output_name(source: Source, template: str, extension: str) -> Path:
    """``template`` with {stem}, {name}, {ext}, {parent} -> a relative output path."""
    try:
        name = template.format(
            stem=source.path.stem,
            name=source.path.name,
            ext=source.path.suffix.lstrip("."),
            parent=source.path.parent.name,
        )
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(
            f"bad --name template {template!r}: use {{stem}}, {{name}}, {{ext}}, {{parent}} ({exc})"
        ) from None
    if not name or "/" in name or "\\" in name or name in (".", ".."):
        raise ValueError(f"bad --name template {template!r}: it must give a plain file name")
    return source.relative.parent / f"{name}{extension}"


def plan(
    sources: list[Source],
    out_dir: Path,
    extension: str,
    template: str = DEFAULT_TEMPLATE,
    existing: str = "refuse",  # refuse | skip | overwrite
) -> tuple[list[Job], list[Result]]:
    """Jobs for sources; results for those skipped or refused before any work starts."""
    jobs: list[Job] = []
    early: list[Result] = []
    taken: set[Path] = set()
    source_paths = {s.path.resolve() for s in sources}
    for src in sources:
        rel = output_name(src, template, extension)
        target = out_dir / rel
        n = 2
        while target.resolve() in taken:  # two inputs would give the same name
            target = out_dir / rel.parent / f"{rel.stem}-{n}{rel.suffix}"
            n += 1
        resolved = target.resolve()
        taken.add(resolved)
        if resolved in source_paths:
            early.append(Result(src.label, str(src.path), "failed", code="would_overwrite_source",
                                message=f"the output {target} would overwrite a source file; "
                                        "choose another output folder or --name"))
        elif target.exists() and existing != "overwrite":
            if existing == "skip":
                early.append(Result(src.label, str(src.path), "skipped", output=str(target),
                                    message="output exists"))
            else:
                early.append(Result(src.label, str(src.path), "failed", output=str(target), code="output_exists",
                                    message=f"{target} already exists (use --overwrite or --skip-existing)"))
        else:
            jobs.append(Job(src.path, target, src.label))
    return jobs, early
