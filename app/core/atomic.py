"""Write files so a crash or a full disk never leaves a half-written output behind."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

PART_SUFFIX = ".part"


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def write_atomic(path: Path, write: Callable[[BinaryIO], None], replace: bool = True) -> None:
    """Call ``write`` on a hidden temporary file beside ``path``, then rename it into place.

    The temporary name starts with a dot and ends with ``.part`` so watchers and file
    browsers can tell it is unfinished; it is removed if anything goes wrong. With
    ``replace=False`` an existing ``path`` is never replaced (FileExistsError), even by a
    file another program creates meanwhile: the finished file is hard-linked into place.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=PART_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)
        if replace:
            os.replace(tmp, path)
        else:
            _place_new(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _place_new(tmp: str, path: Path) -> None:
    """Move ``tmp`` to ``path`` only if nothing is there: a hard link fails if the name exists. On a
    file system without hard links (FAT, some shares) the name is checked just before the rename."""
    try:
        os.link(tmp, path, follow_symlinks=False)
    except FileExistsError:
        raise
    except OSError:
        if os.path.lexists(path):
            raise FileExistsError(f"{path} already exists") from None
        os.replace(tmp, path)
        return
    os.unlink(tmp)
