"""The desktop job runner: one worker, states and events, cancel/retry/remove."""

import logging
import os
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.batch.pipeline import MaskOptions
from app.core.brush import Stroke
from app.core.errors import NotFound
from app.desktop import cutouts
from app.desktop.events import EventHub
from app.desktop.jobs import ExportTask, JobRunner
from tests.fakes import FakeEngine, ResizableFakeEngine, photo, wait_for


class SlowEngine(FakeEngine):
    """Blocks in ``infer`` until the test lets it go."""

    def __init__(self):
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()

    def infer(self, tensor):
        self.entered.set()
        assert self.release.wait(10)
        return super().infer(tensor)


@pytest.fixture
def hub():
    return EventHub()


@pytest.fixture
def events(hub):
    return hub.subscribe()


def _runner(tmp_path, hub, engine=None):
    (tmp_path / "spill").mkdir(exist_ok=True)
    engine = engine or FakeEngine()
    runner = JobRunner(lambda: engine, hub, tmp_path / "spill").start()
    yield_engine = runner, engine
    return yield_engine


def _drain(sub):
    out = []
    while not sub.empty():
        out.append(sub.get_nowait())
    return out


def test_photos_go_from_queued_to_done_and_bad_files_fail_with_a_reason(tmp_path, hub, events):
    runner, _ = _runner(tmp_path, hub)
    photo(tmp_path / "good.jpg")
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    added, errors = runner.add([tmp_path / "good.jpg", tmp_path / "broken.jpg", tmp_path / "gone.jpg"])
    assert [a["state"] for a in added] == ["queued", "queued"]
    assert errors[0]["path"].endswith("gone.jpg") and "does not exist" in errors[0]["message"]
    assert runner.wait_idle()
    states = {item["name"]: item for item in runner.items()}
    assert states["good.jpg"]["state"] == "done"
    assert states["broken.jpg"]["state"] == "failed" and states["broken.jpg"]["message"]
    assert "Traceback" not in states["broken.jpg"]["message"]
    assert runner.summary() == {"total": 2, "queued": 0, "working": 0, "done": 1, "flagged": 0,
                                "failed": 1, "cancelled": 0}
    seen = _drain(events)
    assert {"status", "item"} <= {e["type"] for e in seen}
    assert any(e["type"] == "item" and e["item"]["state"] == "working" for e in seen)
    runner.stop()


def test_folders_are_walked_for_images(tmp_path, hub):
    runner, _ = _runner(tmp_path, hub)
    photo(tmp_path / "shoot" / "a.png")
    photo(tmp_path / "shoot" / "sub" / "b.jpg")
    (tmp_path / "shoot" / "notes.txt").write_text("x")
    (tmp_path / "empty").mkdir()
    added, errors = runner.add([tmp_path / "shoot", tmp_path / "empty"])
    assert sorted(a["name"] for a in added) == ["a.png", "b.jpg"]
    assert errors == [{"path": str(tmp_path / "empty"), "code": "no_images",
                       "message": "No image files in this folder (or its subfolders)."}]
    runner.stop()


def test_a_dropped_folder_never_pulls_in_a_photo_through_a_symlink_or_opens_a_fifo(tmp_path, hub):
    runner, _ = _runner(tmp_path, hub)
    shared, private = tmp_path / "shared", tmp_path / "private"
    shared.mkdir()
    private.mkdir()
    photo(shared / "a.jpg")
    photo(private / "secret.jpg")
    (shared / "colleague.jpg").symlink_to(private / "secret.jpg")
    os.mkfifo(shared / "pipe.jpg")
    added, errors = runner.add([shared])
    assert [a["name"] for a in added] == ["a.jpg"]
    reasons = {Path(e["path"]).name: e["message"] for e in errors}
    assert "outside" in reasons["colleague.jpg"] and "not a regular file" in reasons["pipe.jpg"].lower()
    assert runner.wait_idle()
    runner.stop()


