"""The editor with the keyboard alone (headless Chromium, the real loopback server and js_api).

A colleague who cannot use a mouse opens a photo, punches holes in its cutout, approves it and
exports it; not one mouse or pointer event reaches the page, and axe checks each state.
Dialogs keep the focus inside, close with Esc and give the focus back to what opened them.
"""

from __future__ import annotations

import re

import pytest
from PIL import Image

from tests.desktop.test_ui import UI, _private_dirs, browser  # noqa: F401  (fixtures used by name)
from tests.ui_harness import ARTIFACTS, axe_check, screenshot

pytestmark = pytest.mark.ui

# Every trusted mouse/pointer event the page sees; keyboard "clicks" (Enter, Space) have detail 0.
MOUSE_WATCH = """
window.__mouseEvents = [];
for (const type of ['mousedown', 'mouseup', 'mousemove', 'pointerdown', 'pointerup', 'pointermove', 'wheel', 'click']) {
  window.addEventListener(type, (e) => {
    if (!e.isTrusted) return;
    if (type === 'click' && e.detail === 0 && !e.pointerType) return;
    window.__mouseEvents.push(type);
  }, true);
}
"""


@pytest.fixture
def ui(browser, tmp_path):  # noqa: F811
    harness = UI(browser, tmp_path)
    yield harness
    harness.close()


def _ring(path):
    """A subject with a background-coloured gap inside it: Punch holes has something to open."""
    ring = Image.new("RGB", (300, 300), (20, 30, 40))
    ring.paste((230, 200, 180), (60, 60, 240, 240))
    ring.paste((20, 30, 40), (120, 120, 180, 180))
    ring.save(path)


def tab_to(page, selector: str, limit: int = 120, back: bool = False) -> int:
    """Press Tab (or Shift+Tab) until `selector` has the focus; how many presses it took."""
    for presses in range(1, limit + 1):
        page.keyboard.press("Shift+Tab" if back else "Tab")
        if page.evaluate("(sel) => document.activeElement && document.activeElement.matches(sel)", selector):
            return presses
    raise AssertionError(f"{selector} is not reachable with Tab in {limit} presses")


def focused(page) -> str:
    return page.evaluate("document.activeElement && (document.activeElement.id || document.activeElement.className)")


def test_open_punch_holes_approve_and_export_with_the_keyboard_alone(ui, tmp_path):
    import numpy as np

    page = ui.page
    page.evaluate(MOUSE_WATCH)
    _ring(tmp_path / "ring.png")
    ui.backend.shell.files = [str(tmp_path / "ring.png")]
    page.keyboard.press("Control+o")
    ui.wait_done(1, 1)
    page.wait_for_function("document.querySelector('#viewport').dataset.doc === 'd1'")
    ui.wait_loaded()
    doc = ui.backend.runner.get("d1")
    doc.replace_mask(np.pad(np.full((180, 180), 255, np.uint8), 60))  # as if the model kept the gap
    axe_check(page, "keyboard: a photo open")

    # The queue is a list; its row says the name, the state and the review state.
    row = page.get_by_role("list", name="Photos in the list").get_by_role("listitem")
    assert row.count() == 1
    assert row.get_by_role("button", name=re.compile(r"^ring\.png Done To check")).count() == 1

    # The photo itself is an image to screen readers, named by the photo until it has alt text.
    assert page.get_attribute("#layer-main", "role") == "img"
    assert page.get_attribute("#layer-main", "aria-label") == "ring.png"

    # Move and zoom the photo with its keys.
    tab_to(page, "#viewport")
    before = ui.dataset()
    page.keyboard.press("+")
    page.keyboard.press("ArrowLeft")
    page.wait_for_function("(z) => document.querySelector('#viewport').dataset.zoom !== z", arg=before.get("zoom"))
    page.keyboard.press("0")
    screenshot(page, "30-keyboard-photo-focused")

    version = ui.dataset()["version"]
    tab_to(page, "#holes-btn")
    screenshot(page, "31-keyboard-focus-ring-button")
    page.keyboard.press("Enter")
    page.wait_for_function("(v) => document.querySelector('#viewport').dataset.version !== v", arg=version)
    assert doc.alpha()[150, 150] == 0 and doc.alpha()[70, 70] == 255

    tab_to(page, "#alt-text")
    page.keyboard.type("A brown leather ring")
    page.keyboard.press("Enter")  # saves it and hands the keys back to the shortcuts
    page.wait_for_function("document.querySelector('#layer-main').ariaLabel === 'A brown leather ring'")
    page.keyboard.press("a")
    ui.wait_text("#review-state", "Approved")
    axe_check(page, "keyboard: approved")

    out = tmp_path / "out"
    ui.backend.shell.folder = str(out)
    tab_to(page, "#folder-btn")
    page.keyboard.press("Enter")
    page.wait_for_function("document.querySelector('#folder-path').title.endsWith('/out')")
    page.keyboard.press("Control+s")
    ui.wait_text("#export-result-text", r"^Exported 1 file to “out”")
    screenshot(page, "32-keyboard-exported")
    assert [p.name for p in out.iterdir() if p.suffix == ".png"] == ["ring-png-master.png"]
    assert page.evaluate("window.__mouseEvents") == []


