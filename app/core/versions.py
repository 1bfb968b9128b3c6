"""``{version}`` in file names: the next free ``v1``, ``v2``… of a name in its folder, never an old one replaced.

A versioned template means "a new version": ``photo-v1.png`` stays when ``photo-v2.png`` is written.
The number is one past the highest on disk (a deleted ``v1`` is not reused, so an audit trail never
names two different files ``v1``), picked when the work is planned; the write itself then only
creates, never replaces (``write_atomic(..., replace=False)``), and a writer that lost a race to
another program takes the next number (``app.batch.pipeline.write_output``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from app.core.naming import VERSION, has_version, render_name

MARK = "\x00"  # stands for the version while the rest of the name is rendered; never in a file name


def label(number: int) -> str:
    """What ``{version}`` becomes: v1, v2…"""
    return f"v{number}"


@dataclass(frozen=True)
class Versioned:
    """The versions of one output name: ``folder / (prefix + vN + suffix)``; the suffix ends with the extension."""

    folder: Path
    prefix: str
    suffix: str

    def path(self, number: int) -> Path:
        return self.folder / f"{self.prefix}{label(number)}{self.suffix}"

    def number(self, path: Path | str) -> int | None:
        """The version a file name of this pattern has, None if it is not one of them."""
        match = re.fullmatch(re.escape(self.prefix) + r"v([1-9][0-9]{0,8})" + re.escape(self.suffix), Path(path).name)
        return int(match.group(1)) if match else None

    def next_free(self, taken: Iterable[Path] = ()) -> int:
        """One past the highest version on disk or in ``taken`` (names already given out in this run)."""
        try:
            names = os.listdir(self.folder)
        except OSError:  # no folder yet: nothing written there
            names = []
        numbers = [self.number(n) for n in names] + [self.number(p) for p in taken if Path(p).parent == self.folder]
        return max((n for n in numbers if n is not None), default=0) + 1


def versioned(template: str, values: Mapping[str, str], folder: Path, extension: str) -> Versioned | None:
    """The versions ``template`` gives for a file's ``values`` in ``folder``; None if it has no ``{version}``
    (ValueError for a template that gives no usable name, as ``naming.render_name``)."""
    if not has_version(template):
        return None
    prefix, _mark, suffix = render_name(template, {**values, VERSION: MARK}).partition(MARK)
    return Versioned(Path(folder), prefix, suffix + extension)