def test_cancel_all_stops_queued_photos_and_the_one_in_the_model(tmp_path, hub):
    engine = SlowEngine()
    runner, _ = _runner(tmp_path, hub, engine)
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        photo(tmp_path / name)
    runner.add([tmp_path / n for n in ("a.jpg", "b.jpg", "c.jpg")])
    assert engine.entered.wait(10)
    runner.cancel(None)
    engine.release.set()
    assert runner.wait_idle()
    assert [i["state"] for i in runner.items()] == ["cancelled"] * 3
    assert engine.runs == 1
    runner.stop()


def test_retry_runs_a_cancelled_photo_again(tmp_path, hub):
    engine = SlowEngine()
    runner, _ = _runner(tmp_path, hub, engine)
    photo(tmp_path / "a.jpg")
    photo(tmp_path / "b.jpg")
    (_first, second), _ = runner.add([tmp_path / "a.jpg", tmp_path / "b.jpg"])
    assert engine.entered.wait(10)
    runner.cancel(second["id"])
    engine.release.set()
    assert runner.wait_idle()
    assert runner.get(second["id"]).state == "cancelled"
    assert runner.retry(second["id"])["state"] == "queued"
    assert runner.wait_idle()
    assert runner.get(second["id"]).state == "done"
    runner.stop()


def test_remove_and_clear_forget_photos(tmp_path, hub, events):
    runner, _ = _runner(tmp_path, hub)
    photo(tmp_path / "a.jpg")
    photo(tmp_path / "b.jpg")
    (first, _second), _ = runner.add([tmp_path / "a.jpg", tmp_path / "b.jpg"])
    runner.wait_idle()
    runner.remove(first["id"])
    assert [i["name"] for i in runner.items()] == ["b.jpg"]
    assert any(e["type"] == "removed" and e["id"] == first["id"] for e in _drain(events))
    with pytest.raises(NotFound):
        runner.get(first["id"])
    runner.clear()
    assert runner.items() == []
    runner.stop()


def test_one_inference_at_a_time(tmp_path, hub):
    runner, engine = _runner(tmp_path, hub)
    for i in range(4):
        photo(tmp_path / f"{i}.jpg")
    runner.add([tmp_path / f"{i}.jpg" for i in range(4)])
    runner.wait_idle()
    assert engine.runs == 4 and engine.max_active == 1
    runner.stop()


def test_a_missing_model_is_reported_in_the_status_and_the_queue(tmp_path, hub, events):
    def broken():
        raise FileNotFoundError(2, "No such file", "models/x.onnx")

    (tmp_path / "spill").mkdir()
    runner = JobRunner(broken, hub, tmp_path / "spill").start()
    photo(tmp_path / "a.jpg")
    runner.add([tmp_path / "a.jpg"])
    runner.wait_idle()
    assert runner.status["ready"] is False and runner.status["error"]
    assert runner.status["error_code"] == "io_error" and runner.status["provider"] == ""  # the page words it
    assert runner.items()[0]["state"] == "failed"
    runner.stop()


def test_export_tasks_report_each_file_and_a_total(tmp_path, hub, events):
    runner, _ = _runner(tmp_path, hub)
    photo(tmp_path / "a.jpg")
    photo(tmp_path / "b.jpg")
    (a, b), _ = runner.add([tmp_path / "a.jpg", tmp_path / "b.jpg"])

    def run(doc):
        if doc.name == "b.jpg":
            raise OSError(28, "No space left on device")
        return {"path": str(tmp_path / "out" / doc.name), "message": None}

    runner.export(ExportTask((a["id"], b["id"]), run, str(tmp_path / "out")))
    runner.wait_idle()
    seen = [e for e in _drain(events) if e["type"].startswith("export")]
    assert [e.get("state") for e in seen[:2]] == ["written", "failed"]
    assert "No space left" in seen[1]["message"]
    assert seen[-1] == {"type": "export-done", "written": 1, "failed": 1, "folder": str(tmp_path / "out")}
    runner.stop()


def _speck_photo(path):
    img = Image.new("RGB", (400, 300), (20, 30, 40))
    img.paste((230, 200, 180), (100, 75, 300, 225))
    img.paste((230, 200, 180), (370, 20, 374, 24))  # a 4×4 bright speck far from the subject
    img.save(path)


