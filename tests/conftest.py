"""Suite-wide fixtures."""

import pytest

from app import cli, netguard
from tests.fakes import FakeEngine


@pytest.fixture(autouse=True)
def _no_network_guard_leaks(monkeypatch: pytest.MonkeyPatch):
    """``cli.main`` installs the process-wide network guard; take it off after each test.

    It depends on ``monkeypatch`` so it is torn down first: a test that patched
    ``socket`` itself gets its own undo after the guard has let go.
    """
    yield
    netguard.uninstall()


@pytest.fixture
def fake_engine(monkeypatch: pytest.MonkeyPatch) -> FakeEngine:
    """The CLI's engine replaced by a fast stand-in (see tests/fakes.py)."""
    engine = FakeEngine()
    monkeypatch.setattr(cli, "_engine", lambda args: engine)
    return engine
