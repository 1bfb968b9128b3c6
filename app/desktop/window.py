"""The desktop window: pywebview showing the bundled editor from the loopback server.

Start-up order is chosen so the window paints at once: the network guard goes on, a
second launch hands its files to the running window and exits, then the server and the
job runner start (the runner warms the model up in the background) and the window opens.
Qt on Linux, WebView2 on Windows, WKWebView on macOS.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app import paths
from app.core.private import open_private, private_dir
from app.governance import netguard
from app.inference.providers import DEVICES

log = logging.getLogger(__name__)

# When each start-up step finished (time.perf_counter), for bench/app_latency.py --breakdown.
STARTUP: dict[str, float] = {}
IMAGE_TYPES = ("Images (*.jpg;*.jpeg;*.png;*.webp;*.tif;*.tiff;*.heic;*.heif;*.bmp;*.gif)", "All files (*.*)")
TITLE = "Knockout"


class WindowShell:
    """Native dialogs and the file manager, for the bridge (see app.desktop.bridge.Shell)."""

    def __init__(self) -> None:
        self.window: Any = None

    def open_files(self) -> list[str]:
        import webview

        chosen = self.window.create_file_dialog(webview.FileDialog.OPEN, allow_multiple=True, file_types=IMAGE_TYPES)
        return list(chosen or [])

    def choose_folder(self) -> str | None:
        import webview

        chosen = self.window.create_file_dialog(webview.FileDialog.FOLDER)
        return str(chosen[0]) if chosen else None

    def save_file(self, suggested_name: str) -> str | None:
        import webview

        chosen = self.window.create_file_dialog(webview.FileDialog.SAVE, save_filename=suggested_name)
        if not chosen:
            return None
        return str(chosen if isinstance(chosen, str) else chosen[0])

    def reveal(self, folder: str) -> None:
        if sys.platform == "win32":
            os.startfile(folder)  # type: ignore[attr-defined]
        else:
            opener = "open" if sys.platform == "darwin" else "xdg-open"
            subprocess.Popen([opener, folder], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="knockout app", description="Open the Knockout window.")
    parser.add_argument("files", nargs="*", help="photos or folders to open")
    parser.add_argument("--device", choices=DEVICES, help="override the device setting for this run")
    parser.add_argument("--new-window", action="store_true", help="do not hand files to a running window")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    files = [str(Path(f).resolve()) for f in args.files]
    return run(files, device=args.device, single_instance=not args.new_window)


def run(files: list[str], device: str | None = None, single_instance: bool = True,
        on_started: Callable[[Any, Any], None] | None = None) -> int:
    """Open the window (blocks until it closes). ``on_started(window, api)`` runs on its own
    thread once the page has loaded: the Xvfb test and the benchmark drive the app with it."""
    netguard.install()
    _log_to_file()
    from app.desktop.instance import Listener, hand_over

    lock_file = paths.user_cache_dir() / "instance.json"
    if single_instance and hand_over(lock_file, files):
        print("Knockout is already open: the files were added to its window.")
        return 0
    os.environ.setdefault("QT_API", "pyside6")  # LGPL binding; the one the installer ships
    try:
        import webview
    except ImportError:
        print("The desktop window needs pywebview: pip install 'knockout[gui]'", file=sys.stderr)
        return 2
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        print("No display found: the Knockout window needs a desktop session (use `knockout cut` on servers).",
              file=sys.stderr)
        return 2
    _qt_flags()

    from app.core.decode import DEFAULT_MAX_PIXELS
    from app.desktop import model_choice
    from app.desktop.bridge import Api, Pasteboard
    from app.desktop.events import EventHub
    from app.desktop.exporting import mask_options
    from app.desktop.jobs import JobRunner
    from app.desktop.server import LoopbackServer
    from app.governance.policy import PolicyError, load_policy
    from app.governance.retention import Session
    from app.governance.settings import load_settings
    from app.inference.manifest import discover

    STARTUP["imported"] = time.perf_counter()

    try:
        policy = load_policy()
    except PolicyError as exc:  # fail closed: IT's policy is broken, so we do not run without it
        log.error("%s", exc)
        print(f"Knockout cannot start: {exc}", file=sys.stderr)
        return 3
    settings = load_settings(policy).values
    chosen_device = "cpu" if policy.force_cpu else (device or settings.get("device", "auto"))
    catalogue = discover()
    model = model_choice.choose(catalogue, policy, settings, chosen_device)  # someone's, or the fastest here

    def engine() -> Any:
        from app.inference.engine import Engine

        return Engine(model=model.model, device=chosen_device, catalogue=catalogue)

    max_pixels = int(policy.max_megapixels * 1_000_000) if policy.max_megapixels else DEFAULT_MAX_PIXELS
    with Session() as session:
        hub = EventHub()
        runner = JobRunner(engine, hub, session.path / "masks", max_pixels=max_pixels,
                           mask_options=mask_options(settings), model_note=model.note)
        private_dir(session.path / "masks")
        shell = WindowShell()
        server = LoopbackServer(paths.ui_dir(), runner.get, hub)
        api = Api(runner, server.token, shell, policy, engine_factory=model_choice.engine_factory(catalogue, policy))
        server.on_paste = Pasteboard(runner, session.path / "pasted").open

        def open_from_outside(new: list[str]) -> None:
            added, errors = runner.add(new)
            hub.publish({"type": "opened", "ids": [item["id"] for item in added]})
            for error in errors:
                hub.publish({"type": "error", "message": f"{Path(error['path']).name}: {error['message']}"})

        listener = Listener(lock_file, open_from_outside) if single_instance else None
        webview.settings["ALLOW_FILE_URLS"] = False
        webview.settings["OPEN_EXTERNAL_LINKS_IN_BROWSER"] = False
        webview.settings["ALLOW_DOWNLOADS"] = False
        window: Any = webview.create_window(TITLE, server.url, js_api=api, width=1280, height=800,
                                       min_size=(960, 600), background_color="#1e1f22")
        shell.window = window
        loaded_once = threading.Event()

        def on_loaded() -> None:
            if loaded_once.is_set():
                return
            STARTUP["loaded"] = time.perf_counter()
            loaded_once.set()
            _attach_drop_handler(window, open_from_outside)
            runner.warm()  # after the first paint: loading the model competes with it for the cores
            if files:
                open_from_outside(files)
            # never measured on this CPU: time the variants when the worker has nothing else to do
            model_choice.measure_in_background(runner, catalogue, policy, settings, chosen_device, model.model)
            if on_started is not None:
                threading.Thread(target=on_started, args=(window, api), name="knockout-driver", daemon=True).start()

        window.events.loaded += on_loaded
        window.events.shown += lambda: STARTUP.setdefault("shown", time.perf_counter())
        server.start()
        runner.start(warm=False)
        if listener:
            listener.start()
        STARTUP["starting"] = time.perf_counter()
        try:
            webview.start(gui="qt" if sys.platform.startswith("linux") else None, private_mode=True,
                          debug=bool(os.environ.get("KNOCKOUT_DEVTOOLS")))
        finally:
            if listener:
                listener.close()
            api.watch_stop()
            runner.stop()
            server.stop()
    return 0


def _attach_drop_handler(window: Any, open_paths: Callable[[list[str]], None]) -> None:
    """Full paths of dropped files come from pywebview's native drop support, never the page."""
    from webview.dom import DOMEventHandler

    def on_drop(event: dict[str, Any]) -> None:
        files = event.get("dataTransfer", {}).get("files", [])
        dropped = [f["pywebviewFullPath"] for f in files if f.get("pywebviewFullPath")]
        if dropped:
            open_paths(dropped)

    window.dom.document.events.drop += DOMEventHandler(on_drop, prevent_default=True, stop_propagation=True)


def _qt_flags() -> None:
    """QtWebEngine refuses to start its sandbox as root (CI, containers); software GL without a GPU."""
    if sys.platform.startswith("linux") and hasattr(os, "geteuid") and os.geteuid() == 0:
        flags = os.environ.get("QTWEBENGINE_CHROMIUM_FLAGS", "")
        if "--no-sandbox" not in flags:
            os.environ["QTWEBENGINE_CHROMIUM_FLAGS"] = (flags + " --no-sandbox").strip()


LOG_NAME = "knockout-app.log"


def _log_to_file() -> None:
    """Windowed builds have no console: warnings and errors go to the user log folder."""
    with contextlib.suppress(OSError):
        # The log names the user's files: private like the audit log (app.core.private).
        fd = open_private(private_dir(paths.user_log_dir()) / LOG_NAME, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        handler = logging.StreamHandler(open(fd, "a", encoding="utf-8"))  # noqa: SIM115 - lives with the process
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.setLevel(logging.INFO)
        logging.getLogger().addHandler(handler)
        logging.getLogger().setLevel(logging.INFO)
