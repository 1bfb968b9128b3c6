"""Helpers for the browser tests of the editor page (tests/desktop/test_ui.py).

The page runs in headless Chromium against the REAL loopback server and js_api ``Api``
(with a FakeEngine). The js_api stand-in forwards ``window.pywebview.api.<name>(...)``
to the same Python object through Playwright's ``expose_function``, so the page talks
to exactly what the desktop window would give it. Every request that is not to
127.0.0.1 is aborted and recorded; the tests fail if there is any.
"""

from __future__ import annotations

import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from app import paths
from app.desktop.bridge import Api, Pasteboard
from app.desktop.events import EventHub
from app.desktop.jobs import JobRunner
from app.desktop.server import LoopbackServer
from app.governance.policy import NO_POLICY, Policy
from tests.fakes import FakeEngine

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
VIEWPORT = {"width": 1280, "height": 800}
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"

# window.pywebview as the desktop window provides it, forwarding to Python.
# `then` must stay undefined: the page awaits the api object, and a thenable would hang.
STAND_IN = """
(() => {
  const api = new Proxy({}, {
    get: (_, name) => (typeof name === 'string' && name !== 'then')
      ? (...args) => window.__knockoutCall(name, args)
      : undefined,
  });
  window.pywebview = { api };
  const ready = () => window.dispatchEvent(new Event('pywebviewready'));
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', ready);
  else ready();
})();
"""


# Anything the page's Content-Security-Policy blocks (inline style, eval, remote URL) is recorded.
CSP_WATCH = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation',
  (e) => window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
"""


class FakeShell:
    """What only the native window can do: the Open dialog, the folder chooser, reveal."""

    def __init__(self) -> None:
        self.files: list[str] = []
        self.folder: str | None = None
        self.save_as: str | None = None
        self.revealed: list[str] = []

    def open_files(self) -> list[str]:
        return list(self.files)

    def choose_folder(self) -> str | None:
        return self.folder

    def save_file(self, suggested_name: str) -> str | None:
        return self.save_as

    def reveal(self, folder: str) -> None:
        self.revealed.append(folder)


class GatedEngine(FakeEngine):
    """A FakeEngine that waits at each inference until the test opens the gate."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()

    def infer(self, tensor: Any) -> Any:
        self.gate.wait(30)
        return super().infer(tensor)


@dataclass
class Backend:
    api: Api
    runner: JobRunner
    server: LoopbackServer
    hub: EventHub
    shell: FakeShell
    engine: FakeEngine

    @property
    def url(self) -> str:
        return self.server.url

    def stop(self) -> None:
        if isinstance(self.engine, GatedEngine):
            self.engine.gate.set()
        self.runner.stop()
        self.server.stop()


def start_backend(tmp_path: Path, policy: Policy = NO_POLICY, engine: FakeEngine | None = None) -> Backend:
    """The loopback server + job runner + Api, as app/desktop/window.py wires them, minus the window."""
    engine = engine or FakeEngine()
    hub = EventHub()
    spill = tmp_path / "session" / "masks"
    spill.mkdir(parents=True, exist_ok=True)
    runner = JobRunner(lambda: engine, hub, spill)
    shell = FakeShell()
    server = LoopbackServer(paths.ui_dir(), runner.get, hub)
    switches: list[tuple[str | None, str]] = []

    def engine_factory(model: str | None, device: str) -> FakeEngine:
        switches.append((model, device))  # a new model/device: record it, keep the fast fake
        return engine

    api = Api(runner, server.token, shell, policy, engine_factory=engine_factory)
    api.engine_switches = switches  # type: ignore[attr-defined]
    server.on_paste = Pasteboard(runner, tmp_path / "session" / "pasted").open
    server.start()
    runner.start()
    runner.wait_idle()
    return Backend(api, runner, server, hub, shell, engine)


@dataclass
class Network:
    """Every request the page made, and the ones that were not to 127.0.0.1 (aborted)."""

    requests: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)

    def paths(self, contains: str) -> list[str]:
        return [u for u in self.requests if contains in u]


def open_page(context: Any, backend: Backend) -> tuple[Any, Network]:
    """A page with the js_api stand-in and the network guard, loaded from the real server."""
    net = Network()
    page = context.new_page()

    def guard(route: Any) -> None:
        url = route.request.url
        if urlsplit(url).hostname == "127.0.0.1" or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            net.external.append(url)
            route.abort()

    page.route("**/*", guard)
    page.on("request", lambda request: net.requests.append(request.url))

    def forward(name: str, args: list[Any]) -> Any:
        method = getattr(backend.api, name, None)
        if name.startswith("_") or not callable(method):
            return {"ok": False, "error": {"code": "unknown", "message": f"No such call {name}"}}
        return method(*args)

    page.expose_function("__knockoutCall", forward)
    page.add_init_script(CSP_WATCH)
    page.add_init_script(STAND_IN)
    page.goto(backend.url)
    page.wait_for_function("document.documentElement.dataset.ready === 'true'")
    return page, net


def screenshot(page: Any, name: str, axe: bool = True) -> Path:
    """A picture of the page for a person to look at; every state pictured is also checked by axe."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    if axe:
        axe_check(page, name)
    return path


# WCAG 2.1 level A and AA: what the app promises (issue "every colleague can use it").
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
AXE_RUN = """async (tags) => {
  const result = await window.axe.run(document,
    { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] });
  return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map((n) => `${n.target.join(' ')}: ${(n.failureSummary || '').replace(/\\s+/g, ' ')}`) }));
}"""


def axe_check(page: Any, state: str = "") -> None:
    """Run axe-core (WCAG 2.1 A/AA) on the page as it is now; fails with each violation and its elements.

    axe is evaluated through the DevTools protocol, which the page's Content-Security-Policy does
    not govern, so the test needs no `bypass_csp` and the CSP watch stays meaningful. It comes
    from .cache/ (tests/vendor/fetch_axe.py), never from ui/.
    """
    from tests.vendor import fetch_axe

    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(fetch_axe.fetch().read_text(encoding="utf-8"))
    violations = page.evaluate(AXE_RUN, AXE_TAGS)
    lines = [f"{v['id']} ({v['impact']}): {v['help']}\n    " + "\n    ".join(v["nodes"][:6]) for v in violations]
    assert not violations, f"axe found {len(violations)} WCAG 2.1 A/AA problem(s) in {state or 'the page'}:\n" + (
        "\n".join(lines))
