"""The one cross-process file lock: flock on POSIX, msvcrt on the first byte on Windows."""

from __future__ import annotations

import errno
import importlib.util
import os
import sys
import threading
import types
from pathlib import Path

import pytest

from app.core import filelock


@pytest.fixture
def two_opens(tmp_path: Path):
    """Two independent opens of one file (as two processes would have); closing one twice is harmless."""
    path = tmp_path / "held.lock"
    path.write_bytes(b"0123456789")
    with open(path, "r+b", buffering=0) as first, open(path, "r+b", buffering=0) as second:
        yield first, second


def test_a_second_holder_is_refused_until_the_first_closes(two_opens):
    first, second = two_opens
    assert filelock.try_lock(first.fileno())
    assert not filelock.try_lock(second.fileno())
    first.close()
    assert filelock.try_lock(second.fileno())


def test_lock_waits_for_the_holder(two_opens):
    first, second = two_opens
    assert filelock.try_lock(first.fileno())
    taken = threading.Event()
    waiter = threading.Thread(target=lambda: (filelock.lock(second.fileno()), taken.set()), daemon=True)
    waiter.start()
    assert not taken.wait(0.2)  # still held by the first
    first.close()
    waiter.join(timeout=30)
    assert taken.is_set()


class FakeMsvcrt(types.ModuleType):
    """``msvcrt.locking`` as Windows does it: a byte range of one file, refused to other holders."""

    LK_NBLCK = 2

    def __init__(self) -> None:
        super().__init__("msvcrt")
        self.held: dict[tuple[int, int, int], int] = {}  # (device, inode, offset) -> fd
        self.busy_tries = 0  # refuse this many more attempts, whoever asks
        self.tries = 0

    def locking(self, fd: int, mode: int, nbytes: int) -> None:
        assert (mode, nbytes) == (self.LK_NBLCK, 1)
        self.tries += 1
        info = os.fstat(fd)
        key = (info.st_dev, info.st_ino, os.lseek(fd, 0, os.SEEK_CUR))
        if self.busy_tries or self.held.get(key, fd) != fd:
            self.busy_tries = max(0, self.busy_tries - 1)
            raise OSError(errno.EACCES, "Permission denied")
        self.held[key] = fd


@pytest.fixture
def on_windows(monkeypatch: pytest.MonkeyPatch):
    """app/core/filelock.py loaded as Windows would load it, against a fake msvcrt."""
    fake = FakeMsvcrt()
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setitem(sys.modules, "msvcrt", fake)
    spec = importlib.util.spec_from_file_location("filelock_on_windows", filelock.__file__)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, fake


def test_on_windows_the_first_byte_is_locked_and_the_position_kept(on_windows, two_opens):
    module, fake = on_windows
    first, second = (f.fileno() for f in two_opens)
    os.lseek(first, 7, os.SEEK_SET)
    assert module.try_lock(first)
    info = os.fstat(first)
    assert fake.held == {(info.st_dev, info.st_ino, 0): first}
    assert os.lseek(first, 0, os.SEEK_CUR) == 7  # a reader or appender carries on where it was
    assert not module.try_lock(second)


def test_on_windows_lock_tries_again_until_the_holder_lets_go(on_windows, two_opens, monkeypatch):
    module, fake = on_windows
    monkeypatch.setattr(module, "RETRY_SECONDS", 0)
    fake.busy_tries = 3
    module.lock(two_opens[0].fileno())
    assert fake.tries == 4 and fake.held
