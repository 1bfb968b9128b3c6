import subprocess
import sys

import pytest

from app import allocator

SCRIPT = """
import numpy as np
from app import allocator
if {tuned}:
    assert allocator.return_large_buffers()
def rss():
    return int(open('/proc/self/statm').read().split()[1]) * 4096 >> 20
first = np.ones(16 << 20, np.uint8)
del first  # by default this raises glibc's mmap threshold to 16 MB
masks = [np.ones(4 << 20, np.uint8) for _ in range(6)]  # 24 MB of 4 MB buffers, like masks
before = rss()
del masks
print(before - rss())
"""


def _freed_mb(tuned: bool) -> int:
    out = subprocess.run([sys.executable, "-c", SCRIPT.format(tuned=tuned)], capture_output=True, text=True,
                         check=True)
    return int(out.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc tuning only applies on Linux")
def test_freed_image_sized_buffers_go_back_to_the_system():
    assert _freed_mb(tuned=True) >= 20
    # the control shows what the tuning prevents: the same buffers stay resident by default
    assert _freed_mb(tuned=False) < 20


def test_is_a_harmless_no_op_without_glibc(monkeypatch):
    monkeypatch.setattr(allocator.sys, "platform", "darwin")
    assert allocator.return_large_buffers() is False
