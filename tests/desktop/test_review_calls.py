"""The review calls of the js_api object (app/desktop/review_calls.py and Api.export_approved),
called directly: checked input, plain errors, decisions carried into exports and audit records."""

import json

import numpy as np
import pytest
from PIL import Image

from app.desktop.bridge import Api
from app.desktop.events import EventHub
from app.desktop.jobs import JobRunner
from app.governance import audit
from app.governance.policy import NO_POLICY
from app.governance.review import MAX_NOTE, REASONS, ReviewStore, window_store_path
from tests.fakes import FakeEngine, photo


class FakeShell:
    def __init__(self):
        self.save_to = None

    def open_files(self):
        return []

    def choose_folder(self):
        return None

    def save_file(self, suggested_name):
        return self.save_to

    def reveal(self, folder):
        pass


@pytest.fixture
def shell():
    return FakeShell()


@pytest.fixture
def desk(tmp_path, shell):
    """An Api on a running job runner with five different photos cut out: (api, runner, ids)."""
    (tmp_path / "spill").mkdir()
    hub = EventHub()
    runner = JobRunner(lambda: FakeEngine(), hub, tmp_path / "spill").start()
    api = Api(runner, "tok", shell, NO_POLICY)
    paths = []
    for i in range(5):
        paths.append(tmp_path / f"sku{i}.jpg")
        photo(paths[-1], size=(96 + 8 * i, 64))
    ids = [item["id"] for item in api.open_paths([str(p) for p in paths])["added"]]
    assert runner.wait_idle()
    yield api, runner, ids
    runner.stop()


def test_hello_offers_the_reasons_to_reject_and_the_longest_note(desk):
    api, _runner, _ids = desk
    review = api.hello()["review"]
    assert [r["id"] for r in review["reasons"]] == list(REASONS)
    assert review["reasons"][0] == {"id": "halo", "label": "Halo"} and review["max_note"] == MAX_NOTE
    assert review["problem"] is None


def test_a_damaged_review_file_is_said_once_and_decisions_start_afresh(tmp_path):
    window_store_path().parent.mkdir(parents=True, exist_ok=True)
    window_store_path().write_text("{not json")
    (tmp_path / "spill").mkdir()
    api = Api(JobRunner(lambda: FakeEngine(), EventHub(), tmp_path / "spill"), "tok", FakeShell(), NO_POLICY)
    assert "could not be read" in api.hello()["review"]["problem"]


def test_approve_reject_reopen_answer_the_item_and_publish_it(desk):
    api, runner, (a, b, *_rest) = desk
    events = runner.hub.subscribe()
    assert api.approve(a)["item"]["review"]["state"] == "approved"
    rejected = api.reject(b, "background-left", "  sky between the legs ")["item"]["review"]
    assert (rejected["state"], rejected["reason"], rejected["note"]) == ("rejected", "background-left",
                                                                         "sky between the legs")
    published = [events.get_nowait() for _ in range(events.qsize())]
    assert [(e["item"]["id"], e["item"]["review"]["state"]) for e in published if e["type"] == "item"] == [
        (a, "approved"), (b, "rejected")]
    assert api.reopen(b)["item"]["review"] == {"state": "to-check", "reason": None, "note": "", "reviewer": None,
                                               "time": None, "alt_text": ""}
    assert api.review_summary()["counts"] == {"total": 5, "to_check": 4, "approved": 1, "rejected": 0}


def test_bad_review_input_is_refused_in_plain_words(desk):
    api, _runner, (a, *_rest) = desk
    unknown = api.reject(a, "ugly")["error"]
    assert unknown["code"] == "invalid" and "Halo" in unknown["message"]
    assert api.reject(a, "halo", 42)["error"]["code"] == "invalid"
    assert api.reject(a, "other", "x" * (MAX_NOTE + 1))["error"]["code"] == "bad-review"
    assert api.set_alt_text(a, None)["error"]["code"] == "invalid"
    assert api.approve(None)["error"]["code"] == "invalid"
    assert api.approve("d999")["error"]["code"] == "not-found"
    assert api.review_summary()["counts"]["to_check"] == 5


