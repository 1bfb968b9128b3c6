"""app.core.atomic: an output is either complete or absent, never half-written."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

import pytest

from app.core.atomic import PART_SUFFIX, write_atomic


class DiskFull(OSError):
    pass


def _fail_midway(fh: BinaryIO) -> None:
    fh.write(b"half of a file")
    raise DiskFull(28, "No space left on device")


def test_success_leaves_only_the_final_file(tmp_path: Path) -> None:
    target = tmp_path / "out.png"

    write_atomic(target, lambda fh: fh.write(b"complete"))

    assert target.read_bytes() == b"complete"
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_writer_sees_a_hidden_part_file_not_the_final_name(tmp_path: Path) -> None:
    target = tmp_path / "out.png"
    seen: list[str] = []

    def write(fh: BinaryIO) -> None:
        fh.write(b"data")
        seen.extend(p.name for p in tmp_path.iterdir())

    write_atomic(target, write)

    assert len(seen) == 1
    assert seen[0].startswith(".out.png.") and seen[0].endswith(PART_SUFFIX)


def test_failure_leaves_neither_final_nor_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "out.png"

    with pytest.raises(DiskFull):
        write_atomic(target, _fail_midway)

    assert list(tmp_path.iterdir()) == []


def test_interrupt_also_cleans_up(tmp_path: Path) -> None:
    def interrupted(fh: BinaryIO) -> None:
        fh.write(b"partial")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomic(tmp_path / "out.png", interrupted)

    assert list(tmp_path.iterdir()) == []


def test_existing_file_survives_a_failed_write(tmp_path: Path) -> None:
    target = tmp_path / "out.png"
    target.write_bytes(b"yesterday's good export")

    with pytest.raises(DiskFull):
        write_atomic(target, _fail_midway)

    assert target.read_bytes() == b"yesterday's good export"
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_existing_file_is_replaced_on_success(tmp_path: Path) -> None:
    target = tmp_path / "out.png"
    target.write_bytes(b"old")

    write_atomic(target, lambda fh: fh.write(b"new"))

    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_failed_rename_cleans_up_the_temporary_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(src: str, dst: str) -> None:
        raise PermissionError(13, "Permission denied", dst)

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(PermissionError):
        write_atomic(tmp_path / "out.png", lambda fh: fh.write(b"x"))

    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(os.name == "nt", reason="POSIX permission bits")
def test_created_file_has_normal_permissions(tmp_path: Path) -> None:
    # mkstemp makes 0600 files; an export must be readable like any other file the user saves.
    target = tmp_path / "out.png"
    umask = os.umask(0o022)
    os.umask(umask)

    write_atomic(target, lambda fh: fh.write(b"x"))

    mode = stat.S_IMODE(target.stat().st_mode)
    assert mode == 0o666 & ~umask  # what open() would have made, not mkstemp's 0600
    assert not mode & 0o111  # and never executable


def test_missing_parent_folders_are_created(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "out.png"
    write_atomic(target, lambda fh: fh.write(b"x"))
    assert target.read_bytes() == b"x"


def test_non_ascii_names_work(tmp_path: Path) -> None:
    target = tmp_path / "café-ü-日本.png"
    write_atomic(target, lambda fh: fh.write(b"x"))
    assert [p.name for p in tmp_path.iterdir()] == ["café-ü-日本.png"]
