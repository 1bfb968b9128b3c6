"""The editor page in headless Chromium against the real loopback server and js_api.

Marked `ui`: needs Playwright and Debian's Chromium (`make system-deps`), fails without them. Screenshots go to
test-artifacts/ (gitignored) for a human look.
"""

from __future__ import annotations

import io
import math
import os
import re
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.governance.policy import Policy
from tests.fakes import ResizableFakeEngine, photo
from tests.ui_harness import CHROMIUM, VIEWPORT, GatedEngine, open_page, screenshot, start_backend

pytestmark = pytest.mark.ui


@pytest.fixture(autouse=True)
def _private_dirs(tmp_path, monkeypatch):
    """Settings and caches in tmp_path, never the real user's."""
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        monkeypatch.setenv(var, str(tmp_path / var.lower()))


@pytest.fixture(scope="module")
def browser():
    from playwright import sync_api

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


class UI:
    """One page on one backend; `ui.page`, `ui.backend`, `ui.net`."""

    def __init__(self, browser, tmp_path, policy=None, engine=None, **context_args):
        self.tmp = tmp_path
        self.backend = start_backend(tmp_path, **({"policy": policy} if policy else {}),
                                     **({"engine": engine} if engine else {}))
        self.context = browser.new_context(viewport=VIEWPORT, **context_args)
        self.page, self.net = open_page(self.context, self.backend)
        self.errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def open(self, *paths: Path, via_dialog: bool = True) -> None:
        if via_dialog:
            self.backend.shell.files = [str(p) for p in paths]
            self.page.click("#open-btn")
        else:
            self.backend.api.open_paths([str(p) for p in paths])

    def wait_text(self, selector: str, pattern: str, timeout: float = 30_000) -> None:
        self.page.wait_for_function(
            "([sel, pat]) => { const n = document.querySelector(sel);"
            " return n && new RegExp(pat).test(n.textContent); }",
            arg=[selector, pattern], timeout=timeout)

    def wait_done(self, n: int, total: int) -> None:
        self.wait_text("#overall-text", rf"^{n} of {total} done")

    def dataset(self) -> dict[str, str]:
        return self.page.evaluate("({...document.querySelector('#viewport').dataset})")

    def wait_loaded(self) -> None:
        """Every tile on screen has arrived (and the preview)."""
        self.page.wait_for_function("""() => {
            const imgs = [...document.querySelectorAll('#layer-main .world img')];
            return imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 0);
        }""", timeout=30_000)

    def open_one(self, path: Path):
        """Open one photo, wait until it is cut out and shown in the editor; its Document."""
        self.open(path)
        self.wait_done(1, 1)
        self.page.wait_for_function("document.querySelector('#viewport').dataset.doc === 'd1'")
        self.wait_loaded()
        return self.backend.runner.get("d1")

    def click_edit(self, selector: str) -> None:
        """Click a button that edits the mask and wait for the new mask version on screen."""
        before = self.dataset()["version"]
        self.page.click(selector)
        self.page.wait_for_function("(v) => document.querySelector('#viewport').dataset.version !== v", arg=before)

    def wait_image(self, layer: str, part: str) -> None:
        """A loaded image whose URL contains `part` is on screen in `layer` (main or under)."""
        self.page.wait_for_function("""([layer, part]) => [...document.querySelectorAll(`#layer-${layer} img`)]
            .some(i => i.src.includes(part) && i.complete && i.naturalWidth > 0)""", arg=[layer, part])

    def close(self) -> None:
        violations = self.page.evaluate("window.__cspViolations")
        self.context.close()
        self.backend.stop()
        assert self.net.external == [], f"the page tried to reach the network: {self.net.external}"
        assert self.errors == [], f"script errors on the page: {self.errors}"
        assert violations == [], f"the Content-Security-Policy blocked: {violations}"


@pytest.fixture
def ui(browser, tmp_path):
    harness = UI(browser, tmp_path)
    yield harness
    harness.close()


def _token_url(ui: UI, path: str) -> str:
    return f"{ui.backend.url.rstrip('/')}{path}"


def test_ui_sources_follow_the_csp_and_stay_offline():
    """No inline script/style, no eval, no remote URL, no browser storage; only bridge.js touches the api."""
    ui_dir = Path(__file__).resolve().parents[2] / "ui"
    files = [p for p in ui_dir.rglob("*") if p.is_file()]
    assert (ui_dir / "index.html").is_file() and (ui_dir / "js" / "app.js").is_file()
    for path in files:
        text = path.read_text(encoding="utf-8")
        remote = [u for u in re.findall(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}[^\s\"')]*", text) if "www.w3.org" not in u]
        assert not remote, f"{path.name} refers to {remote}"
        for banned in ("eval(", "new Function", "localStorage", "sessionStorage", "document.cookie", "innerHTML"):
            assert banned not in text, f"{path.name} uses {banned}"
        if path.suffix == ".js" and path.name != "bridge.js":
            assert "pywebview" not in text, f"{path.name} touches window.pywebview (only bridge.js may)"
    html = (ui_dir / "index.html").read_text(encoding="utf-8")
    assert not re.search(r"\sstyle=", html) and not re.search(r"<script(?![^>]*\bsrc=)", html)
    assert re.search(r'<script type="module" src="js/app.js">', html)


# ---- getting started ----------------------------------------------------------------

def test_empty_state_invites_photos_and_status_bar_is_honest(ui):
    page = ui.page
    assert page.locator("#empty").is_visible()
    assert "Drop photos here" in page.inner_text("#empty")
    assert "Ctrl+O" in page.inner_text("#empty") and "Ctrl+V" in page.inner_text("#empty")
    ui.wait_text("#status-ready", "^Ready$")
    assert page.inner_text("#status-provider") == "CPU · fake"
    assert "Fake" in page.inner_text("#status-model")
    offline = page.locator("#status-offline")
    assert offline.is_visible() and offline.get_attribute("title") == "Knockout never uses the network"
    # Strict CSP: no inline styles or scripts in the page itself.
    html = (Path(__file__).resolve().parents[2] / "ui" / "index.html").read_text()
    assert " style=" not in html and "<script>" not in html
    assert page.evaluate("document.querySelectorAll('script:not([src])').length") == 0
    screenshot(page, "01-empty-light")


