"""Retention: nothing outlives the session unless the user saved it.

Each run gets its own temp folder ``<user cache>/session-<pid>-<random>`` (0700) holding a
``session.lock`` marker that the owning process keeps open and locked (``app.core.filelock``).
The folder is removed on exit (context manager and atexit). A run that crashed leaves its
folder behind with nobody holding the lock; the next start (``Session()`` or
``cleanup_stale()``) removes it. Testing the lock, not just the pid,
means a recycled pid can never keep a dead session alive. ``clear_cache()`` ("Clear
cache" / ``knockout cache clear``) removes everything in the cache folder except live
sessions and the running window's ``instance.json`` (no image content: its address).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import secrets
import shutil
import time
from pathlib import Path
from typing import IO

from app import paths
from app.core import filelock
from app.core.private import open_private, private_dir

PREFIX = "session-"
MARKER = "session.lock"
PRESERVE = {"instance.json"}  # the running window's single-instance address
GRACE_SECONDS = 60  # a folder younger than this without a marker may be a session starting up


def is_live(folder: Path) -> bool:
    """Whether a running process still owns this session folder."""
    marker = folder / MARKER
    if not marker.exists():
        try:
            return time.time() - folder.stat().st_mtime < GRACE_SECONDS
        except OSError:
            return False  # the folder is gone
    try:
        with open(marker, "r+b") as fh:
            return not filelock.try_lock(fh.fileno())  # closing the file drops a lock we just took
    except FileNotFoundError:
        return False
    except OSError:
        return True  # cannot tell (e.g. a Windows sharing violation): leave it alone


def _remove(path: Path) -> bool:
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return True


def cleanup_stale(cache: Path | None = None) -> int:
    """Remove session folders left by crashed runs; how many were removed."""
    cache = cache if cache is not None else paths.user_cache_dir()
    removed = 0
    try:
        entries = list(cache.iterdir())
    except OSError:
        return 0
    for entry in entries:
        if entry.name.startswith(PREFIX) and entry.is_dir() and not is_live(entry) and _remove(entry):
            removed += 1
    return removed


def clear_cache(cache: Path | None = None) -> list[Path]:
    """Remove everything in the cache folder but live sessions; the paths removed."""
    cache = cache if cache is not None else paths.user_cache_dir()
    removed = []
    try:
        entries = list(cache.iterdir())
    except OSError:
        return []
    for entry in entries:
        if entry.name in PRESERVE or (entry.name.startswith(PREFIX) and entry.is_dir() and is_live(entry)):
            continue
        if _remove(entry):
            removed.append(entry)
    return removed


class Session:
    """This run's temp folder; removed on ``close()``, on leaving ``with``, or at exit."""

    def __init__(self, cache: Path | None = None) -> None:
        cache = cache if cache is not None else paths.user_cache_dir()
        cleanup_stale(cache)
        self.path = private_dir(cache / f"{PREFIX}{os.getpid()}-{secrets.token_hex(4)}", exist_ok=False)
        marker = open_private(self.path / MARKER, os.O_RDWR | os.O_CREAT | os.O_TRUNC)
        self._marker: IO[bytes] | None = os.fdopen(marker, "w+b")  # held for the session
        self._marker.write(f"{os.getpid()}\n".encode("ascii"))
        self._marker.flush()
        if not filelock.try_lock(self._marker.fileno()):  # pragma: no cover - a fresh random name: nobody else has it
            raise OSError(f"cannot lock {self.path / MARKER}")
        atexit.register(self.close)

    def close(self) -> None:
        """Remove the folder and everything in it (idempotent)."""
        if self._marker is not None:
            with contextlib.suppress(OSError):
                self._marker.close()
            self._marker = None
            shutil.rmtree(self.path, ignore_errors=True)
            atexit.unregister(self.close)

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
