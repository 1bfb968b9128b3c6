"""One exclusive lock between processes on an open file, the same promise on every platform.

Used by the batch journal (one run per output folder), the audit log (whole lines from
concurrent exports) and the session folders (a live session is one whose marker is locked).

- POSIX: ``flock`` on the whole file. Advisory: it only stops others who also ask for it.
- Windows: ``msvcrt.locking`` on the file's first byte. Mandatory for that byte: while it is
  held, other processes can neither lock nor read or write byte 0 (the rest of the file,
  where appends go, stays usable; the holder itself is not hindered).

On both, the lock belongs to the open file and is released when it is closed (or the
process ends), so a crashed holder never leaves a folder locked.
"""

from __future__ import annotations

import os
import sys
import time

RETRY_SECONDS = 0.05  # Windows has no waiting lock without a time limit: try again this often

if sys.platform == "win32":  # tests/core/test_filelock.py runs this branch with a fake msvcrt
    import msvcrt

    def try_lock(fd: int) -> bool:
        """Take the exclusive lock on open file ``fd`` without waiting; False if another holder has it."""
        position = os.lseek(fd, 0, os.SEEK_CUR)
        os.lseek(fd, 0, os.SEEK_SET)  # msvcrt locks from the current position
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        finally:
            os.lseek(fd, position, os.SEEK_SET)
        return True

    def lock(fd: int) -> None:
        """Take the exclusive lock on open file ``fd``, waiting for another holder to let go."""
        while not try_lock(fd):
            time.sleep(RETRY_SECONDS)

else:
    import fcntl

    def try_lock(fd: int) -> bool:
        """Take the exclusive lock on open file ``fd`` without waiting; False if another holder has it."""
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def lock(fd: int) -> None:
        """Take the exclusive lock on open file ``fd``, waiting for another holder to let go."""
        fcntl.flock(fd, fcntl.LOCK_EX)
