"""The app's own files (audit log, session folder, spilled masks, the instance address) are
for this user only: folders 0700 and files 0600 whatever the umask, and never written
through a symbolic link or into something that is not a regular file.

Outputs the user asked for are not private: they keep the umask's permissions (see
``app.core.atomic``).
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

FOLDER_MODE = 0o700
FILE_MODE = 0o600
_POSIX = os.name == "posix"


def private_dir(path: Path, exist_ok: bool = True) -> Path:
    """Create ``path`` (and missing parents) and make it this user's only; returns it.

    An existing folder is tightened too, so one made by an older version stops being readable
    by others (``exist_ok=False``: it must be new)."""
    path.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=exist_ok)
    if _POSIX and stat.S_IMODE(path.stat().st_mode) != FOLDER_MODE:
        os.chmod(path, FOLDER_MODE)  # the umask may have taken bits mkdir's mode asked for
    return path


def open_private(path: Path, flags: int) -> int:
    """``os.open`` for a private file: mode 0600, refusing a symbolic link or a non-regular file.

    ``flags`` are os.O_* flags (e.g. ``O_WRONLY | O_CREAT | O_APPEND``); returns the descriptor.
    Raises OSError whose ``strerror`` names the file and the reason."""
    if not hasattr(os, "O_NOFOLLOW") and path.is_symlink():  # pragma: no cover - Windows
        raise _refused(path, errno.ELOOP, "it is a symbolic link")
    # O_NONBLOCK: a named pipe planted there cannot hang us; O_BINARY: no newline translation
    # on Windows (spilled masks are PNG bytes).
    extra = 0
    for name in ("O_NOFOLLOW", "O_NONBLOCK", "O_CLOEXEC", "O_BINARY"):
        extra |= getattr(os, name, 0)
    try:
        fd = os.open(path, flags | extra, FILE_MODE)
    except OSError as exc:
        if exc.errno == errno.ELOOP or (exc.errno == errno.ENXIO and not path.is_file()):
            raise _refused(path, exc.errno, "it is a symbolic link" if path.is_symlink()
                           else "it is not a regular file") from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _refused(path, errno.EINVAL, "it is not a regular file")
        if _POSIX:
            os.set_blocking(fd, True)
            if stat.S_IMODE(info.st_mode) != FILE_MODE:
                os.fchmod(fd, FILE_MODE)
    except BaseException:
        os.close(fd)
        raise
    return fd


class RefusedFile(OSError):
    """A private file that is not used because of what is there: ``reason`` says what."""

    def __init__(self, path: Path, code: int, reason: str) -> None:
        super().__init__(code, f"will not write to {path}: {reason}")
        self.reason = reason


def _refused(path: Path, code: int, why: str) -> RefusedFile:
    return RefusedFile(path, code, why)
