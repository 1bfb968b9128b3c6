"""The real window: pywebview + Qt under Xvfb, the real model, a real photo, a real export.

Slow (tens of seconds on two cores) but it is the one test that proves the pieces meet:
page → js_api → job runner → model → loopback tiles → export. The screenshot lands in
test-artifacts/ for a person to look at.
"""

import importlib
import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from app import paths

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(scope="module")
def display():
    """A virtual X screen (tests marked `window` fail without Xvfb: see tests/conftest.py)."""
    for number in range(97, 120):
        if not Path(f"/tmp/.X11-unix/X{number}").exists() and not Path(f"/tmp/.X{number}-lock").exists():
            break
    proc = subprocess.Popen(["Xvfb", f":{number}", "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 10
    while not Path(f"/tmp/.X11-unix/X{number}").exists():
        if time.time() > deadline or proc.poll() is not None:
            proc.kill()
            pytest.fail("Xvfb did not start")
        time.sleep(0.1)
    yield f":{number}"
    proc.terminate()
    proc.wait(10)


@pytest.mark.window
@pytest.mark.model
def test_the_window_opens_a_photo_cuts_it_out_and_exports_it(display, tmp_path):
    for module in ("webview", "qtpy.QtWebEngineWidgets"):
        try:
            importlib.import_module(module)
        except ImportError as exc:
            pytest.fail(f"{module} does not import ({exc}): install the window's extras, pip install -e '.[gui]'")
    ARTIFACTS.mkdir(exist_ok=True)
    env = _window_env(display, tmp_path / "home")
    result_file, outdir, shot = tmp_path / "result.json", tmp_path / "out", ARTIFACTS / "window.png"
    shot.unlink(missing_ok=True)
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "window_driver.py"), str(result_file),
                           str(paths.sample_photo()), str(outdir), str(shot)],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result_file.exists(), f"the window did not run the driver:\n{proc.stdout}\n{proc.stderr[-3000:]}"
    result = json.loads(result_file.read_text())
    assert "error" not in result, result.get("error")
    assert result["status"]["ready"] and result["status"]["offline"]
    assert result["status"]["provider"].startswith("CPU")
    assert result["item"]["state"] in ("done", "flagged")
    # a first look from the quick pass came first, on the canvas with its badge, then the full answer
    assert result["preview_seen"] and result["first_look_s"] <= result["full_answer_s"]
    assert "preview_screenshot" in result, result.get("preview_screenshot_error")
    assert result["stroke_tile_status"] == 200
    assert result["no_token_status"] == 403
    (exported,) = result["exported"]
    with Image.open(exported) as img:
        assert img.mode == "RGBA"
        alpha = img.getchannel("A")
        assert alpha.getextrema() == (0, 255)  # a real cutout: transparent and opaque parts
    assert "screenshot_error" not in result, f"no screenshot of the window: {result['screenshot_error']}"
    assert Path(shot).exists(), f"the driver reported {shot} but wrote nothing"
    with Image.open(shot) as picture:
        assert picture.size == (1280, 800)
        assert len(picture.convert("L").getcolors(1 << 16) or ()) > 50  # the editor, not a blank screen
    assert proc.returncode == 0


@pytest.mark.window
@pytest.mark.model
def test_the_window_approves_a_photo_and_its_export_and_audit_record_say_so(display, tmp_path):
    """Review in the real window: Approve on the page, then Export approved; the file is written and
    its audit record and sidecar carry the decision."""
    ARTIFACTS.mkdir(exist_ok=True)
    result_file, outdir, shot = tmp_path / "result.json", tmp_path / "out", ARTIFACTS / "window-review.png"
    shot.unlink(missing_ok=True)
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "window_driver.py"), str(result_file),
                           str(paths.sample_photo()), str(outdir), str(shot), "review"],
                          env=_window_env(display, tmp_path / "home"), cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert result_file.exists(), f"the window did not run the driver:\n{proc.stdout}\n{proc.stderr[-3000:]}"
    result = json.loads(result_file.read_text())
    assert "error" not in result, result.get("error")
    assert result["review"]["state"] == "approved" and result["review_badge"] == "Approved"
    (exported,) = result["exported"]
    with Image.open(exported) as img:
        assert img.mode == "RGBA" and img.getchannel("A").getextrema() == (0, 255)
    (record,) = result["audit"]
    assert record["output"]["path"] == str(Path(exported).resolve())
    assert record["review"]["decision"] == "approved" and record["review"]["reviewer"]
    sidecar = json.loads(Path(exported + ".json").read_text())
    assert sidecar["review"] == record["review"]
    assert "screenshot_error" not in result, result.get("screenshot_error")
    assert proc.returncode == 0