def test_mask_options_apply_to_photos_cut_out_afterwards_and_open_ones_keep_their_mask(tmp_path, hub, monkeypatch):
    import app.batch.pipeline as pipeline

    guided = []  # photos whose mask followed the photo's edges (app.core.refine)
    real_refine = pipeline.refine_alpha
    monkeypatch.setattr(pipeline, "refine_alpha", lambda prob, img: guided.append(img.size) or real_refine(prob, img))
    runner, _ = _runner(tmp_path, hub, FakeEngine(size=400))
    _speck_photo(tmp_path / "a.png")
    (before,), _ = runner.add([tmp_path / "a.png"])
    assert runner.wait_idle()
    runner.use_mask_options(MaskOptions(refine_edges=False, remove_specks=False))
    (after,), _ = runner.add([tmp_path / "a.png"])
    assert runner.wait_idle()
    old, new = runner.get(before["id"]).alpha(), runner.get(after["id"]).alpha()
    assert old[22, 372] == 0 and new[22, 372] == 255  # the speck: removed by default, kept when switched off
    assert guided == [(400, 300)]  # only the first photo: the second got a plain resize
    assert old[150, 200] == new[150, 200] == 255
    assert (runner.mask_options.refine_edges, runner.mask_options.remove_specks) == (False, False)
    runner.stop()


def test_a_removed_or_unknown_photo_is_not_found():
    runner = JobRunner(FakeEngine, EventHub(), Path("unused"))
    with pytest.raises(NotFound, match="no longer in the list"):
        runner.get("d404")


class BuggyEngine(FakeEngine):
    def infer(self, tensor):
        raise RuntimeError("internal detail of a bug")


def test_a_bug_during_a_cutout_reads_as_a_bug_with_a_log_reference_in_the_queue(tmp_path, hub, events, caplog):
    runner, _ = _runner(tmp_path, hub, BuggyEngine())
    photo(tmp_path / "a.jpg")
    (added,), _ = runner.add([tmp_path / "a.jpg"])
    with caplog.at_level(logging.ERROR, logger="knockout"):
        assert runner.wait_idle()
    item = runner.get(added["id"]).as_item()
    assert item["state"] == "failed" and "internal detail" not in item["message"]
    assert "a bug in Knockout" in item["message"]
    assert any(r.getMessage().split("[")[1].rstrip("]") in item["message"] for r in caplog.records)
    runner.stop()


def test_whatever_a_task_throws_the_window_is_told_in_a_sentence(tmp_path, hub, events):
    runner, _ = _runner(tmp_path, hub)

    def fails():
        raise OSError(28, "No space left on device", "/out/a.png")

    runner.after_queue(fails)
    assert runner.wait_idle()
    (error,) = [e for e in _drain(events) if e["type"] == "error"]
    assert error["message"] == "Could not read or write /out/a.png: No space left on device."
    runner.stop()


def test_a_whole_mask_fix_the_user_waits_for_goes_before_queued_cutouts(tmp_path, hub, events):
    from app.core.errors import NotReady

    engine = SlowEngine()
    engine.release.set()
    runner, _ = _runner(tmp_path, hub, engine)
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        photo(tmp_path / name)
    (a,), _ = runner.add([tmp_path / "a.jpg"])
    assert runner.wait_idle()
    engine.release.clear()
    engine.entered.clear()
    (_b, c), _ = runner.add([tmp_path / "b.jpg", tmp_path / "c.jpg"])
    assert engine.entered.wait(10)  # b is in the model; c waits its turn
    with pytest.raises(NotReady):
        runner.fix(c["id"], "punch_holes")
    _drain(events)
    assert runner.fix(a["id"], "punch_holes")
    engine.release.set()
    assert runner.wait_idle()
    order = [(e["item"]["id"], "edit" in e) for e in _drain(events) if e["type"] == "item"]
    assert order.index((a["id"], True)) < order.index((c["id"], False))
    runner.stop()


