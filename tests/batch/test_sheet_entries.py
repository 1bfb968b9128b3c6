"""app.batch.sheet_entries: an output folder's batch as review-sheet entries, judged again from the files."""

from __future__ import annotations

import pytest
from PIL import Image

from app import cli
from app.batch.sheet_entries import NoBatchHere, folder_review
from app.core.digest import sha256_file
from app.governance.review import Remarks, ReviewStore, batch_store_path, decide
from tests.fakes import photo


def edge_photo(path) -> None:
    """A bright subject running off the left edge (the fake engine keeps what is bright)."""
    img = Image.new("RGB", (96, 64), (20, 30, 40))
    img.paste((230, 200, 180), (0, 16, 40, 48))
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)


def test_each_written_photo_is_one_entry_with_its_flags_decision_and_latest_version(tmp_path, fake_engine):
    photo(tmp_path / "in" / "clean.jpg")
    edge_photo(tmp_path / "in" / "sub" / "edge.png")
    out = tmp_path / "out"
    argv = ["cut", str(tmp_path / "in"), "-o", str(out), "--name", "{stem}-{version}", "-q"]
    assert cli.main(argv) == 0 and cli.main(argv) == 0
    ReviewStore(batch_store_path(out)).put(sha256_file(tmp_path / "in" / "clean.jpg"), "clean.jpg",
                                           Remarks(decide("approved", who="ana"), "A box"))
    review = folder_review(out)
    by_name = {e.name: e for e in review.entries}
    assert sorted(by_name) == ["clean.jpg", "sub/edge.png"] and review.problems == []
    assert by_name["clean.jpg"].remarks.state == "approved" and by_name["clean.jpg"].remarks.alt_text == "A box"
    assert by_name["sub/edge.png"].remarks.state == "to-check"
    assert {e.version for e in review.entries} == {"v2"}
    assert [f.code for f in by_name["sub/edge.png"].flags] == ["touches-edge"] and by_name["clean.jpg"].flags == []
    assert by_name["sub/edge.png"].flags[0].region is not None
    assert by_name["clean.jpg"].cutout.mode == "RGBA"


def test_an_output_gone_or_a_source_gone_is_named_and_the_rest_reported(tmp_path, fake_engine):
    photo(tmp_path / "in" / "a.jpg")
    photo(tmp_path / "in" / "b.jpg")
    out = tmp_path / "out"
    assert cli.main(["cut", str(tmp_path / "in"), "-o", str(out), "-q"]) == 0
    (out / "a.png").write_bytes(b"not a picture any more")
    (tmp_path / "in" / "b.jpg").unlink()
    review = folder_review(out)
    assert [e.name for e in review.entries] == ["b.jpg"]
    assert any(p.startswith("a.png: left out") for p in review.problems)
    assert any("b.png: the source photo is gone" in p for p in review.problems)


def test_a_folder_without_a_journal_says_so(tmp_path):
    with pytest.raises(NoBatchHere, match="no batch journal"):
        folder_review(tmp_path)
