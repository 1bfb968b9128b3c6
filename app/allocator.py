"""Keep the C heap from holding on to freed image buffers (glibc only).

Photos come and go as 12-150 MB buffers from several threads. glibc raises its mmap
threshold after the first large free, so later buffers come from per-thread heaps and
are not returned to the system: a 12 MP batch then peaked at 1.3 GB instead of 0.9 GB.
A fixed 1 MiB threshold sends every large buffer straight back on free. Entry points
(the CLI, the desktop app) call this once at start; library users keep their own
allocator settings.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_MMAP_THRESHOLD = -3  # from glibc's malloc.h
MMAP_THRESHOLD = 1 << 20


def return_large_buffers() -> bool:
    """Fix glibc's mmap threshold; returns False where there is no glibc (macOS, Windows, musl)."""
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
