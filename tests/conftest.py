"""Suite-wide fixtures, and what each test tier needs before it runs."""

import importlib.util
import os
import shutil
from pathlib import Path

import pytest

from app import cli, paths
from app.governance import netguard
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
    unless a test writes it) is ``tmp_path/machine/knockout-policy.json``. It is read as the
    machine's own policy, so ``KNOCKOUT_POLICY_FILE`` is not needed (and could not replace it)."""
    monkeypatch.setattr(paths, "user_config_dir", lambda: tmp_path / "user")
    monkeypatch.setattr(paths, "machine_config_dir", lambda: tmp_path / "machine")
    return tmp_path


@pytest.fixture
def fake_engine(monkeypatch: pytest.MonkeyPatch) -> FakeEngine:
    """The CLI's engine replaced by a fast stand-in (see tests/fakes.py)."""
    engine = FakeEngine()
    monkeypatch.setattr(cli.options, "engine_for", lambda args: engine)
    return engine


def _tier_needs(marker: str) -> str | None:
    """Why a test of this tier cannot run here, or None. Missing pieces fail the test rather than
    skip it: `make test` installs them all, and a skipped tier would hide that it no longer works."""
    if marker == "model":
        missing = [name for name in ("isnet-medium.onnx", "isnet-medium-int8.onnx")
                   if not (paths.bundled_models_dir() / name).is_file()]
        if missing:
            return f"the real model is missing ({', '.join(missing)}): run `make setup` (models/fetch.py)"
    if marker == "ui":
        from tests.ui_harness import CHROMIUM

        if not os.path.exists(CHROMIUM):
            return f"no Chromium at {CHROMIUM}: run `make system-deps` (Debian package chromium)"
        if importlib.util.find_spec("playwright") is None:
            return "Playwright is not installed: pip install -e '.[dev]'"
    if marker == "window" and shutil.which("Xvfb") is None:
        return "Xvfb is not installed: run `make system-deps` (Debian package xvfb)"
    return None


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker in ("model", "ui", "window"):
        if item.get_closest_marker(marker) and (reason := _tier_needs(marker)):
            pytest.fail(f"{item.nodeid} is a `{marker}` test and cannot run: {reason}", pytrace=False)


@pytest.fixture
def umask_022():
    """The common umask (files 0644, folders 0755), so a test can see the app's private files
    stay 0600/0700 regardless."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)