def test_drop_overlay_shows_on_drag_and_never_navigates(ui):
    page = ui.page
    page.evaluate("""() => {
        const dt = new DataTransfer();
        dt.items.add(new File(['x'], 'a.jpg', {type: 'image/jpeg'}));
        window.dispatchEvent(new DragEvent('dragenter', {dataTransfer: dt, bubbles: true, cancelable: true}));
        window.__over = new DragEvent('dragover', {dataTransfer: dt, bubbles: true, cancelable: true});
        document.body.dispatchEvent(window.__over);
    }""")
    assert page.locator("#drop-overlay").is_visible()
    assert page.evaluate("window.__over.defaultPrevented")
    screenshot(page, "02-drop-overlay")
    prevented = page.evaluate("""() => {
        const dt = new DataTransfer();
        dt.items.add(new File(['x'], 'a.jpg', {type: 'image/jpeg'}));
        const drop = new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true});
        document.body.dispatchEvent(drop);
        return drop.defaultPrevented;
    }""")
    assert prevented and page.locator("#drop-overlay").is_hidden()
    assert ui.backend.runner.items() == []  # the page never reads dropped files itself


def test_paste_sends_the_image_to_the_loopback_server(ui, tmp_path):
    photo(tmp_path / "clip.png", size=(120, 80))
    data = list((tmp_path / "clip.png").read_bytes())
    ui.page.evaluate("""(bytes) => {
        const dt = new DataTransfer();
        dt.items.add(new File([new Uint8Array(bytes)], 'image.png', {type: 'image/png'}));
        document.dispatchEvent(new ClipboardEvent('paste', {clipboardData: dt, bubbles: true, cancelable: true}));
    }""", data)
    ui.wait_done(1, 1)
    assert ui.page.locator(".q-item .q-name").inner_text().startswith("pasted")
    assert any("/paste?" in url and "t=" in url for url in ui.net.requests)


# ---- the queue --------------------------------------------------------------------

def test_queue_shows_each_state_and_overall_progress(browser, tmp_path):
    engine = GatedEngine()
    ui = UI(browser, tmp_path, engine=engine)
    try:
        engine.gate.set()
        ui.backend.runner.wait_idle()  # warm-up passes the gate once
        engine.gate.clear()
        for name in ("a", "b", "c"):
            photo(tmp_path / f"{name}.jpg", size=(320, 240))
        (tmp_path / "broken.jpg").write_bytes(b"this is not a picture")
        ui.open(tmp_path / "a.jpg", tmp_path / "b.jpg", tmp_path / "c.jpg", tmp_path / "broken.jpg")
        page = ui.page
        page.wait_for_selector('.q-item[data-state="working"]')
        page.wait_for_selector('.q-item[data-state="queued"]')
        assert "Cutting out" in page.inner_text('.q-item[data-state="working"] .q-state')
        assert page.locator('.q-item[data-state="working"] .q-bar').count() == 1
        assert "Waiting" in page.inner_text('.q-item[data-state="queued"] .q-state')
        ui.wait_text("#overall-text", r"^0 of 4 done")
        screenshot(page, "03-queue-working")

        # Stop a waiting photo, then try it again.
        c_row = page.locator('.q-item', has_text="c.jpg")
        c_row.get_by_role("button", name="Stop c.jpg").click()
        page.wait_for_selector('.q-item[data-state="cancelled"]')
        assert "Stopped" in c_row.inner_text()
        c_row.get_by_role("button", name="Try c.jpg again").click()
        page.wait_for_function("!document.querySelector('.q-item[data-state=\"cancelled\"]')")

        engine.gate.set()
        ui.wait_done(3, 4)
        assert "1 failed" in page.inner_text("#overall-text")
        failed = page.locator('.q-item[data-state="failed"]')
        reason = ui.backend.runner.get(failed.get_attribute("data-id")).message
        assert reason and reason[1:] in failed.inner_text()  # the reason, in plain words
        assert "Traceback" not in page.inner_text("body")
        assert page.get_attribute("#overall-bar-wrap", "aria-valuenow") == "100"
        screenshot(page, "04-queue-done-and-failed")

        # Keyboard: focus the list, arrow down moves the selection.
        first = page.locator(".q-select").first
        first.click()
        page.keyboard.press("ArrowDown")
        assert page.locator(".q-item.selected .q-name").inner_text() == "b.jpg"
        page.keyboard.press("ArrowUp")
        assert page.locator(".q-item.selected .q-name").inner_text() == "a.jpg"
        # The list is one tab stop: Tab leaves it instead of walking through every row.
        assert page.evaluate("[...document.querySelectorAll('.q-select')].map(b => b.tabIndex)") == [0, -1, -1, -1]

        # Remove one, then Clear.
        page.get_by_role("button", name="Remove broken.jpg from the list").click()
        ui.wait_text("#overall-text", r"^3 of 3 done")
        page.click("#clear-btn")  # asks first; Cancel keeps everything
        page.wait_for_selector("#confirm-dialog", state="visible")
        page.click("#confirm-cancel")
        assert len(ui.backend.runner.items()) == 3
        page.click("#clear-btn")
        page.click("#confirm-ok")
        page.wait_for_selector("#empty", state="visible")
        assert ui.backend.runner.items() == []
    finally:
        ui.close()


