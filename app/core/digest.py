"""The sha256 of a file, read a block at a time (a model is hundreds of megabytes).

One function for every file the app fingerprints: the model it is about to trust, and the
source and output an audit record names.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import BinaryIO

BLOCK = 1 << 20


def sha256_stream(fh: BinaryIO) -> str:
    """Hex sha256 of what is left to read in ``fh``."""
    digest = hashlib.sha256()
    for block in iter(lambda: fh.read(BLOCK), b""):
        digest.update(block)
    return digest.hexdigest()


def sha256_file(path: Path) -> str:
    """Hex sha256 of the file at ``path``; OSError if it cannot be read."""
    with open(path, "rb") as fh:
        return sha256_stream(fh)
