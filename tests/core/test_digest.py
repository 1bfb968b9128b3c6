"""The one streamed sha256 (models, audit records)."""

from __future__ import annotations

import hashlib
import io

import pytest

from app.core.digest import BLOCK, sha256_file, sha256_stream


def test_a_file_larger_than_a_block_hashes_like_its_bytes(tmp_path):
    data = bytes(range(256)) * (BLOCK // 256 * 2 + 3)
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()


def test_a_stream_is_hashed_from_where_it_stands():
    fh = io.BytesIO(b"header|payload")
    fh.seek(7)
    assert sha256_stream(fh) == hashlib.sha256(b"payload").hexdigest()


def test_a_missing_file_is_an_os_error_naming_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"gone\.png"):
        sha256_file(tmp_path / "gone.png")
