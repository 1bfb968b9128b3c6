"""The window's review desk (app/desktop/reviewing.py): decisions on documents, kept by source photo."""

import pytest

from app.core.errors import NotReady
from app.desktop.events import EventHub
from app.desktop.hotfolder import HotFolder
from app.desktop.jobs import JobRunner
from app.desktop.reviewing import ReviewDesk, approved, summary
from app.governance.presets import get_preset
from app.governance.review import REVIEW_FILE, ReviewError, ReviewStore, window_store_path
from tests.fakes import FakeEngine, photo, wait_for


def _runner(tmp_path, store=None) -> JobRunner:
    (tmp_path / "spill").mkdir(parents=True, exist_ok=True)
    desk = ReviewDesk(ReviewStore(store or tmp_path / "decisions.json"))
    return JobRunner(lambda: FakeEngine(), EventHub(), tmp_path / "spill", reviews=desk).start()


def _open(runner, *paths):
    added, errors = runner.add(paths)
    assert not errors and runner.wait_idle()
    return [runner.get(item["id"]) for item in added]


def test_a_new_photo_is_to_check_and_a_decision_shows_in_its_queue_item(tmp_path):
    photo(tmp_path / "a.jpg")
    runner = _runner(tmp_path)
    (doc,) = _open(runner, tmp_path / "a.jpg")
    assert doc.as_item()["review"] == {"state": "to-check", "reason": None, "note": "", "reviewer": None,
                                       "time": None, "alt_text": ""}
    runner.reviews.reject(doc, runner.documents(), "halo", "grey rim on the left")
    review = doc.as_item()["review"]
    assert (review["state"], review["reason"], review["note"]) == ("rejected", "halo", "grey rim on the left")
    assert review["reviewer"] and review["time"].endswith("Z")
    runner.stop()


def test_decisions_survive_closing_the_window_and_come_back_when_the_photo_is_opened_again(tmp_path):
    photo(tmp_path / "a.jpg")
    photo(tmp_path / "b.jpg", size=(120, 80))
    runner = _runner(tmp_path)
    a, b = _open(runner, tmp_path / "a.jpg", tmp_path / "b.jpg")
    runner.reviews.approve(a, runner.documents())
    runner.reviews.reject(b, runner.documents(), "part-missing")
    runner.reviews.set_alt_text(b, runner.documents(), "Red trainer, side view")
    runner.stop()

    again = _runner(tmp_path / "later", store=tmp_path / "decisions.json")  # a new session, the same store
    (b2, a2) = _open(again, tmp_path / "b.jpg", tmp_path / "a.jpg")
    assert (a2.review.state, b2.review.state) == ("approved", "rejected")
    assert b2.review.remarks.alt_text == "Red trainer, side view" and b2.review.remarks.review.reason == "part-missing"
    again.stop()


def test_a_renamed_copy_keeps_the_decision_and_every_open_copy_follows_one(tmp_path):
    photo(tmp_path / "a.jpg")
    (tmp_path / "copy.jpg").write_bytes((tmp_path / "a.jpg").read_bytes())
    runner = _runner(tmp_path)
    a, copy = _open(runner, tmp_path / "a.jpg", tmp_path / "copy.jpg")
    runner.reviews.approve(a, runner.documents())
    assert copy.review.state == "approved"
    runner.reviews.reopen(copy, runner.documents())
    assert a.review.state == copy.review.state == "to-check"
    runner.stop()


def test_reopen_keeps_the_alt_text_and_a_new_decision_keeps_it_too(tmp_path):
    photo(tmp_path / "a.jpg")
    runner = _runner(tmp_path)
    (doc,) = _open(runner, tmp_path / "a.jpg")
    runner.reviews.set_alt_text(doc, runner.documents(), "  Blue   mug ")
    runner.reviews.reject(doc, runner.documents(), "hole")
    runner.reviews.reopen(doc, runner.documents())
    assert doc.review.remarks.review is None and doc.review.remarks.alt_text == "Blue mug"
    runner.reviews.approve(doc, runner.documents())
    assert doc.review.remarks.alt_text == "Blue mug"
    runner.stop()


def test_deciding_needs_a_finished_cutout_and_a_known_reason(tmp_path):
    photo(tmp_path / "a.jpg")
    runner = _runner(tmp_path)
    (doc,) = _open(runner, tmp_path / "a.jpg")
    with pytest.raises(ReviewError, match="reason"):
        runner.reviews.reject(doc, runner.documents(), "ugly")
    with pytest.raises(ReviewError, match="longer"):
        runner.reviews.set_alt_text(doc, runner.documents(), "x" * 501)
    assert doc.review.state == "to-check"
    doc.state = "working"
    with pytest.raises(NotReady):
        runner.reviews.approve(doc, runner.documents())
    runner.stop()


def test_a_decision_that_cannot_be_saved_does_not_show(tmp_path):
    photo(tmp_path / "a.jpg")
    (tmp_path / "blocked").write_text("a file where the store's folder should be")
    runner = _runner(tmp_path, store=tmp_path / "blocked" / "decisions.json")
    (doc,) = _open(runner, tmp_path / "a.jpg")
    with pytest.raises(OSError):
        runner.reviews.approve(doc, runner.documents())
    assert doc.review.state == "to-check"
    runner.stop()


def test_counts_and_the_approved_photos_in_queue_order(tmp_path):
    for i, name in enumerate("abcd"):
        photo(tmp_path / f"{name}.jpg", size=(90 + 10 * i, 64))
    runner = _runner(tmp_path)
    a, b, c, _d = _open(runner, *(tmp_path / f"{n}.jpg" for n in "abcd"))
    runner.reviews.approve(c, runner.documents())
    runner.reviews.approve(a, runner.documents())
    runner.reviews.reject(b, runner.documents(), "other", "wrong colour variant")
    assert summary(runner.documents()) == {"total": 4, "to_check": 1, "approved": 2, "rejected": 1}
    assert approved(runner.documents()) == [a, c]
    runner.stop()


def test_the_window_store_is_in_the_user_data_folder_by_default(tmp_path):
    assert ReviewDesk().store.path == window_store_path()


def test_a_hot_folder_batch_keeps_its_decisions_beside_its_journal(tmp_path):
    (tmp_path / "spill").mkdir()
    runner = JobRunner(lambda: FakeEngine(), EventHub(), tmp_path / "spill",
                       reviews=ReviewDesk(ReviewStore(tmp_path / "window.json"))).start()
    (tmp_path / "inbox").mkdir()
    hot = HotFolder(runner, tmp_path / "inbox", tmp_path / "out", get_preset("png-master"), "{stem}",
                    interval=0.05).start()
    try:
        photo(tmp_path / "inbox" / "a.jpg")
        assert wait_for(lambda: (tmp_path / "out" / "a.png").exists() and runner.documents()
                        and runner.documents()[0].finished)
        (doc,) = runner.documents()
        runner.reviews.approve(doc, runner.documents())
    finally:
        hot.stop()
    assert ReviewStore(tmp_path / "out" / REVIEW_FILE).get(doc.review.digest).state == "approved"
    assert not (tmp_path / "window.json").exists()
    runner.stop()