# -- a first look, then the full answer -------------------------------------------------
def _previewing(tmp_path, hub, names=("a.jpg",), hold=True):
    """A runner on a resizable model whose full pass waits (``hold``) until the test releases it."""
    engine = ResizableFakeEngine()
    if hold:
        engine.hold_full.clear()
    runner, _ = _runner(tmp_path, hub, engine)
    for name in names:
        photo(tmp_path / name, size=(400, 300))
    added, _ = runner.add([tmp_path / n for n in names])
    return runner, engine, [item["id"] for item in added]


def test_a_photo_shows_a_preview_then_its_full_answer_replaces_it(tmp_path, hub, events):
    runner, engine, (doc_id,) = _previewing(tmp_path, hub)
    doc = runner.get(doc_id)
    assert wait_for(lambda: doc.previewing)
    assert engine.full_entered.wait(10)
    item = runner.items()[0]
    assert item["preview"] and item["state"] == "working" and 0.3 <= item["progress"] < 1
    assert doc.alpha().min() == 255  # the fake's quick answer: everything foreground
    engine.hold_full.set()
    assert runner.wait_idle()
    assert not doc.previewing and doc.state == "done" and doc.alpha()[0, 0] == 0
    assert engine.sizes == [(640, 640), (1024, 1024)]
    seen = [e["item"] for e in _drain(events) if e["type"] == "item"]
    shown = next(i for i in seen if i["preview"])
    assert shown["state"] == "queued" and shown["progress"] == 0.3
    assert seen[-1]["state"] == "done" and not seen[-1]["preview"] and seen[-1]["version"] > shown["version"]
    runner.stop()


def test_strokes_painted_on_the_preview_are_painted_again_on_the_full_answer(tmp_path, hub):
    runner, engine, (doc_id,) = _previewing(tmp_path, hub)
    doc = runner.get(doc_id)
    assert wait_for(lambda: doc.previewing)
    doc.stroke(Stroke("erase", 12, 1.0, ((200.0, 150.0),)))  # inside the subject
    doc.stroke(Stroke("restore", 12, 1.0, ((20.0, 20.0),)))  # on the background
    doc.stroke(Stroke("erase", 12, 1.0, ((150.0, 120.0),)))
    doc.undo()  # undone: not painted again
    engine.hold_full.set()
    assert runner.wait_idle() and doc.state == "done"
    alpha = doc.alpha()
    assert alpha[150, 200] == 0 and alpha[20, 20] == 255 and alpha[120, 150] == 255
    assert doc.edit_state()["can_undo"] and not doc.edit_state()["can_redo"]
    doc.undo()
    doc.undo()
    assert np.array_equal(doc.alpha(), doc.model_alpha())  # each stroke is one undoable step on the new mask
    runner.stop()


def test_a_reset_on_the_preview_drops_the_strokes_before_it(tmp_path, hub):
    runner, engine, (doc_id,) = _previewing(tmp_path, hub)
    doc = runner.get(doc_id)
    assert wait_for(lambda: doc.previewing)
    doc.stroke(Stroke("erase", 12, 1.0, ((200.0, 150.0),)))
    doc.reset()
    engine.hold_full.set()
    assert runner.wait_idle()
    assert doc.alpha()[150, 200] == 255 and not doc.edit_state()["can_undo"]
    runner.stop()


def test_removing_a_photo_while_its_preview_shows_cancels_its_full_pass(tmp_path, hub):
    runner, engine, (first, second) = _previewing(tmp_path, hub, names=("a.jpg", "b.jpg"))
    assert engine.full_entered.wait(10)  # a's full pass is running; b's preview is waiting behind it
    assert wait_for(lambda: runner.get(first).previewing)
    runner.remove(first)  # a's full pass is in the model: cancelled when it returns
    engine.hold_full.set()
    assert runner.wait_idle()
    assert [i["id"] for i in runner.items()] == [second] and runner.get(second).state == "done"
    assert engine.sizes.count((1024, 1024)) == 2  # a's pass ran out, b's: a's answer was never kept
    runner.stop()


