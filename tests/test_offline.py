"""The product works with no network at all and never tries to reach one."""

import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

REPO = Path(__file__).resolve().parent.parent


def _unshare_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0


@pytest.mark.model
def test_full_cutout_with_every_outbound_connection_refused(tmp_path, monkeypatch):
    """In-process: any socket connect to a non-loopback address fails the test."""
    attempts = []
    real_connect = socket.socket.connect

    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if host not in ("127.0.0.1", "::1", "localhost"):
            attempts.append(address)
            raise OSError("network access attempted during a cutout")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    from app import cli

    assert cli.main(["cut", str(REPO / "app" / "assets" / "sample-coffee.jpg"), "-o", str(tmp_path), "-q"]) == 0
    assert attempts == []
    assert (tmp_path / "sample-coffee.png").is_file()


@pytest.mark.model
@pytest.mark.skipif(not _unshare_works(), reason="`unshare -n` (a network namespace) is not permitted here")
def test_cli_works_in_a_network_namespace_without_interfaces(tmp_path):
    proc = subprocess.run(
        ["unshare", "-n", sys.executable, "-m", "app", "sample", "-o", str(tmp_path)],
        capture_output=True, text=True, timeout=300, cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr
    with Image.open(tmp_path / "sample-coffee.png") as out:
        assert out.mode == "RGBA"
