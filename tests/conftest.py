"""Suite-wide fixtures."""

from pathlib import Path

import pytest

from app import cli, netguard, paths
from tests.fakes import FakeEngine


@pytest.fixture(autouse=True)
def _no_network_guard_leaks(monkeypatch: pytest.MonkeyPatch):
    """``cli.main`` installs the process-wide network guard; take it off after each test.

    It depends on ``monkeypatch`` so it is torn down first: a test that patched
    ``socket`` itself gets its own undo after the guard has let go.
    """
    yield
    netguard.uninstall()


@pytest.fixture(autouse=True)
def _private_user_folders(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Settings, caches, logs and audit trails of a test never touch the real user's folders
    (and the real user's leftovers never change a test's outcome)."""
    home = tmp_path_factory.mktemp("user")
    for var, sub in (("XDG_CONFIG_HOME", "config"), ("XDG_CACHE_HOME", "cache"), ("XDG_DATA_HOME", "data"),
                     ("XDG_STATE_HOME", "state")):
        monkeypatch.setenv(var, str(home / sub))
    monkeypatch.delenv("KNOCKOUT_POLICY_FILE", raising=False)


@pytest.fixture
def config_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """User and machine config folders under ``tmp_path``; the machine policy file (absent
    unless a test writes it) is ``tmp_path/machine/knockout-policy.json``."""
    monkeypatch.setattr(paths, "user_config_dir", lambda: tmp_path / "user")
    monkeypatch.setattr(paths, "machine_config_dir", lambda: tmp_path / "machine")
    monkeypatch.setenv("KNOCKOUT_POLICY_FILE", str(tmp_path / "machine" / "knockout-policy.json"))
    return tmp_path


@pytest.fixture
def fake_engine(monkeypatch: pytest.MonkeyPatch) -> FakeEngine:
    """The CLI's engine replaced by a fast stand-in (see tests/fakes.py)."""
    engine = FakeEngine()
    monkeypatch.setattr(cli, "_engine", lambda args: engine)
    return engine