def test_flagged_photo_says_what_to_check(ui, tmp_path):
    img = Image.new("RGB", (400, 300), (20, 30, 40))
    img.paste((230, 200, 180), (100, 80, 300, 300))  # the subject runs off the bottom edge
    img.save(tmp_path / "cut-off.jpg")
    ui.open(tmp_path / "cut-off.jpg")
    ui.wait_done(1, 1)
    page = ui.page
    row = page.locator('.q-item[data-state="flagged"]')
    row.wait_for()
    flags = ui.backend.runner.get("d1").flags
    assert flags and flags[0]["message"] in row.inner_text()
    assert "Done, please check" in row.inner_text()
    assert "1 flagged" in page.inner_text("#overall-text")
    ui.wait_text("#stage-message", re.escape(flags[0]["message"][:20]))
    screenshot(page, "04b-flagged")


def test_a_poor_source_is_flagged_in_the_queue_with_its_reason(ui, tmp_path):
    shot = Image.new("RGB", (1600, 1200), (20, 30, 40))
    shot.paste((230, 200, 180), (400, 300, 1200, 900))
    shot.resize((800, 600)).save(tmp_path / "forwarded.jpg", quality=35)  # a messaging app's copy
    ui.open(tmp_path / "forwarded.jpg")
    ui.wait_done(1, 1)
    row = ui.page.locator('.q-item[data-state="flagged"]')
    row.wait_for()
    [flag] = ui.backend.runner.get("d1").flags
    assert flag["code"] == "recompressed" and flag["message"] in row.inner_text()
    assert "messaging app" in row.inner_text()
    screenshot(ui.page, "04c-poor-source")


# ---- the editor -----------------------------------------------------------------

def test_zoom_uses_the_preview_then_tiles_of_the_visible_area_at_the_right_level(ui, tmp_path):
    photo(tmp_path / "big.png", size=(4800, 3200))
    ui.open(tmp_path / "big.png")
    ui.wait_done(1, 1)
    page = ui.page
    page.wait_for_function("document.querySelector('#viewport').dataset.level === 'preview'")
    ui.wait_loaded()
    assert not ui.net.paths("/tile/")  # fit: the preview is sharp enough

    page.keyboard.press("1")  # 100 %
    page.wait_for_function("document.querySelector('#viewport').dataset.level === '0'")
    ui.wait_loaded()
    assert page.inner_text("#zoom-level") == "100%"
    tiles = ui.net.paths("/tile/")
    assert tiles and all("/tile/0/" in u for u in tiles)
    # Only what is visible: the stage is ~700x700 px, so at most 3x3 of the 10x7 tiles.
    assert len({re.search(r"/tile/\d+/\d+/\d+", u).group() for u in tiles}) <= 9
    assert all("t=" in u and "v=" in u for u in tiles)
    visible = page.locator("#layer-main img.tile.loaded")
    assert visible.count() >= 1
    screenshot(page, "05-zoom-100")

    # A stroke inside one tile refetches that tile only (and the preview), not the whole view.
    page.keyboard.press("e")
    sx, sy = page.evaluate("""() => {
        const b = document.querySelector('#backdrop'), vp = document.querySelector('#viewport');
        const left = parseFloat(b.style.left), top = parseFloat(b.style.top);
        const ix = vp.clientWidth / 2 - left, iy = vp.clientHeight / 2 - top;  // zoom is 1 here
        return [left + Math.floor(ix / 512) * 512 + 256, top + Math.floor(iy / 512) * 512 + 256];
    }""")
    before = len(ui.net.requests)
    _drag_stroke(page, [(sx - 10, sy), (sx + 10, sy)])
    page.wait_for_function("document.querySelector('#viewport').dataset.version === '2'")
    ui.wait_loaded()
    refetched = [u for u in ui.net.requests[before:] if "/tile/" in u]
    assert len(refetched) == 1 and "v=2" in refetched[0]
    assert len({re.search(r"/tile/\d+/\d+/\d+", u).group() for u in tiles}) > 1
    page.keyboard.press("h")

    page.keyboard.press("+")  # 125 %: pixels stay crisp, no smoothing
    page.wait_for_function("Number(document.querySelector('#viewport').dataset.zoom) > 1.2")
    ui.wait_loaded()
    rendering = page.evaluate(
        "getComputedStyle(document.querySelector('#layer-main img.tile.loaded')).imageRendering")
    assert rendering == "pixelated"

    # Zoom out to between the preview's resolution (2048/4800) and 50 %: level 1 tiles.
    before = len(ui.net.requests)
    zoom = float(ui.dataset()["zoom"])
    box = page.locator("#viewport").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, -math.log(0.47 / zoom) / 0.0015)
    page.wait_for_function("document.querySelector('#viewport').dataset.level === '1'")
    zoom = float(ui.dataset()["zoom"])
    assert 2048 / 4800 < zoom <= 0.5
    assert max(0, math.floor(math.log2(1 / zoom))) == 1
    ui.wait_loaded()
    new_tiles = [u for u in ui.net.requests[before:] if "/tile/" in u]
    assert new_tiles and all("/tile/1/" in u for u in new_tiles)
    assert page.evaluate(
        "getComputedStyle(document.querySelector('#layer-main img.tile.loaded')).imageRendering") != "pixelated"

    # Fit again: 0 and F.
    page.keyboard.press("0")
    page.wait_for_function("document.querySelector('#viewport').dataset.level === 'preview'")