def test_removing_a_photo_whose_preview_waits_means_its_full_pass_never_runs(tmp_path, hub):
    runner, engine, ids = _previewing(tmp_path, hub, names=("a.jpg", "b.jpg", "c.jpg"))
    assert engine.full_entered.wait(10)
    assert wait_for(lambda: runner.get(ids[1]).previewing)  # b previewed while a's full pass waits
    assert runner.get(ids[1]).state == "queued"
    runner.remove(ids[1])
    engine.hold_full.set()
    assert runner.wait_idle()
    assert engine.sizes.count((640, 640)) == 3 and engine.sizes.count((1024, 1024)) == 2
    assert [i["state"] for i in runner.items()] == ["done", "done"]
    runner.stop()


def test_stopping_a_previewed_photo_drops_its_preview_and_retry_starts_over(tmp_path, hub):
    runner, engine, ids = _previewing(tmp_path, hub, names=("a.jpg", "b.jpg"))
    assert engine.full_entered.wait(10)
    assert wait_for(lambda: runner.get(ids[1]).previewing)
    runner.cancel(ids[1])
    doc = runner.get(ids[1])
    assert doc.state == "cancelled" and not doc.previewing and not doc.has_mask
    engine.hold_full.set()
    assert runner.wait_idle()
    runner.retry(ids[1])
    assert runner.wait_idle() and doc.state == "done"
    runner.stop()


def test_the_photo_in_focus_gets_its_full_answer_before_earlier_photos(tmp_path, hub, events):
    (tmp_path / "spill").mkdir()
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        photo(tmp_path / name)
    runner = JobRunner(ResizableFakeEngine, hub, tmp_path / "spill")  # not started: all queued first
    added, _ = runner.add([tmp_path / n for n in ("a.jpg", "b.jpg", "c.jpg")])
    runner.focus(added[2]["id"])
    runner.start()
    assert runner.wait_idle()
    shown = [(e["item"]["name"], "preview" if e["item"]["preview"] else e["item"]["state"])
             for e in _drain(events) if e["type"] == "item" and e["item"]["state"] in ("queued", "done")
             and e["item"]["progress"]]
    assert shown == [("c.jpg", "preview"), ("c.jpg", "done"), ("a.jpg", "preview"), ("b.jpg", "preview"),
                     ("a.jpg", "done"), ("b.jpg", "done")]
    runner.stop()


def test_exporting_a_photo_in_preview_writes_its_full_answer(tmp_path, hub):
    runner, engine, (doc_id,) = _previewing(tmp_path, hub)
    doc = runner.get(doc_id)
    assert wait_for(lambda: doc.previewing)
    runner.focus(None)
    written = []

    def run(exported):
        written.append((exported.previewing, exported.snapshot().alpha.getpixel((0, 0))))
        return {"path": "x"}

    engine.hold_full.set()
    runner.export(ExportTask((doc_id,), run, str(tmp_path / "out")))
    assert runner.wait_idle()
    assert written == [(False, 0)]
    runner.stop()


def test_hot_folder_photos_get_the_full_answer_only(tmp_path, hub):
    engine = ResizableFakeEngine()
    runner, _ = _runner(tmp_path, hub, engine)
    photo(tmp_path / "a.jpg")
    runner.add([tmp_path / "a.jpg"], then=lambda doc: None)
    assert runner.wait_idle()
    assert engine.sizes == [(1024, 1024)]
    runner.stop()


def test_background_work_runs_a_step_at_a_time_only_while_nothing_else_waits(tmp_path, hub):
    engine = SlowEngine()
    runner, _ = _runner(tmp_path, hub, engine)
    photo(tmp_path / "a.jpg")
    runner.add([tmp_path / "a.jpg"])
    assert engine.entered.wait(10)  # a photo is in the model when the background work is queued
    log, finished = [], threading.Event()

    def steps():
        for n in range(3):
            log.append(("step", n, runner.get(runner.items()[0]["id"]).state))
            yield None
        yield "measured"

    runner.when_idle(steps(), lambda result: (log.append(result), finished.set()))
    engine.release.set()
    assert finished.wait(10)
    assert log == [("step", 0, "done"), ("step", 1, "done"), ("step", 2, "done"), "measured"]
    runner.stop()


