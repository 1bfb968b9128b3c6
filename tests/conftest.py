"""Suite-wide fixtures."""

import pytest

from app import netguard


@pytest.fixture(autouse=True)
def _no_network_guard_leaks(monkeypatch: pytest.MonkeyPatch):
    """``cli.main`` installs the process-wide network guard; take it off after each test.

    It depends on ``monkeypatch`` so it is torn down first: a test that patched
    ``socket`` itself gets its own undo after the guard has let go.
    """
    yield
    netguard.uninstall()