def test_pan_by_drag_and_arrow_keys(ui, tmp_path):
    photo(tmp_path / "a.png", size=(1600, 1200))
    ui.open(tmp_path / "a.png", via_dialog=False)  # arrives from outside the page: still shown
    ui.wait_done(1, 1)
    page = ui.page
    page.wait_for_function("document.querySelector('#viewport').dataset.doc === 'd1'")
    page.keyboard.press("1")
    left = lambda: float(page.evaluate("parseFloat(document.querySelector('#backdrop').style.left)"))  # noqa: E731
    top = lambda: float(page.evaluate("parseFloat(document.querySelector('#backdrop').style.top)"))  # noqa: E731
    page.wait_for_function("Math.abs(Number(document.querySelector('#viewport').dataset.zoom) - 1) < 1e-6")
    page.wait_for_timeout(100)
    x0, y0 = left(), top()
    box = page.locator("#viewport").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx, cy)
    page.mouse.down()
    page.mouse.move(cx + 80, cy + 60, steps=5)
    page.mouse.up()
    page.wait_for_timeout(100)
    assert (round(left() - x0), round(top() - y0)) == (80, 60)
    page.focus("#viewport")
    page.keyboard.press("ArrowLeft")  # moves the view to the left: the photo moves right
    page.wait_for_timeout(100)
    assert round(left() - x0) == 130
    # Space + drag pans even with a brush selected.
    page.keyboard.press("e")
    page.keyboard.down(" ")
    page.mouse.move(cx, cy)
    page.mouse.down()
    page.mouse.move(cx - 30, cy, steps=3)
    page.mouse.up()
    page.keyboard.up(" ")
    page.wait_for_timeout(100)
    assert round(left() - x0) == 100
    # The middle mouse button pans too.
    page.mouse.move(cx, cy)
    page.mouse.down(button="middle")
    page.mouse.move(cx, cy + 40, steps=3)
    page.mouse.up(button="middle")
    page.wait_for_timeout(100)
    assert round(top() - y0) == 100
    assert ui.backend.runner.get("d1").edit_state()["can_undo"] is False  # no stroke was painted


def test_view_modes_original_compare_mask_and_backgrounds(ui, tmp_path):
    photo(tmp_path / "a.jpg", size=(800, 600))
    ui.open(tmp_path / "a.jpg")
    ui.wait_done(1, 1)
    page = ui.page
    page.wait_for_function("document.querySelector('#viewport').dataset.view === 'cutout'")
    page.keyboard.down("o")
    page.wait_for_function("document.querySelector('#viewport').dataset.view === 'original'")
    assert page.get_attribute("#view-original", "aria-pressed") == "true"
    page.keyboard.up("o")
    page.wait_for_function("document.querySelector('#viewport').dataset.view === 'cutout'")
    assert page.get_attribute("#view-original", "aria-pressed") == "false"

    page.click("#view-mask")
    page.wait_for_function("document.querySelector('#viewport').dataset.view === 'mask'")
    ui.wait_image("main", "view=mask")
    page.click("#view-mask")

    page.click("#view-compare")
    page.wait_for_selector("#divider", state="visible")
    ui.wait_image("under", "view=original")
    handle = page.locator("#divider-handle")
    hb = handle.bounding_box()
    page.mouse.move(hb["x"] + hb["width"] / 2, hb["y"] + hb["height"] / 2)
    page.mouse.down()
    page.mouse.move(hb["x"] - 100, hb["y"] + hb["height"] / 2, steps=4)
    page.mouse.up()
    page.wait_for_function("Number(document.querySelector('#divider-handle').getAttribute('aria-valuenow')) < 45")
    page.locator('[data-bg="checker"]').focus()
    page.keyboard.press("ArrowRight")  # radio groups work with the arrow keys
    page.wait_for_selector("#backdrop.bg-white")
    assert page.evaluate("document.activeElement.dataset.bg") == "white"
    screenshot(page, "06-compare")
    page.click("#view-compare")
    page.fill("#bg-color", "#ff0000")
    page.wait_for_selector("#backdrop.bg-custom")
    assert page.evaluate("getComputedStyle(document.querySelector('#backdrop')).backgroundColor") == "rgb(255, 0, 0)"
    page.locator('[data-bg="checker"]').click()

    # Brush size keys and the round brush cursor over the photo.
    page.keyboard.press("e")
    page.keyboard.press("]")
    assert page.inner_text("#size-out") == "46 px"
    page.keyboard.press("[")
    page.keyboard.press("[")
    assert page.input_value("#brush-size") == "33"
    box = page.locator("#viewport").bounding_box()
    page.mouse.move(box["x"] + 200, box["y"] + 200)
    page.mouse.move(box["x"] + 210, box["y"] + 200)
    drawn = page.evaluate("""() => {
        const c = document.querySelector('#overlay');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++;
        return n;
    }""")
    assert drawn > 50
    assert page.evaluate("getComputedStyle(document.querySelector('#viewport')).cursor") == "none"


def _drag_stroke(page, points):
    box = page.locator("#viewport").bounding_box()
    page.mouse.move(box["x"] + points[0][0], box["y"] + points[0][1])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(box["x"] + x, box["y"] + y, steps=4)
    page.mouse.up()


def test_brush_stroke_changes_the_mask_and_undo_redo_reset(ui, tmp_path):
    photo(tmp_path / "a.png", size=(400, 300))  # subject: the bright rectangle 100..300 x 75..225
    doc = ui.open_one(tmp_path / "a.png")
    page = ui.page
    assert doc.alpha()[150, 200] == 255
    page.keyboard.press("e")
    assert page.get_attribute('[data-tool="erase"]', "aria-checked") == "true"
    # Image point (200, 150) on screen, from the viewer's own transform.
    sx, sy, zoom = page.evaluate("""() => {
        const b = document.querySelector('#backdrop');
        const z = Number(document.querySelector('#viewport').dataset.zoom);
        return [parseFloat(b.style.left) + 200 * z, parseFloat(b.style.top) + 150 * z, z];
    }""")
    thumb_before = page.get_attribute(".q-item .q-thumb", "src")
    _drag_stroke(page, [(sx - 40, sy), (sx + 40, sy)])
    page.wait_for_function("document.querySelector('#viewport').dataset.version !== '1'")
    assert doc.alpha()[150, 200] == 0 and doc.alpha()[150, 120] == 255
    assert not page.is_disabled("#undo-btn")
    ui.wait_loaded()
    assert page.get_attribute(".q-item .q-thumb", "src") != thumb_before  # the thumbnail follows

    # The mask preview the page shows has the hole too.
    version = ui.dataset()["version"]
    png = page.evaluate("""async (v) => {
        const img = [...document.querySelectorAll('#layer-main img.preview')].pop();
        return [img.src.includes('v=' + v), img.naturalWidth];
    }""", version)
    assert png == [True, 400]
    screenshot(page, "07-after-erase")

    page.keyboard.press("Control+z")
    page.wait_for_function("document.querySelector('#redo-btn').disabled === false")
    assert doc.alpha()[150, 200] == 255
    page.keyboard.press("Control+Shift+z")
    page.wait_for_function("document.querySelector('#redo-btn').disabled === true")
    assert doc.alpha()[150, 200] == 0
    page.keyboard.press("Control+z")
    page.wait_for_function("document.querySelector('#redo-btn').disabled === false")
    page.keyboard.press("Control+y")
    page.wait_for_function("document.querySelector('#redo-btn').disabled === true")
    assert doc.alpha()[150, 200] == 0

    ui.click_edit("#reset-btn")
    assert doc.alpha()[150, 200] == 255
    assert page.is_disabled("#redo-btn") and not page.is_disabled("#undo-btn")

    # The Restore brush paints the background back in.
    page.keyboard.press("r")
    before = ui.dataset()["version"]
    _drag_stroke(page, [(sx - 150 * zoom, sy - 120 * zoom), (sx - 100 * zoom, sy - 120 * zoom)])
    page.wait_for_function("(v) => document.querySelector('#viewport').dataset.version !== v", arg=before)
    assert doc.alpha()[30, 75] == 255  # image point (75, 30): background, now restored



