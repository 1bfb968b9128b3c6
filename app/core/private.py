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


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) and make it this user's only; returns it.

    An existing folder is tightened too, so one made by an older version stops being readable
    by others."""
    path.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    if _POSIX and stat.S_IMODE(path.stat().st_mode) != FOLDER_MODE:
        os.chmod(path, FOLDER_MODE)  # the umask may have taken bits mkdir's mode asked for
    return path


def open_private(path: Path, flags: int) -> int:
    """``os.open`` for a private file: mode 0600, refusing a symbolic link or a non-regular file.

    ``flags`` are os.O_* flags (e.g. ``O_WRONLY | O_CREAT | O_APPEND``); returns the descriptor.
    Raises OSError whose ``strerror`` names the file and the reason."""
    if not hasattr(os, "O_NOFOLLOW") and path.is_symlink():  # pragma: no cover - Windows
        raise _refused(path, errno.ELOOP, "it is a symbolic link")
    extra = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags | extra, FILE_MODE)  # O_NONBLOCK: a planted FIFO cannot hang us
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


def _refused(path: Path, code: int, why: str) -> OSError:
    return OSError(code, f"{path} is refused: {why}; the app only writes its private files itself")