def test_failing_background_work_ends_quietly(tmp_path, hub, events):
    runner, _ = _runner(tmp_path, hub)

    def steps():
        yield None
        raise RuntimeError("no such model")

    runner.when_idle(steps(), lambda result: pytest.fail("never done"))
    assert runner.wait_idle()
    assert wait_for(lambda: runner._tasks.empty())
    assert not any(e["type"] == "error" for e in _drain(events))
    runner.stop()


def test_the_status_says_why_this_model(tmp_path, hub):
    runner = JobRunner(FakeEngine, hub, tmp_path, model_note="fastest on this CPU").start()
    assert wait_for(lambda: runner.status["ready"])
    assert runner.status["note"] == "fastest on this CPU" and runner.status["model"] == "Fake"
    assert runner.status["note_code"] == "fastest"  # the page's words for it: status.note_fastest
    runner.use_engine(FakeEngine)  # a model someone chose: no note
    assert wait_for(lambda: runner.status["ready"]) and runner.status["note"] is None
    assert runner.status["note_code"] is None
    runner.stop()


def _on_screen(tmp_path, hub, monkeypatch):
    """A photo in focus before the worker starts, whose full pass would wait a minute for its first look."""
    monkeypatch.setattr(cutouts, "SHOW_GRACE", 60.0)
    (tmp_path / "spill").mkdir()
    photo(tmp_path / "a.jpg", size=(400, 300))
    engine = ResizableFakeEngine()
    runner = JobRunner(lambda: engine, hub, tmp_path / "spill")
    (item,), _ = runner.add([tmp_path / "a.jpg"])
    return runner, engine, runner.get(item["id"])


def test_the_full_pass_on_screen_starts_once_the_page_has_its_first_look(tmp_path, hub, monkeypatch):
    runner, engine, doc = _on_screen(tmp_path, hub, monkeypatch)
    runner.focus(doc.id)
    runner.start()
    assert wait_for(lambda: doc.previewing)
    assert not engine.full_entered.wait(0.3)  # the first look's picture has not been asked for
    doc.preview("cutout")
    assert engine.full_entered.wait(10)
    assert runner.wait_idle() and doc.state == "done"
    runner.stop()


def test_a_photo_not_on_screen_goes_straight_on_to_its_full_pass(tmp_path, hub, monkeypatch):
    runner, engine, doc = _on_screen(tmp_path, hub, monkeypatch)
    runner.start()  # nothing in focus: a batch, the hot folder
    assert engine.full_entered.wait(10)
    assert runner.wait_idle() and doc.state == "done"


def test_the_queue_shows_a_poor_source_with_its_reason_and_mask_fixes_keep_it(tmp_path, hub, events):
    from app.desktop import mask_fixes

    runner, _ = _runner(tmp_path, hub)
    shot = Image.new("RGB", (1600, 1200), (20, 30, 40))
    shot.paste((230, 200, 180), (400, 300, 1200, 900))
    shot.resize((800, 600)).save(tmp_path / "forwarded.jpg", quality=35)  # a messaging app's copy
    runner.add([tmp_path / "forwarded.jpg"])
    assert runner.wait_idle()
    [item] = runner.items()
    assert item["state"] == "flagged" and [f["code"] for f in item["flags"]] == ["recompressed"]
    assert "messaging app" in item["flags"][0]["message"]
    published = [e["item"] for e in _drain(events) if e["type"] == "item" and e["item"]["state"] == "flagged"]
    assert published and published[-1]["flags"] == item["flags"]
    doc = runner.get(item["id"])
    mask_fixes.assess(doc)  # a whole-mask fix runs the mask's checks again; the photo is still the same
    assert [f["code"] for f in doc.flags] == ["recompressed"] and doc.state == "flagged"
    runner.stop()