def test_progress_is_announced_once_per_change_not_on_every_tick(ui, tmp_path):
    from tests.fakes import photo

    photo(tmp_path / "a.jpg")
    photo(tmp_path / "b.jpg")
    ui.page.evaluate("""window.__said = [];
        new MutationObserver(() => window.__said.push(document.querySelector('#announcer').textContent))
          .observe(document.querySelector('#announcer'), { childList: true, characterData: true, subtree: true });""")
    ui.open(tmp_path / "a.jpg", tmp_path / "b.jpg")
    ui.wait_done(2, 2)
    said = ui.page.evaluate("window.__said")
    assert said[-1] == "2 of 2 done"
    assert len(said) == len(set(said)), said  # nothing said twice
    assert all("%" not in text for text in said)
    assert ui.page.get_attribute("#announcer", "aria-live") == "polite"


@pytest.mark.parametrize("opener, dialog", [
    ("#settings-btn", "#settings-dialog"),
    ("#help-btn", "#help-dialog"),
    ("#watch-btn", "#watch-dialog"),
])
def test_a_dialog_keeps_the_focus_inside_closes_with_esc_and_returns_it(ui, opener, dialog):
    page = ui.page
    tab_to(page, opener)
    page.keyboard.press("Enter")
    page.wait_for_selector(f"{dialog}[open]")
    name = dialog.strip("#")
    screenshot(page, f"33-{name}-keyboard")
    for _ in range(40):  # round and round: the focus never leaves the dialog
        page.keyboard.press("Tab")
        assert page.evaluate("(d) => document.querySelector(d).contains(document.activeElement)", dialog), focused(page)
    page.keyboard.press("Escape")
    page.wait_for_selector(f"{dialog}:not([open])", state="attached")
    assert page.evaluate("(sel) => document.activeElement === document.querySelector(sel)", opener)


def test_the_reject_dialog_returns_the_focus_to_the_photo_it_was_opened_from(ui, tmp_path):
    from tests.fakes import photo

    page = ui.page
    photo(tmp_path / "a.jpg")
    ui.open_one(tmp_path / "a.jpg")
    page.focus("#viewport")
    page.keyboard.press("x")
    page.wait_for_selector("#reject-dialog[open]")
    screenshot(page, "34-reject-dialog-keyboard")
    page.keyboard.press("Escape")
    page.wait_for_selector("#reject-dialog:not([open])", state="attached")
    assert focused(page) == "viewport"


def test_the_focus_ring_shows_in_both_themes(ui, tmp_path):
    page = ui.page
    for theme in ("light", "dark"):
        page.evaluate("(t) => { document.documentElement.dataset.theme = t; document.activeElement.blur(); }", theme)
        tab_to(page, "#open-btn")
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline == "solid"
        ARTIFACTS.mkdir(exist_ok=True)
        page.locator(".toolbar").screenshot(path=str(ARTIFACTS / f"35-focus-ring-{theme}.png"))


def test_nothing_moves_by_itself_when_the_system_asks_for_reduced_motion(ui):
    page = ui.page
    probe = "(() => { const n = document.createElement('span'); n.className = 'pulse'; document.body.append(n);" \
            " const name = getComputedStyle(n).animationName; n.remove(); return name; })()"
    assert page.evaluate(probe) == "pulse"  # the hot folder's pulsing dot, normally
    page.emulate_media(reduced_motion="reduce")
    assert page.evaluate(probe) == "none"
