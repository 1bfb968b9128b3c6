"""The Export card with a delivery set chosen, in headless Chromium against the real page and js_api."""

from __future__ import annotations

import pytest
from PIL import Image

from tests.desktop.test_ui import UI, _private_dirs, browser  # noqa: F401  (fixtures used by name)
from tests.fakes import photo
from tests.ui_harness import ARTIFACTS, VIEWPORT, screenshot

pytestmark = pytest.mark.ui

KIT = ["shoe-master.png", "shoe-amazon.jpg", "shoe-web.webp", "shoe-mask.png"]


@pytest.fixture
def ui(browser, tmp_path):  # noqa: F811
    harness = UI(browser, tmp_path)
    yield harness
    harness.close()


def test_choosing_a_delivery_set_lists_its_files_and_channel_rules_and_export_writes_them_all(ui, tmp_path):
    photo(tmp_path / "shoe.jpg", size=(400, 300))
    ui.open(tmp_path / "shoe.jpg")
    ui.wait_done(1, 1)
    page = ui.page
    assert page.is_hidden("#preset-outputs")
    page.select_option("#preset", "marketplace-kit")
    page.wait_for_selector("#preset-outputs:not([hidden])")
    names = page.eval_on_selector_all("#preset-output-list .output-file", "els => els.map(e => e.textContent)")
    assert names == KIT
    assert page.is_hidden("#template")  # each file of the set has its own name
    amazon = page.locator(".output-item").nth(1)
    assert "Amazon (main image) rules, read 2026-12-05" in amazon.locator("summary").text_content()
    amazon.locator("summary").click()
    facts = amazon.text_content()
    assert "Checked on each file: pure white background, subject fills 85% or more" in facts
    assert "Not checked by Knockout" in facts and "change their rules" in facts
    page.eval_on_selector(".side-panel", "p => { p.scrollTop = document.querySelector('#export-title')"
                                         ".closest('.card').offsetTop - p.offsetTop - 10; }")
    screenshot(page, "20-export-delivery-set")
    page.set_viewport_size({"width": VIEWPORT["width"], "height": 1700})  # the whole card, for a person to look at
    ARTIFACTS.mkdir(exist_ok=True)
    card = page.locator("#export-title").locator("xpath=..")
    card.screenshot(path=str(ARTIFACTS / "20b-export-delivery-set-card.png"))
    page.set_viewport_size(VIEWPORT)

    out = tmp_path / "out"
    ui.backend.shell.folder = str(out)
    page.click("#folder-btn")
    page.wait_for_function("document.querySelector('#folder-path').title.endsWith('/out')")
    page.click("#export-one")
    ui.wait_text("#export-result-text", r"^Exported 1 photo as 4 files to “out”")
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == sorted(KIT)
    with Image.open(out / "shoe-amazon.jpg") as amazon_file:
        assert amazon_file.size == (2000, 2000)

    page.select_option("#preset", "zalando")  # a single channel preset: its facts, no file list
    page.wait_for_selector("#preset-channel:not([hidden])")
    assert page.is_hidden("#preset-outputs") and page.is_visible("#template")
    assert "Not confirmed" in page.text_content("#preset-channel")
    page.click("#preset-channel summary")
    page.set_viewport_size({"width": VIEWPORT["width"], "height": 1700})
    card.screenshot(path=str(ARTIFACTS / "21-export-channel-preset-card.png"))
    page.set_viewport_size(VIEWPORT)
