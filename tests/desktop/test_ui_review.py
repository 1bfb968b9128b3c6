"""Mask review in the editor page (headless Chromium, the real loopback server and js_api):
approve and reject with the keyboard alone, the queue's filters, "Export approved".

Marked `ui` like tests/desktop/test_ui.py; screenshots go to test-artifacts/ for a person to look at.
"""

from __future__ import annotations

import json

import pytest

from app.governance import audit
from tests.desktop.test_ui import browser  # noqa: F401  (a fixture used by name)
from tests.fakes import photo, wait_for
from tests.ui_harness import VIEWPORT, open_page, screenshot, start_backend

pytestmark = pytest.mark.ui


@pytest.fixture
def review_page(browser, tmp_path):  # noqa: F811  (browser: the fixture imported above)
    """The page on a backend that exports with audit records and sidecars into tmp_path/out."""
    backend = start_backend(tmp_path)
    assert backend.api.set_settings({"audit": True, "sidecar": True, "output_dir": str(tmp_path / "out")})["ok"]
    context = browser.new_context(viewport=VIEWPORT)
    page, net = open_page(context, backend)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page, backend
    violations = page.evaluate("window.__cspViolations")
    context.close()
    backend.stop()
    assert net.external == [] and errors == [] and violations == []


def _count(page, state: str) -> str:
    return page.inner_text(f'#review-filter [data-count="{state}"]')


def _wait_count(page, state: str, n: int) -> None:
    page.wait_for_function("([s, n]) => document.querySelector(`#review-filter [data-count=\"${s}\"]`)"
                           ".textContent === String(n)", arg=[state, n])


def _selected(page) -> str:
    return page.inner_text(".q-item.selected .q-name")


def test_five_photos_reviewed_with_the_keyboard_alone_and_only_the_approved_exported(review_page, tmp_path):
    page, backend = review_page
    names = [f"sku{i}.jpg" for i in range(1, 6)]
    for i, name in enumerate(names):
        photo(tmp_path / name, size=(320 + 16 * i, 240))  # five different photos: five different sha256
    backend.shell.files = [str(tmp_path / name) for name in names]
    page.keyboard.press("Control+o")
    page.wait_for_function("/^5 of 5 done/.test(document.querySelector('#overall-text').textContent)")
    page.wait_for_function("document.querySelector('#viewport').dataset.doc === 'd1'")
    assert (_count(page, "all"), _count(page, "to-check")) == ("5", "5")
    assert page.get_attribute('#review-filter [data-filter="to-check"]', "aria-label") == "To check: 5"
    screenshot(page, "review-01-queue-to-check")

    for n in (1, 2, 3):  # A approves the photo on screen and opens the next one to check
        assert _selected(page) == names[n - 1]
        page.keyboard.press("a")
        _wait_count(page, "approved", n)
    page.wait_for_function("document.querySelector('.q-item.selected .q-name').textContent === 'sku4.jpg'")

    page.keyboard.press("x")  # reject, reason by its number key, Enter confirms
    dialog = page.locator("#reject-dialog")
    dialog.wait_for(state="visible")
    assert page.inner_text("#reject-title") == "Reject sku4.jpg"
    page.keyboard.press("2")
    assert page.evaluate("document.activeElement.value") == "hole"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "reject-note"
    page.keyboard.type("handle filled in")
    screenshot(page, "review-02-reject-dialog")
    page.keyboard.press("Tab")  # focus stays in the dialog: Cancel, Reject, then back to the reasons
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.name") == "reason"
    page.keyboard.press("Enter")
    _wait_count(page, "rejected", 1)
    assert dialog.is_hidden()

    page.wait_for_function("document.querySelector('.q-item.selected .q-name').textContent === 'sku5.jpg'")
    page.keyboard.press("x")  # the second by the arrow keys; Escape first shows nothing is decided by it
    dialog.wait_for(state="visible")
    page.keyboard.press("Escape")
    assert dialog.is_hidden() and _count(page, "rejected") == "1"
    page.keyboard.press("x")
    dialog.wait_for(state="visible")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.querySelector('input[name=reason]:checked').value") == "colour-cast"
    page.keyboard.press("Enter")
    _wait_count(page, "rejected", 2)

    assert [_count(page, s) for s in ("all", "to-check", "approved", "rejected")] == ["5", "0", "3", "2"]
    docs = {doc.name: doc.review.remarks for doc in backend.runner.documents()}
    assert [docs[n].state for n in names] == ["approved"] * 3 + ["rejected"] * 2
    assert (docs["sku4.jpg"].review.reason, docs["sku4.jpg"].review.note) == ("hole", "handle filled in")
    assert docs["sku5.jpg"].review.reason == "colour-cast"
    assert page.inner_text(".q-item[data-id='d4'] .q-review") == "Rejected: Clipped or filled hole"
    screenshot(page, "review-03-queue-decided")

    page.click('#review-filter [data-filter="rejected"]')  # the filtered queue
    page.wait_for_function("document.querySelectorAll('.q-item:not([hidden])').length === 2")
    assert page.locator(".q-item:not([hidden]) .q-name").all_inner_texts() == ["sku4.jpg", "sku5.jpg"]
    screenshot(page, "review-04-queue-filter-rejected")
    page.keyboard.press("j")  # J/K move within what the filter shows
    assert _selected(page) in ("sku4.jpg", "sku5.jpg")
    page.click('#review-filter [data-filter="all"]')
    page.click(".q-item[data-id='d1'] .q-select")  # an alt text for the first, saved with Enter
    page.fill("#alt-text", "Red trainer, side view")
    page.press("#alt-text", "Enter")
    assert wait_for(lambda: backend.runner.get("d1").review.remarks.alt_text == "Red trainer, side view")

    page.click("#export-approved")
    page.wait_for_function("/^Exported 3 files/.test(document.querySelector('#export-result-text').textContent)")
    out = tmp_path / "out"
    written = sorted(p.name for p in out.iterdir() if p.suffix == ".png")
    assert written == ["sku1-png-master.png", "sku2-png-master.png", "sku3-png-master.png"]
    for name in written:
        sidecar = json.loads(audit.sidecar_path(out / name).read_text())
        assert sidecar["review"]["decision"] == "approved" and sidecar["review"]["reviewer"]
    records = [json.loads(line) for line in audit.default_log_path().read_text().splitlines()]
    assert sorted(r["source"]["name"] for r in records) == names[:3]
    assert json.loads(audit.sidecar_path(out / written[0]).read_text())["alt_text"] == "Red trainer, side view"
    page.wait_for_function("document.querySelector('#review-history').textContent"
                           " === 'Exported once: sku1-png-master.png approved.'")
    screenshot(page, "review-05-exported")

    backend.shell.save_as = str(tmp_path / "sheet.html")
    page.click("#sheet-btn")
    page.wait_for_function("/Review sheet saved: sheet.html/.test(document.querySelector('#toasts').textContent)")
    assert "Red trainer, side view" in (tmp_path / "sheet.html").read_text()

    page.emulate_media(color_scheme="dark")  # the same in dark; a rejected photo's dialog shows its reason
    page.click(".q-item[data-id='d5'] .q-select")
    page.keyboard.press("x")
    dialog.wait_for(state="visible")
    assert page.evaluate("document.querySelector('input[name=reason]:checked').value") == "colour-cast"
    screenshot(page, "review-06-dark-reject-dialog")
    page.keyboard.press("Escape")
    page.click('#review-filter [data-filter="approved"]')
    screenshot(page, "review-07-dark-filter-approved")
