"""Retention: session temp folders vanish on exit, after a crash on the next start, and on "Clear cache"."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from app import paths
from app.governance import retention
from app.governance.retention import Session, cleanup_stale, clear_cache, is_live

REPO = Path(__file__).resolve().parents[2]


def test_session_folder_exists_while_open_and_is_removed_on_exit(tmp_path):
    with Session(tmp_path) as session:
        (session.path / "masks").mkdir()
        (session.path / "masks" / "a.png").write_bytes(b"x")
        assert session.path.name.startswith(f"session-{os.getpid()}-") and is_live(session.path)
    assert not session.path.exists()
    session.close()  # idempotent


def test_a_crashed_session_is_removed_on_the_next_start_but_a_live_one_is_kept(tmp_path):
    # A child process opens a session and dies without cleaning up (os._exit skips atexit).
    code = ("import os, sys; from pathlib import Path; from app.governance.retention import Session; "
            "s = Session(Path(sys.argv[1])); (s.path / 'tmp.png').write_bytes(b'x'); os._exit(9)")
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=REPO, check=False)
    crashed = [p for p in tmp_path.iterdir() if p.name.startswith("session-")]
    assert len(crashed) == 1 and not is_live(crashed[0])
    live = Session(tmp_path)  # starting removes the crashed one
    try:
        assert not crashed[0].exists() and live.path.exists()
        assert cleanup_stale(tmp_path) == 0 and live.path.exists()
    finally:
        live.close()


def test_clear_cache_removes_everything_but_live_sessions_and_the_window_address(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "user_cache_dir", lambda: tmp_path)
    (tmp_path / "coreml-cache").mkdir()
    (tmp_path / "coreml-cache" / "model.mlmodelc").write_bytes(b"x")
    (tmp_path / "old-preview.png").write_bytes(b"x")
    (tmp_path / "instance.json").write_text("{}")
    with Session() as live:
        removed = clear_cache()
        assert sorted(p.name for p in removed) == ["coreml-cache", "old-preview.png"]
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["instance.json", live.path.name])


def test_a_marker_less_folder_is_left_alone_while_young(tmp_path):
    young = tmp_path / "session-1-abcd"
    young.mkdir()
    assert is_live(young)
    old = tmp_path / "session-2-abcd"
    old.mkdir()
    os.utime(old, (0, 0))
    assert cleanup_stale(tmp_path) == 1 and young.exists() and not old.exists()
    assert retention.PREFIX == "session-"


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_the_session_folder_and_its_marker_are_private_whatever_the_umask(tmp_path, umask_022):
    with Session(tmp_path) as session:
        assert stat.S_IMODE(session.path.stat().st_mode) == 0o700
        assert stat.S_IMODE((session.path / retention.MARKER).stat().st_mode) == 0o600
