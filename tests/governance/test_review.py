"""Review decisions: checked on the way in, kept per source photo, carried into audit records."""

from __future__ import annotations

import json
import os

import pytest
from PIL import Image

from app.core.export import ExportSettings
from app.governance import audit, review


def test_a_rejection_without_a_known_reason_is_refused():
    with pytest.raises(review.ReviewError, match="needs a reason"):
        review.decide("rejected")
    with pytest.raises(review.ReviewError, match="needs a reason"):
        review.decide("rejected", "ugly")
    with pytest.raises(review.ReviewError, match="decision"):
        review.decide("maybe")


def test_an_approval_names_the_reviewer_and_drops_any_reason():
    decision = review.decide("approved", "halo", "  fine   now ", who="mira", when="2026-12-05T10:00:00Z")
    assert decision.as_dict() == {"decision": "approved", "reason": None, "note": "fine now",
                                  "reviewer": "mira", "time": "2026-12-05T10:00:00Z"}
    assert review.decide("approved").reviewer == review.reviewer() != ""


def test_an_overlong_note_is_refused():
    with pytest.raises(review.ReviewError, match="longer"):
        review.decide("rejected", "other", "x" * (review.MAX_NOTE + 1))


def test_decisions_survive_a_new_store_on_the_same_file(tmp_path):
    path = tmp_path / "out" / review.REVIEW_FILE
    store = review.ReviewStore(path)
    rejected = review.Remarks(review.decide("rejected", "halo", "grey rim left side", who="mira"), "Red trainer")
    store.put("ab" * 32, "shoe.jpg", rejected)
    store.put("cd" * 32, "bag.jpg", review.Remarks(review.decide("approved", who="mira")))
    again = review.ReviewStore(path)
    assert again.get("ab" * 32) == rejected
    assert again.get("cd" * 32).state == review.APPROVED
    assert again.get("ef" * 32).state == review.TO_CHECK
    assert [name for _sha, name, _r in again.items()] == ["shoe.jpg", "bag.jpg"]
    store.put("ab" * 32, "shoe.jpg", review.Remarks())  # back to "to check", no alt text: forgotten
    assert review.ReviewStore(path).get("ab" * 32) == review.Remarks()


def test_a_damaged_store_starts_empty_and_says_so(tmp_path):
    path = tmp_path / "decisions.json"
    path.write_text("{not json", encoding="utf-8")
    store = review.ReviewStore(path)
    assert store.items() == [] and "could not be read" in (store.problem or "")
    store.put("ab" * 32, "a.jpg", review.Remarks(None, "alt"))
    assert json.loads(path.read_text(encoding="utf-8"))["photos"]["ab" * 32]["alt_text"] == "alt"


def test_a_store_path_that_is_a_link_is_replaced_not_written_through(tmp_path):
    target = tmp_path / "elsewhere.json"
    target.write_text("keep", encoding="utf-8")
    path = tmp_path / "decisions.json"
    os.symlink(target, path)
    store = review.ReviewStore(path)
    assert store.problem is not None
    store.put("ab" * 32, "a.jpg", review.Remarks(review.decide("approved", who="x")))
    assert target.read_text(encoding="utf-8") == "keep" and not path.is_symlink()


def test_the_audit_record_and_sidecar_carry_the_decision_and_alt_text(tmp_path):
    source, output = tmp_path / "shoe.jpg", tmp_path / "shoe.png"
    Image.new("RGB", (4, 4)).save(source)
    Image.new("RGBA", (4, 4)).save(output)
    remarks = review.Remarks(review.decide("rejected", "colour-cast", who="mira"), "Red leather trainer, side view")
    record = audit.record_export(source=source, output=output, model_id="m", model_sha256="0" * 64, preset_id=None,
                                 settings=ExportSettings(), sidecar=True, log_path=tmp_path / "log.jsonl",
                                 remarks=remarks)
    side = json.loads(audit.sidecar_path(output).read_text(encoding="utf-8"))
    assert side["review"] == record["review"] == remarks.review.as_dict()
    assert side["alt_text"] == "Red leather trainer, side view"
    plain = audit.record_export(source=source, output=output, model_id="m", model_sha256="0" * 64, preset_id=None,
                                settings=ExportSettings(), sidecar=False, log_path=tmp_path / "log.jsonl")
    assert plain["review"] is None and plain["alt_text"] is None