def test_punch_holes_button_opens_a_background_gap_or_says_there_is_none(ui, tmp_path):
    from PIL import Image

    ring = Image.new("RGB", (300, 300), (20, 30, 40))
    ring.paste((230, 200, 180), (60, 60, 240, 240))
    ring.paste((20, 30, 40), (120, 120, 180, 180))  # a background-coloured gap inside the subject
    ring.save(tmp_path / "ring.png")
    doc = ui.open_one(tmp_path / "ring.png")
    page = ui.page
    doc.replace_mask(np.pad(np.full((180, 180), 255, np.uint8), 60))  # as if the model kept the gap
    assert doc.alpha()[150, 150] == 255
    ui.click_edit("#holes-btn")
    assert doc.alpha()[150, 150] == 0 and doc.alpha()[70, 70] == 255
    assert not page.is_disabled("#undo-btn")
    page.click("#holes-btn")
    ui.wait_text("#toasts", "No enclosed gaps")


def test_recover_parts_button_brings_back_a_dropped_part_or_says_there_is_none(ui, tmp_path):
    from PIL import Image

    scene = Image.new("RGB", (300, 240), (200, 202, 205))  # a grey studio sweep
    scene.paste((190, 40, 30), (110, 130, 190, 210))  # a red pot...
    scene.paste((50, 140, 40), (90, 40, 210, 130))  # ...and the green plant above it
    scene.save(tmp_path / "plant.png")
    doc = ui.open_one(tmp_path / "plant.png")
    page = ui.page
    pot_only = np.zeros((240, 300), np.uint8)
    pot_only[130:210, 110:190] = 255
    doc.replace_mask(pot_only)  # as if the model had kept only the pot
    ui.click_edit("#recover-btn")
    assert doc.alpha()[80, 150] == 255 and doc.alpha()[10, 10] == 0
    assert not page.is_disabled("#undo-btn")
    page.click("#recover-btn")
    ui.wait_text("#toasts", "Nothing beside the subject")


# ---- export -------------------------------------------------------------------------

def test_presets_listed_and_export_writes_a_png_with_alpha(ui, tmp_path):
    photo(tmp_path / "shoe.jpg", size=(400, 300))
    ui.open(tmp_path / "shoe.jpg")
    ui.wait_done(1, 1)
    page = ui.page
    presets = page.eval_on_selector_all("#preset option", "opts => opts.map(o => o.value)")
    assert {"png-master", "marketplace", "web-webp", "mask"} <= set(presets)
    assert page.input_value("#preset") == "png-master"
    assert page.input_value("#template") == "{stem}-{preset}"
    ui.wait_text("#template-example", r"^Example: shoe-png-master\.png$")
    page.fill("#template", "{stem}-{nope}")
    ui.wait_text("#template-example", r"Unknown field \{nope\}")
    page.fill("#template", "{stem}-cut")
    ui.wait_text("#template-example", r"^Example: shoe-cut\.png$")

    out = tmp_path / "out"
    ui.backend.shell.folder = str(out)
    page.click("#folder-btn")
    page.wait_for_function("document.querySelector('#folder-path').title.endsWith('/out')")
    assert ui.backend.api.get_settings()["settings"]["output_dir"] == str(out)

    page.keyboard.press("Control+s")
    ui.wait_text("#export-result-text", r"^Exported 1 file to “out”")
    assert page.get_attribute("#export-result-text", "title") == str(out)
    written = out / "shoe-cut.png"
    assert written.is_file()
    with Image.open(written) as img:
        assert img.mode == "RGBA"
        alpha = img.getchannel("A")
        assert alpha.getpixel((5, 5)) == 0 and alpha.getpixel((200, 150)) == 255
    assert ui.backend.api.get_settings()["settings"]["template"] == "{stem}-cut"  # remembered
    ui.wait_text(".q-item .q-state", "Done · exported")
    page.click("#export-reveal")
    page.wait_for_function("true")
    assert ui.backend.shell.revealed == [str(out)]
    screenshot(page, "08-exported")

    # Export all (Ctrl+Shift+S) with the WebP preset.
    page.select_option("#preset", "web-webp")
    page.keyboard.press("Control+Shift+S")
    ui.wait_text("#export-result-text", r"^Exported 1 file to ")
    page.wait_for_function("!document.querySelector('#export-all').disabled")
    assert (out / "shoe-cut.webp").is_file()


# ---- help, settings, privacy ------------------------------------------------------