def test_a_photo_not_cut_out_yet_cannot_be_decided(tmp_path):
    (tmp_path / "spill").mkdir()
    runner = JobRunner(lambda: FakeEngine(), EventHub(), tmp_path / "spill")  # never started: nothing is cut out
    api = Api(runner, "tok", FakeShell(), NO_POLICY)
    photo(tmp_path / "a.jpg")
    (item,) = api.open_paths([str(tmp_path / "a.jpg")])["added"]
    assert api.approve(item["id"])["error"]["code"] == "not-ready"


def test_decisions_are_kept_in_the_window_store(desk):
    api, runner, (a, *_rest) = desk
    api.reject(a, "colour-cast", "too warm")
    api.set_alt_text(a, "Brown leather boot")
    kept = ReviewStore(window_store_path()).get(runner.get(a).review.digest)
    assert kept.review.reason == "colour-cast" and kept.alt_text == "Brown leather boot"


def test_export_approved_writes_only_approved_photos_with_their_decision_in_the_sidecar(desk, tmp_path):
    api, runner, ids = desk
    assert api.set_settings({"audit": True, "sidecar": True})["ok"]
    out = tmp_path / "out"
    request = {"preset": "png-master", "template": "{stem}", "folder": str(out)}
    nothing = api.export_approved(request)["error"]
    assert nothing["code"] == "nothing" and "approve" in nothing["message"]
    for doc_id in ids[:3]:
        api.approve(doc_id)
    api.set_alt_text(ids[0], "Sku zero, front")
    api.reject(ids[3], "halo")
    assert api.export_approved({**request, "ids": [ids[4]]})["queued"] == 3  # ids are not what it writes
    assert runner.wait_idle()
    assert sorted(p.name for p in out.glob("*.png")) == ["sku0.png", "sku1.png", "sku2.png"]
    sidecar = json.loads(audit.sidecar_path(out / "sku0.png").read_text())
    assert sidecar["review"]["decision"] == "approved" and sidecar["review"]["reviewer"]
    assert sidecar["alt_text"] == "Sku zero, front"
    records = [json.loads(line) for line in audit.default_log_path().read_text().splitlines()]
    assert {r["source"]["name"]: r["review"]["decision"] for r in records} == {
        "sku0.jpg": "approved", "sku1.jpg": "approved", "sku2.jpg": "approved"}


def test_export_all_carries_each_photos_state_into_its_audit_record(desk, tmp_path):
    api, runner, ids = desk
    assert api.set_settings({"audit": True})["ok"]
    api.reject(ids[1], "wrong-subject", "this is the box, not the shoe")
    api.export({"ids": ids[:2], "preset": "png-master", "template": "{stem}", "folder": str(tmp_path / "out")})
    assert runner.wait_idle()
    records = {r["source"]["name"]: r for r in map(json.loads, audit.default_log_path().read_text().splitlines())}
    assert records["sku0.jpg"]["review"] is None
    assert records["sku1.jpg"]["review"]["reason"] == "wrong-subject"
    assert records["sku1.jpg"]["review"]["note"] == "this is the box, not the shoe"


def test_the_review_sheet_needs_a_finished_photo_and_a_chosen_file(tmp_path):
    (tmp_path / "spill").mkdir()
    api = Api(JobRunner(lambda: FakeEngine(), EventHub(), tmp_path / "spill"), "tok", FakeShell(), NO_POLICY)
    assert api.save_review_sheet()["error"]["code"] == "nothing"


def test_a_cancelled_save_dialog_writes_no_sheet(desk):
    api, _runner, _ids = desk
    assert api.save_review_sheet() == {"ok": True, "path": None}