def _window_env(display: str, home: Path) -> dict[str, str]:
    return {**os.environ, "DISPLAY": display, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_CACHE_HOME": str(home / ".cache"), "XDG_DATA_HOME": str(home / ".local/share"),
            "XDG_STATE_HOME": str(home / ".local/state"), "QT_QPA_PLATFORM": "xcb", "LIBGL_ALWAYS_SOFTWARE": "1",
            "QTWEBENGINE_CHROMIUM_FLAGS": "--no-sandbox --disable-gpu --disable-gpu-compositing"}


class _Events:
    def __init__(self):
        self.handlers = []

    def __iadd__(self, handler):
        self.handlers.append(handler)
        return self


class _FakeWindow:
    def __init__(self):
        from types import SimpleNamespace

        self.drop = _Events()
        self.dom = SimpleNamespace(document=SimpleNamespace(events=SimpleNamespace(drop=self.drop)))


def test_dropped_files_are_opened_by_their_full_paths_from_the_native_side():
    pytest.importorskip("webview")
    from app.desktop.window import _attach_drop_handler

    window, opened = _FakeWindow(), []
    _attach_drop_handler(window, opened.append)
    (handler,) = window.drop.handlers
    assert handler.prevent_default
    handler.callback({"dataTransfer": {"files": [
        {"name": "a.jpg", "pywebviewFullPath": "/photos/a.jpg"},
        {"name": "b.png"},  # a page-made file object without a native path is ignored
    ]}})
    assert opened == [["/photos/a.jpg"]]
    handler.callback({"dataTransfer": {"files": []}})
    assert opened == [["/photos/a.jpg"]]


def test_the_window_refuses_to_start_without_a_display(monkeypatch, capsys):
    pytest.importorskip("webview")
    from app.desktop import window

    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr("app.desktop.instance.hand_over", lambda lock, files: False)
    monkeypatch.setattr(window, "_log_to_file", lambda: None)
    assert window.run([], single_instance=True) == 2
    assert "No display found" in capsys.readouterr().err


def test_reveal_opens_the_folder_with_the_desktop_file_manager(monkeypatch):
    from app.desktop import window

    calls = []
    monkeypatch.setattr(window.subprocess, "Popen", lambda args, **kw: calls.append(args))
    monkeypatch.setattr(sys, "platform", "linux")
    window.WindowShell().reveal("/tmp/out")
    assert calls == [["xdg-open", "/tmp/out"]]


def test_a_screenshot_that_cannot_be_taken_says_which_tool_failed_and_what_it_said(tmp_path, monkeypatch):
    from tests.window_driver import take_screenshot

    monkeypatch.setenv("DISPLAY", ":4242")  # no X server there
    shot = tmp_path / "shot.png"
    result = take_screenshot(str(shot))
    assert "screenshot" not in result
    assert result["screenshot_error"].startswith("PIL.ImageGrab.grab(xdisplay=':4242') failed: ")
    assert len(result["screenshot_error"]) > len("PIL.ImageGrab.grab(xdisplay=':4242') failed: ") + 5
    assert not shot.exists()


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_the_app_log_is_private_and_never_written_through_a_symlink(tmp_path, monkeypatch, umask_022):
    import logging

    from app.desktop import window

    monkeypatch.setattr(paths, "user_log_dir", lambda: tmp_path / "logs")
    root = logging.getLogger()
    before = list(root.handlers)
    try:
        window._log_to_file()
        (added,) = [h for h in root.handlers if h not in before]
        logging.getLogger("knockout.test").warning("opened photo.jpg")
        added.flush()
        log = tmp_path / "logs" / window.LOG_NAME
        assert "opened photo.jpg" in log.read_text()
        assert stat.S_IMODE(log.stat().st_mode) == 0o600
        assert stat.S_IMODE((tmp_path / "logs").stat().st_mode) == 0o700
        root.removeHandler(added)
        added.close()
        log.unlink()
        victim = tmp_path / "victim.txt"
        victim.write_text("keep me")
        log.symlink_to(victim)
        window._log_to_file()  # refused quietly: no log rather than someone else's file
        assert [h for h in root.handlers if h not in before] == []
        assert victim.read_text() == "keep me"
    finally:
        for handler in [h for h in root.handlers if h not in before]:
            root.removeHandler(handler)
            handler.close()