def test_question_mark_lists_every_shortcut_and_esc_closes(ui):
    page = ui.page
    page.keyboard.press("?")
    dialog = page.locator("#help-dialog")
    assert dialog.is_visible()
    text = dialog.inner_text()
    for label in ("Open photos", "Paste an image", "Hold to see the original", "Fit in window", "Zoom in / out",
                  "Erase brush", "Restore brush", "Undo", "Redo", "Export this photo", "Export all finished photos",
                  "Settings", "Smaller / bigger brush", "Move the photo (photo focused)", "Press the focused button"):
        assert label in text
    screenshot(page, "09-shortcuts")
    page.keyboard.press("Escape")
    assert dialog.is_hidden()


def test_settings_are_saved_through_the_api_not_the_browser(ui, tmp_path):
    page = ui.page
    switched = ui.backend.api.engine_switches  # a new device means a new engine (the harness records it)
    page.keyboard.press("Control+,")
    dialog = page.locator("#settings-dialog")
    assert dialog.is_visible()
    page.select_option("#set-theme", "dark")
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"  # live preview
    page.select_option("#set-device", "cpu")
    ui.backend.shell.folder = str(tmp_path / "exports")
    page.click("#set-output-btn")
    screenshot(page, "10-settings-dark")
    page.click("#settings-save")
    assert dialog.is_hidden()
    settings = ui.backend.api.get_settings()["settings"]
    assert settings["theme"] == "dark" and settings["device"] == "cpu"
    assert settings["output_dir"] == str(tmp_path / "exports")
    assert switched and switched[-1][1] == "cpu"
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    storage = page.evaluate("[localStorage.length, sessionStorage.length, document.cookie]")
    assert storage == [0, 0, ""]
    screenshot(page, "11-empty-dark")

    # Cancel puts the saved theme back.
    page.keyboard.press("Control+,")
    page.select_option("#set-theme", "light")
    assert page.evaluate("document.documentElement.dataset.theme") == "light"
    page.keyboard.press("Escape")
    page.wait_for_function("document.documentElement.dataset.theme === 'dark'")
    assert ui.backend.api.get_settings()["settings"]["theme"] == "dark"


def test_cutout_quality_switches_show_the_settings_and_save_them(ui):
    api, page = ui.backend.api, ui.page
    api.set_settings({"remove_specks": False})
    page.keyboard.press("Control+,")
    group = page.get_by_role("group", name="Cutout quality")
    assert group.is_visible()
    refine = group.get_by_role("checkbox", name="Follow the photo's edges at full resolution")
    specks = group.get_by_role("checkbox", name="Remove small specks detached from the subject")
    decontaminate = group.get_by_role("checkbox", name="Remove the old background's colour from soft edges")
    assert refine.is_checked() and decontaminate.is_checked() and not specks.is_checked()
    assert "Applies to photos opened after saving." in page.inner_text("#set-refine-edges-hint")
    assert page.locator("#set-cutout .lock-note:visible").count() == 0
    refine.focus()
    page.keyboard.press("Space")  # keyboard: Space toggles the focused switch
    page.click('label[for="set-remove-specks"]')  # the label toggles its checkbox
    decontaminate.uncheck()
    assert not refine.is_checked() and specks.is_checked()
    page.click("#settings-save")
    assert page.locator("#settings-dialog").is_hidden()
    saved = api.get_settings()["settings"]
    assert (saved["refine_edges"], saved["remove_specks"], saved["decontaminate"]) == (False, True, False)
    assert (ui.backend.runner.mask_options.refine_edges, ui.backend.runner.mask_options.remove_specks) == (False, True)
    page.keyboard.press("Control+,")  # opened again: what was saved
    assert not refine.is_checked() and specks.is_checked() and not decontaminate.is_checked()
    page.keyboard.press("Escape")


def test_automatic_recovery_is_on_in_settings_and_can_be_switched_off(ui):
    api, page = ui.backend.api, ui.page
    page.keyboard.press("Control+,")
    switch = page.get_by_role("group", name="Cutout quality").get_by_role(
        "checkbox", name="Bring back parts cut away from a plain backdrop")
    assert switch.is_checked()
    assert "comes back on its own" in page.inner_text("#set-auto-recover-hint")
    switch.scroll_into_view_if_needed()
    screenshot(page, "10c-settings-auto-recover")
    switch.uncheck()
    page.click("#settings-save")
    assert api.get_settings()["settings"]["auto_recover_parts"] is False
    assert ui.backend.runner.mask_options.auto_recover_parts is False


def test_two_views_are_the_default_and_one_can_be_chosen_in_settings(ui):
    api, page = ui.backend.api, ui.page
    page.keyboard.press("Control+,")
    views = page.get_by_role("group", name="Cutout quality").get_by_label("How the model looks at each photo")
    assert views.input_value() == "2"
    assert "about twice the model's time" in page.inner_text("#set-views-hint")
    screenshot(page, "10b-settings-views")
    views.select_option("1")
    page.click("#settings-save")
    assert page.locator("#settings-dialog").is_hidden()
    assert api.get_settings()["settings"]["views"] == 1
    assert ui.backend.runner.mask_options.views == 1
    page.keyboard.press("Control+,")
    assert views.input_value() == "1"
    page.keyboard.press("Escape")


def test_settings_locked_by_it_are_disabled_and_say_so(browser, tmp_path):
    ui = UI(browser, tmp_path, policy=Policy(lock=("theme", "output_dir", "decontaminate"), force_cpu=True,
                                             settings={"decontaminate": False}))
    try:
        page = ui.page
        page.click("#settings-btn")
        assert page.is_disabled("#set-theme") and page.is_disabled("#set-device")
        assert page.is_disabled("#set-output-btn") and not page.is_disabled("#set-model")
        assert page.locator('[data-key="theme"] .lock-note').inner_text() == "Set by your IT department"
        assert page.is_disabled("#set-decontaminate") and not page.is_checked("#set-decontaminate")
        assert page.locator('[data-key="decontaminate"] .lock-note').is_visible()
        assert not page.is_disabled("#set-refine-edges") and page.is_checked("#set-refine-edges")
        assert page.locator('[data-key="refine_edges"] .lock-note').is_hidden()
        screenshot(page, "12-settings-locked")
        page.uncheck("#set-refine-edges")
        page.click("#settings-save")  # the locked switch is not sent: saving the others works
        assert page.locator("#settings-dialog").is_hidden()
        saved = ui.backend.api.get_settings()["settings"]
        assert (saved["refine_edges"], saved["decontaminate"]) == (False, False)
        page.click("#settings-btn")
        page.click("#settings-cancel")
        assert page.is_disabled("#folder-btn")
    finally:
        ui.close()