def test_a_decision_after_an_audited_export_is_added_to_the_trail_and_the_history_says_so(desk, tmp_path):
    api, runner, ids = desk
    assert api.history(ids[0])["text"] == "Not exported yet."
    assert api.set_settings({"audit": True})["ok"]
    request = {"ids": [ids[0]], "preset": "png-master", "template": "{stem}-{version}", "folder": str(tmp_path / "out")}
    api.approve(ids[0])
    api.export(request)
    assert runner.wait_idle()
    api.reject(ids[0], "halo", "rim on the left")  # seen on the web shop: taken back
    api.export(request)
    assert runner.wait_idle()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["sku0-v1.png", "sku0-v2.png"]
    lines = [json.loads(line) for line in audit.default_log_path().read_text().splitlines()]
    assert [(line.get("event"), line.get("version"), line["review"]["decision"]) for line in lines] == [
        (None, "v1", "approved"), ("review", None, "rejected"), (None, "v2", "rejected")]
    assert lines[1]["output"]["path"] == str((tmp_path / "out" / "sku0-v1.png").resolve())
    assert api.history(ids[0])["text"] == "Exported twice: v1 rejected (halo), v2 rejected (halo)."


def test_without_the_audit_trail_a_decision_writes_nothing_there_and_the_history_counts_the_session(desk, tmp_path):
    api, runner, ids = desk
    api.export({"ids": [ids[1]], "preset": "png-master", "template": "{stem}", "folder": str(tmp_path / "out")})
    assert runner.wait_idle()
    api.approve(ids[1])
    assert not audit.default_log_path().exists()
    assert api.history(ids[1])["text"] == ("Not exported yet. Exported once in this session without an "
                                           "audit record.")


def test_the_review_sheet_shows_every_finished_photo_with_its_decision(desk, shell, tmp_path):
    api, runner, ids = desk
    events = runner.hub.subscribe()
    api.approve(ids[0])
    api.reject(ids[1], "part-missing", "the <strap> is cut off")
    shell.save_to = str(tmp_path / "sheet.html")
    assert api.save_review_sheet()["path"] == str(tmp_path / "sheet.html")
    assert runner.wait_idle()
    (done,) = [e for e in (events.get_nowait() for _ in range(events.qsize())) if e["type"] == "review-sheet"]
    assert done == {"type": "review-sheet", "path": str(tmp_path / "sheet.html")}
    page = (tmp_path / "sheet.html").read_text()
    assert all(f"sku{i}.jpg" in page for i in range(5))
    assert "the &lt;strap&gt; is cut off" in page and "<strap>" not in page


def test_an_edit_after_approval_sends_the_photo_back_to_check_but_a_rejection_stays(desk):
    api, runner, ids = desk
    stroke = {"mode": "erase", "radius": 5, "hardness": 1.0, "points": [[40, 32], [56, 32]]}  # on the subject
    assert api.approve(ids[0])["ok"] and api.reject(ids[1], "halo")["ok"]
    assert api.stroke(ids[0], stroke)["ok"] and api.stroke(ids[1], stroke)["ok"]
    assert runner.get(ids[0]).review.state == "to-check"  # the approval was for the mask before the edit
    assert runner.get(ids[1]).review.state == "rejected"  # a fixed rejection waits for someone to approve it
    assert api.review_summary()["counts"]["approved"] == 0
    for edit in (api.undo, api.redo, api.reset):
        assert api.approve(ids[0])["ok"] and edit(ids[0])["ok"]
        assert runner.get(ids[0]).review.state == "to-check", edit.__name__



def test_a_mask_fix_after_approval_sends_the_photo_back_to_check(desk, tmp_path):
    api, runner, _ids = desk
    scene = Image.new("RGB", (240, 200), (200, 202, 205))  # a grey studio sweep, a red pot, a green plant
    scene.paste((190, 40, 30), (90, 110, 150, 170))
    scene.paste((50, 140, 40), (70, 40, 170, 110))
    scene.save(tmp_path / "plant.png")
    (item,) = api.open_paths([str(tmp_path / "plant.png")])["added"]
    assert runner.wait_idle()
    doc = runner.get(item["id"])
    pot_only = np.zeros((200, 240), np.uint8)
    pot_only[110:170, 90:150] = 255  # as if the model had kept only the pot
    doc.replace_mask(pot_only)
    assert api.approve(doc.id)["ok"]
    assert api.recover_parts(doc.id)["ok"] and runner.wait_idle()
    assert doc.alpha()[75, 120] == 255  # the plant came back: a new mask nobody has looked at
    assert doc.review.state == "to-check"
