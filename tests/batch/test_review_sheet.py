"""app.batch.review_sheet: one self-contained, escaped HTML page per batch, with flags drawn and training pairs."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.batch.review_sheet import SheetEntry, render_sheet, write_review_sheet
from app.core import qa
from app.governance.review import Remarks, decide

BG = (235, 238, 240)
HOSTILE = "<img src=x onerror=alert(1)> & \"Tom's\" mug.jpg"


def disc(cy: float, cx: float, r: float, shape: tuple[int, int] = (240, 320)) -> np.ndarray:
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r


def entry(name: str, subject: np.ndarray, kept: np.ndarray, remarks: Remarks, version: str | None = None) -> SheetEntry:
    """A red subject on a light backdrop, cut out with the mask ``kept``; flags as the batch judges them."""
    rgb = np.empty((*subject.shape, 3), np.uint8)
    rgb[:] = BG
    rgb[subject] = (200, 30, 40)
    alpha = np.where(kept, 255, 0).astype(np.uint8)
    cutout = Image.fromarray(np.dstack([rgb, alpha]), "RGBA")
    return SheetEntry(name, cutout, qa.assess(rgb, alpha), remarks, version)


def batch() -> list[SheetEntry]:
    ring = disc(120, 160, 90) & ~disc(120, 160, 35)
    return [
        entry(HOSTILE, disc(120, 160, 70), disc(120, 160, 78),  # overshoot: a halo
              Remarks(decide("rejected", "halo", "rim <b>visible</b> & grey", who="ana"), "A \"red\" <mug>"), "v2"),
        entry("ring.jpg", ring, disc(120, 160, 90), Remarks(decide("rejected", "hole", who="bo"))),  # hole kept
        entry("edge.jpg", disc(120, 20, 80), disc(120, 20, 80), Remarks()),  # runs off the left edge
        entry("clean.jpg", disc(120, 160, 70), disc(120, 160, 70), Remarks(decide("approved", who="ana")), "v1"),
    ]


def test_one_block_per_photo_with_its_flags_and_decision(tmp_path):
    entries = batch()
    page = write_review_sheet(entries, tmp_path / "sheet.html", "Spring shoot").read_text(encoding="utf-8")
    assert page.count("<section class='photo ") == len(entries)
    assert [e.flags[0].code for e in entries[:3]] == ["halo", "filled-hole", "touches-edge"] and not entries[3].flags
    assert "Approved</td><td>1" in page and "Rejected</td><td>2" in page and "To check</td><td>1" in page
    assert "Halo</td><td>1" in page and "Clipped or filled hole</td><td>1" in page
    assert page.count("QA flags, where they are") == 3  # the clean photo has nothing to draw
    assert "Training pairs" in page and "Approved: clean.jpg" in page


def test_every_text_is_escaped(tmp_path):
    page = render_sheet(batch(), "<script>alert(1)</script>")
    assert "<img src=x" not in page and "<script>" not in page and "<b>visible" not in page and "<mug>" not in page
    assert "&lt;img src=x onerror=alert(1)&gt; &amp; &quot;Tom&#x27;s&quot; mug.jpg" in page
    assert "rim &lt;b&gt;visible&lt;/b&gt; &amp; grey" in page and "A &quot;red&quot; &lt;mug&gt;" in page


def test_the_page_loads_nothing_from_anywhere(tmp_path):
    page = render_sheet(batch(), "Spring shoot")
    assert not re.search(r"(src|href)\s*=\s*[\"']?\s*(https?:|//)", page, re.IGNORECASE)
    assert not re.search(r"url\(|@import", page)
    sources = re.findall(r"src=\"([^\"]*)\"", page)
    assert sources and all(s.startswith("data:image/jpeg;base64,") for s in sources)
    assert "default-src 'none'" in page


def test_pictures_are_shrunk_to_the_sheet_width(tmp_path):
    big = SheetEntry("big.jpg", Image.new("RGBA", (3000, 1500), (200, 30, 40, 255)), [], Remarks())
    page = render_sheet([big], "Big")
    import base64
    import io
    uri = re.search(r"src=\"data:image/jpeg;base64,([^\"]*)\"", page)
    assert uri is not None
    assert Image.open(io.BytesIO(base64.b64decode(uri.group(1)))).size == (640, 320)


def test_the_sheet_replaces_a_link_at_its_name_not_the_file_it_points_to(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (tmp_path / "sheet.html").symlink_to(victim)
    write_review_sheet(batch()[3:], tmp_path / "sheet.html", "x")
    assert victim.read_text() == "keep me" and not (tmp_path / "sheet.html").is_symlink()


@pytest.mark.ui
def test_the_sheet_shows_in_chromium_without_any_request_leaving(tmp_path):
    from playwright import sync_api

    from tests.ui_harness import ARTIFACTS, CHROMIUM

    sheet = write_review_sheet(batch(), tmp_path / "review-sheet.html", "Spring shoot")
    requests: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1200, "height": 2000})
        page.on("request", lambda request: requests.append(request.url))
        page.goto(sheet.as_uri())
        loaded = page.evaluate("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "review-sheet-flags.png"), full_page=True)
        pdf = page.pdf(format="A4")  # prints: one photo per page
        browser.close()
    assert loaded
    assert [u for u in requests if not u.startswith(("file:", "data:"))] == []
    assert Path(ARTIFACTS / "review-sheet-flags.png").stat().st_size > 10_000
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) >= len(batch()) + 1