def test_data_routes_need_the_token(ui, tmp_path):
    photo(tmp_path / "a.jpg")
    ui.open(tmp_path / "a.jpg")
    ui.wait_done(1, 1)
    ui.page.wait_for_selector(".q-thumb[src]")
    token = ui.backend.server.token
    # Every request the page made for data carried the token.
    data_requests = [u for u in ui.net.requests if "/doc/" in u or "/events" in u]
    assert data_requests and all(f"t={token}" in u for u in data_requests)
    status = ui.page.evaluate("fetch('/doc/d1/thumb').then(r => r.status)")
    assert status == 403
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(_token_url(ui, "/doc/d1/preview?view=cutout"), timeout=10)
    assert err.value.code == 403
    with urllib.request.urlopen(_token_url(ui, f"/doc/d1/thumb?t={token}"), timeout=10) as resp:
        assert Image.open(io.BytesIO(resp.read())).size[0] <= 160


def test_errors_are_plain_language_toasts(ui):
    ui.page.wait_for_function("() => true")  # let the page's event stream subscribe first
    for _ in range(100):
        if ui.backend.hub.subscribers:
            break
        ui.page.wait_for_timeout(50)
    ui.backend.hub.publish({"type": "error", "message": "The disk is full."})
    ui.wait_text("#toasts", "The disk is full.")
    result = ui.page.evaluate("import('/js/bridge.js').then(m => m.call('document', 'd999'))")
    assert result["ok"] is False and result["error"]["message"] == "That image is no longer in the list."


def test_editor_screenshots_light_dark_and_hidpi(browser, tmp_path):
    ui = UI(browser, tmp_path, device_scale_factor=2)
    try:
        for name, size in (("sneaker.jpg", (3000, 2000)), ("mug.png", (1000, 1000)), ("lamp.jpg", (900, 1400))):
            photo(tmp_path / name, size=size)
        ui.open(tmp_path / "sneaker.jpg", tmp_path / "mug.png", tmp_path / "lamp.jpg")
        ui.wait_done(3, 3)
        page = ui.page
        page.wait_for_function("document.querySelector('#viewport').dataset.doc === 'd1'")
        ui.wait_loaded()
        assert page.evaluate("window.devicePixelRatio") == 2
        screenshot(page, "13-editor-hidpi")
        page.keyboard.press("1")  # 100 % on a 2x screen: tiles at level 0 for device pixels
        page.wait_for_function("document.querySelector('#viewport').dataset.level === '0'")
        assert page.inner_text("#zoom-level") == "100%"
        page.emulate_media(color_scheme="dark")
        page.keyboard.press("0")
        ui.wait_loaded()
        screenshot(page, "14-editor-dark-system")
    finally:
        ui.close()


def test_hot_folder_exports_what_lands_in_the_watched_folder(ui, tmp_path):
    inbox, out = tmp_path / "inbox", tmp_path / "hot-out"
    inbox.mkdir()
    page = ui.page
    page.click("#watch-btn")
    page.wait_for_selector("#watch-dialog", state="visible")
    page.click("#watch-start")  # nothing chosen yet: it says what is missing
    ui.wait_text("#watch-error", "Choose the folder to watch")
    ui.backend.shell.folder = str(inbox)
    page.click("#watch-inbox-btn")
    page.wait_for_function("document.querySelector('#watch-inbox').title.endsWith('/inbox')")
    ui.backend.shell.folder = str(out)
    page.click("#watch-out-btn")
    page.wait_for_function("document.querySelector('#watch-out').title.endsWith('/hot-out')")
    page.select_option("#watch-preset", "png-master")
    screenshot(page, "15-hot-folder")
    page.click("#watch-start")
    page.wait_for_selector("#watch-dialog", state="hidden")
    assert page.inner_text("#watch-btn") == "Watching “inbox”"
    assert page.get_attribute("#watch-btn", "aria-pressed") == "true"
    ui.wait_text("#status-watch-text", "Watching “inbox” · 0 exported")

    photo(inbox / "boot.jpg", size=(320, 240))
    ui.wait_text("#status-watch-text", "1 exported", timeout=60_000)
    ui.wait_text(".q-item .q-state", "Done · exported")
    ui.wait_text("#review-history", "^Exported once in this session")  # the history line follows the hot folder
    assert page.locator("#export-progress").is_hidden()  # the Export card is not confused by it
    assert not page.is_disabled("#export-all")
    written = list(out.glob("boot*.png"))
    assert written and Image.open(written[0]).mode == "RGBA"
    ui.wait_loaded()
    os.mkfifo(inbox / "pipe.jpg")  # a file that is not read: the page names it and counts it
    ui.wait_text("#toasts", "Skipped pipe.jpg: not a regular file", timeout=30_000)
    ui.wait_text("#status-watch-text", "1 exported · 1 skipped")
    screenshot(page, "16-hot-folder-running")

    page.click("#status-watch-stop")
    page.wait_for_selector("#status-watch", state="hidden")
    assert page.inner_text("#watch-btn") == "Hot folder…"
    assert ui.backend.api.status()["watch"] is None


def test_diagnostics_report_and_clear_cache_for_it_support(ui, tmp_path, monkeypatch):
    from app.support import diagnose

    # The real report times the real model; the page's part is the same with a quick one.
    monkeypatch.setattr(diagnose, "collect", lambda device="auto", every_model=True: {"device": device})
    monkeypatch.setattr(diagnose, "render", lambda info: f"Knockout diagnostics\ndevice: {info['device']}\n")
    page = ui.page
    page.keyboard.press("Control+,")
    page.click(".it-help summary")
    page.click("#diag-run")
    page.wait_for_selector("#diag-report", state="visible")
    assert "Knockout diagnostics" in page.input_value("#diag-report")
    target = tmp_path / "report.txt"
    ui.backend.shell.save_as = str(target)
    page.click("#diag-save")
    ui.wait_text("#diag-status", "Saved to ")
    assert "device: auto" in target.read_text()
    page.click("#cache-clear")
    ui.wait_text("#toasts", "[Cc]ache")
    screenshot(page, "17-it-support")


def test_a_late_progress_event_does_not_bring_a_removed_photo_back(ui, tmp_path):
    photo(tmp_path / "a.jpg")
    ui.open(tmp_path / "a.jpg")
    ui.wait_done(1, 1)
    item = ui.backend.api.queue()["items"][0]
    ui.page.get_by_role("button", name="Remove a.jpg from the list").click()
    ui.page.wait_for_selector("#empty", state="visible")
    ui.backend.hub.publish({"type": "item", "item": {**item, "state": "working", "progress": 0.5},
                            "summary": ui.backend.api.queue()["summary"]})
    ui.backend.hub.publish({"type": "error", "message": "marker"})
    ui.wait_text("#toasts", "marker")  # events arrive in order: the stray one came first
    assert ui.page.locator(".q-item").count() == 0


def test_a_progress_tick_moves_the_bar_in_place_without_rebuilding_the_row(ui, tmp_path):
    photo(tmp_path / "a.jpg")
    ui.open(tmp_path / "a.jpg")
    ui.wait_done(1, 1)
    item = ui.backend.api.queue()["items"][0]
    summary = ui.backend.api.queue()["summary"]
    ui.backend.hub.publish({"type": "item", "item": {**item, "state": "working", "progress": 0.2}, "summary": summary})
    ui.wait_text(".q-item .q-state", "20%")
    ui.page.evaluate("window.__row = document.querySelector('.q-item .q-select')")
    ui.backend.hub.publish({"type": "item", "item": {**item, "state": "working", "progress": 0.6}, "summary": summary})
    ui.wait_text(".q-item .q-state", "60%")
    assert ui.page.evaluate("document.querySelector('.q-item .q-select') === window.__row")
    assert ui.page.evaluate("document.querySelector('.q-item .q-bar .bar-fill').style.width") == "60%"
    ui.backend.hub.publish({"type": "item", "item": item, "summary": summary})  # finished again: rebuilt
    ui.page.wait_for_function("document.querySelector('.q-item .q-select') !== window.__row")
    assert ui.page.locator(".q-item .q-bar").count() == 0


def test_a_finished_photos_picture_is_fetched_once_though_it_is_asked_for_early(ui, tmp_path):
    requests: list[str] = []
    ui.page.on("request", lambda r: requests.append(r.url) if "/preview" in r.url else None)
    photo(tmp_path / "a.jpg")
    ui.open(tmp_path / "a.jpg")
    ui.wait_done(1, 1)
    version = ui.backend.api.queue()["items"][0]["version"]
    ui.page.wait_for_selector(f"#layer-main img.preview[src*='v={version}']")
    ui.page.wait_for_timeout(300)
    cutouts = [u for u in requests if "view=cutout" in u and f"v={version}" in u]
    assert len(cutouts) == 1, requests  # the early fetch and the viewer's <img> shared one response


def test_a_preview_shows_with_its_badge_and_a_stroke_on_it_survives_the_full_answer(browser, tmp_path):
    engine = ResizableFakeEngine()  # quick answer: all foreground; full answer: the bright rectangle
    engine.hold_full.clear()
    ui = UI(browser, tmp_path, engine=engine)
    try:
        photo(tmp_path / "a.png", size=(400, 300))
        photo(tmp_path / "b.png", size=(400, 300))
        ui.open(tmp_path / "a.png", tmp_path / "b.png")
        page = ui.page
        page.wait_for_selector('.q-item[data-id="d1"][data-preview="true"]')
        page.wait_for_function("document.querySelector('#viewport').dataset.doc === 'd1'")
        ui.wait_loaded()
        assert page.is_visible("#preview-badge") and "Preview" in page.inner_text("#preview-badge")
        assert "Preview · refining" in page.inner_text('.q-item[data-id="d1"] .q-state')
        assert page.is_disabled("#holes-btn") and page.is_disabled("#export-one")
        assert not page.is_disabled("#reset-btn")
        doc = ui.backend.runner.get("d1")
        assert doc.previewing and doc.alpha()[20, 20] == 255  # the quick answer keeps the background

        page.keyboard.press("e")
        sx, sy = page.evaluate("""() => {
            const b = document.querySelector('#backdrop');
            const z = Number(document.querySelector('#viewport').dataset.zoom);
            return [parseFloat(b.style.left) + 200 * z, parseFloat(b.style.top) + 150 * z];
        }""")
        _drag_stroke(page, [(sx - 30, sy), (sx + 30, sy)])
        page.wait_for_function("!document.querySelector('#undo-btn').disabled")
        assert doc.alpha()[150, 200] == 0
        screenshot(page, "18-first-look-preview")

        engine.hold_full.set()
        ui.wait_done(2, 2)
        page.wait_for_selector("#preview-badge", state="hidden")
        assert doc.state == "done" and not doc.previewing
        assert doc.alpha()[20, 20] == 0 and doc.alpha()[150, 200] == 0  # the full answer, with the stroke
        assert doc.alpha()[100, 120] == 255
        assert not page.is_disabled("#undo-btn") and not page.is_disabled("#holes-btn")
        ui.wait_loaded()
        screenshot(page, "19-first-look-refined")
    finally:
        ui.close()
