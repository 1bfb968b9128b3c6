"""The js_api object, called directly (no window): validation, envelopes, delegation."""

import dataclasses
import logging
import os
import stat
import threading

import numpy as np
import pytest
from PIL import Image, ImageFilter

from app.desktop import mask_fixes
from app.desktop.bridge import Api, Pasteboard
from app.desktop.events import EventHub
from app.desktop.jobs import JobRunner
from app.governance.policy import NO_POLICY, Policy
from tests.fakes import FakeEngine, photo, wait_for


class FakeShell:
    def __init__(self, files=(), folder=None):
        self.files, self.folder, self.revealed, self.save_to = list(files), folder, [], None

    def open_files(self):
        return self.files

    def choose_folder(self):
        return self.folder

    def save_file(self, suggested_name):
        return self.save_to

    def reveal(self, folder):
        self.revealed.append(folder)


@pytest.fixture
def hub():
    return EventHub()


def _api(tmp_path, hub, shell=None, policy=NO_POLICY):
    (tmp_path / "spill").mkdir(exist_ok=True)
    runner = JobRunner(lambda: FakeEngine(), hub, tmp_path / "spill").start()
    return Api(runner, "tok", shell or FakeShell(), policy), runner


def _open_done(api, runner, path):
    added = api.open_paths([str(path)])["added"]
    assert runner.wait_idle()
    return added[0]["id"]


def test_hello_gives_the_page_what_it_needs_to_start(tmp_path, hub):
    api, runner = _api(tmp_path, hub)
    runner.wait_idle()
    hello = api.hello()
    assert hello["ok"] and hello["token"] == "tok"
    assert hello["status"]["ready"] and hello["status"]["offline"]
    assert {"png-master", "marketplace", "web-webp", "mask"} <= {p["id"] for p in hello["presets"]}
    assert hello["settings"]["theme"] == "system" and hello["locked"] == []
    runner.stop()


def test_bad_input_gets_one_plain_error_envelope(tmp_path, hub):
    api, runner = _api(tmp_path, hub)
    assert api.open_paths("not a list")["error"]["code"] == "invalid"
    assert api.document("d404")["error"] == {"code": "not-found", "message": "That image is no longer in the list."}
    assert api.stroke(123, {})["error"]["code"] == "invalid"
    result = api.set_settings({"theme": "purple"})
    assert not result["ok"] and "Traceback" not in result["error"]["message"]
    runner.stop()


def test_a_bug_inside_a_bridge_method_reads_as_a_bug_with_a_log_reference(tmp_path, hub, monkeypatch, caplog):
    from app.desktop.document import Document

    api, runner = _api(tmp_path, hub)
    photo(tmp_path / "a.jpg")
    doc_id = _open_done(api, runner, tmp_path / "a.jpg")
    monkeypatch.setattr(Document, "levels", lambda self: {}["levels"])  # a KeyError from a bug
    with caplog.at_level(logging.ERROR, logger="knockout"):
        error = api.document(doc_id)["error"]
    assert error["code"] == "internal_error" and "no longer in the list" not in error["message"]
    (record,) = caplog.records
    reference = record.getMessage().split("[")[1].split("]")[0]
    assert reference in error["message"] and record.exc_info is not None
    monkeypatch.setattr(Document, "edit_state", lambda self: int("not a number"))  # a ValueError from a bug
    assert api.document(doc_id)["error"]["code"] == "internal_error"
    runner.stop()


def test_a_removed_photo_still_reads_as_not_found(tmp_path, hub):
    api, runner = _api(tmp_path, hub)
    photo(tmp_path / "a.jpg")
    doc_id = _open_done(api, runner, tmp_path / "a.jpg")
    assert api.remove(doc_id)["ok"]
    for answer in (api.document(doc_id), api.undo(doc_id), api.retry(doc_id), api.punch_holes(doc_id)):
        assert answer["error"] == {"code": "not-found", "message": "That image is no longer in the list."}
    runner.stop()


def test_bad_page_input_is_refused_as_invalid_with_the_reason(tmp_path, hub):
    api, runner = _api(tmp_path, hub)
    photo(tmp_path / "a.jpg")
    doc_id = _open_done(api, runner, tmp_path / "a.jpg")
    for stroke in ({"mode": "erase", "radius": "wide", "points": [[1, 1]]}, {"mode": "erase", "radius": 5},
                   "a stroke", {"mode": "erase", "radius": 5, "points": [[1, float("nan")]]}):
        assert api.stroke(doc_id, stroke)["error"]["code"] == "invalid"
    bad_template = api.export({"ids": [doc_id], "preset": "png-master", "template": "{nope}",
                               "folder": str(tmp_path / "out")})["error"]
    assert bad_template["code"] == "invalid" and "template" in bad_template["message"]
    not_a_folder = api.watch_start({"inbox": str(tmp_path / "a.jpg"), "folder": str(tmp_path / "out")})["error"]
    assert not_a_folder["code"] == "not-a-folder" and "a.jpg" in not_a_folder["message"]
    assert not_a_folder["params"]["name"].endswith("a.jpg")  # for the window to say it in its language
    runner.stop()


def test_open_stroke_undo_through_the_bridge(tmp_path, hub):
    api, runner = _api(tmp_path, hub)
    photo(tmp_path / "a.jpg", size=(400, 300))
    doc_id = _open_done(api, runner, tmp_path / "a.jpg")
    doc = api.document(doc_id)
    assert (doc["width"], doc["height"], doc["tile"]) == (400, 300, 512)
    stroke = api.stroke(doc_id, {"mode": "erase", "radius": 20, "hardness": 1, "points": [[200, 150]]})
    assert stroke["ok"] and stroke["can_undo"] and stroke["box"][0] <= 200 <= stroke["box"][2]
    assert runner.get(doc_id).alpha()[150, 200] == 0
    assert api.undo(doc_id)["can_redo"]
    assert runner.get(doc_id).alpha()[150, 200] == 255
    bad = api.stroke(doc_id, {"mode": "smudge", "radius": 5, "hardness": 1, "points": [[1, 1]]})
    assert bad["error"]["code"] == "invalid" and "Unknown brush" in bad["error"]["message"]
    runner.stop()


def test_the_open_dialog_and_folder_chooser_go_through_the_shell(tmp_path, hub):
    photo(tmp_path / "a.jpg")
    shell = FakeShell(files=[str(tmp_path / "a.jpg")], folder=str(tmp_path / "out"))
    api, runner = _api(tmp_path, hub, shell)
    assert [a["name"] for a in api.open_dialog()["added"]] == ["a.jpg"]
    assert api.choose_folder()["path"] == str(tmp_path / "out")
    assert api.open_folder(str(tmp_path))["ok"] and shell.revealed == [str(tmp_path)]
    assert api.open_folder(str(tmp_path / "nope"))["error"]["code"] == "not-found"
    runner.stop()


def test_pasted_bytes_become_a_queued_photo(tmp_path, hub):
    _api_unused, runner = _api(tmp_path, hub)
    events = hub.subscribe()
    photo(tmp_path / "clip.png")
    result = Pasteboard(runner, tmp_path / "pasted").open((tmp_path / "clip.png").read_bytes(), "clip.png")
    assert result["ok"] and len(result["ids"]) == 1
    runner.wait_idle()
    assert runner.get(result["ids"][0]).state == "done"
    assert list((tmp_path / "pasted").glob("clip-*.png"))
    seen = [events.get_nowait() for _ in range(events.qsize())]
    assert {"type": "opened", "ids": result["ids"]} in seen
    runner.stop()


def test_export_writes_files_with_the_preset_and_template(tmp_path, hub):
    api, runner = _api(tmp_path, hub)
    events = hub.subscribe()
    photo(tmp_path / "sku1.jpg", size=(400, 300))
    doc_id = _open_done(api, runner, tmp_path / "sku1.jpg")
    out = tmp_path / "out"
    assert api.export({"ids": [doc_id], "preset": "png-master", "template": "{stem}-{preset}",
                       "folder": str(out)})["queued"] == 1
    assert api.export({"ids": None, "preset": "marketplace", "template": "{stem}-white",
                       "folder": str(out)})["queued"] == 1
    runner.wait_idle()
    with Image.open(out / "sku1-png-master.png") as master:
        assert master.mode == "RGBA" and master.getchannel("A").getextrema() == (0, 255)
    with Image.open(out / "sku1-white.jpg") as white:
        assert white.size == (2000, 2000) and white.getpixel((0, 0)) == (255, 255, 255)
    done = [e for e in (events.get_nowait() for _ in range(events.qsize())) if e["type"] == "export-done"]
    assert [(e["written"], e["failed"]) for e in done] == [(1, 0), (1, 0)]
    runner.stop()


def test_exporting_twice_replaces_our_own_file_but_never_someone_elses(tmp_path, hub):
    api, runner = _api(tmp_path, hub)
    photo(tmp_path / "a.jpg")
    doc_id = _open_done(api, runner, tmp_path / "a.jpg")
    out = tmp_path / "out"
    out.mkdir()
    (out / "a-png-master.png").write_bytes(b"someone else's file")
    request = {"ids": [doc_id], "preset": "png-master", "template": "{stem}-{preset}", "folder": str(out)}
    api.export(request)
    api.export(request)
    runner.wait_idle()
    assert (out / "a-png-master.png").read_bytes() == b"someone else's file"
    assert sorted(p.name for p in out.iterdir()) == ["a-png-master-2.png", "a-png-master.png"]
    runner.stop()


def test_export_refuses_bad_templates_and_empty_queues_up_front(tmp_path, hub):
    api, runner = _api(tmp_path, hub)
    assert api.export({"preset": "png-master", "folder": str(tmp_path)})["error"]["code"] == "nothing"
    photo(tmp_path / "a.jpg")
    doc_id = _open_done(api, runner, tmp_path / "a.jpg")
    bad = api.export({"ids": [doc_id], "preset": "png-master", "template": "{nope}", "folder": str(tmp_path)})
    assert not bad["ok"] and "template" in bad["error"]["message"]
    unknown = api.export({"ids": [doc_id], "preset": "no-such-preset", "folder": str(tmp_path)})
    assert not unknown["ok"]
    runner.stop()


def test_settings_round_trip_and_locked_keys_are_refused(tmp_path, hub):
    api, runner = _api(tmp_path, hub)
    saved = api.set_settings({"theme": "dark"})
    assert saved["ok"] and saved["settings"]["theme"] == "dark"
    assert api.get_settings()["settings"]["theme"] == "dark"
    runner.stop()
    locked_api, runner = _api(tmp_path, hub, policy=Policy(force_cpu=True, source="test"))
    assert "device" in locked_api.get_settings()["locked"]
    refused = locked_api.set_settings({"device": "auto"})
    assert refused["error"]["code"] == "locked"
    runner.stop()



def test_a_watched_folder_is_cut_out_exported_and_journaled(tmp_path, hub):
    api, runner = _api(tmp_path, hub)
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    photo(inbox / "sku1.jpg")
    started = api.watch_start({"inbox": str(inbox), "folder": str(out), "preset": "png-master",
                               "template": "{stem}-{preset}"})
    assert started["ok"], started
    api._hotfolder.watcher.interval = 0.05
    assert wait_for(lambda: (out / "sku1-png-master.png").exists())
    photo(inbox / "sub" / "sku2.jpg")
    assert wait_for(lambda: (out / "sub" / "sku2-png-master.png").exists())
    assert wait_for(lambda: api.status()["watch"]["written"] == 2)
    assert [i["name"] for i in api.queue()["items"]] == ["sku1.jpg", "sku2.jpg"]
    assert api.watch_stop()["watch"] is None
    runner.wait_idle()
    journal = (out / ".knockout-journal.jsonl").read_text()
    assert journal.count('"status": "written"') == 2 or journal.count('"status":"written"') == 2
    runner.stop()


def test_a_hot_folder_that_stopped_by_itself_is_not_shown_as_watching(tmp_path, hub, monkeypatch):
    from app.batch.watch import Watcher

    api, runner = _api(tmp_path, hub)
    inbox = tmp_path / "inbox"
    inbox.mkdir()

    def scan(self):
        raise PermissionError(13, "Permission denied", str(inbox))

    monkeypatch.setattr(Watcher, "scan", scan)
    started = api.watch_start({"inbox": str(inbox), "folder": str(tmp_path / "out"), "preset": "png-master"})
    assert started["ok"], started
    assert wait_for(lambda: api.status()["watch"] is None)
    assert "Permission denied" in api.status()["watch_error"]
    assert api.watch_stop()["ok"]
    runner.stop()


def test_watching_needs_a_real_folder_outside_the_output(tmp_path, hub):
    api, runner = _api(tmp_path, hub)
    assert api.watch_start({"inbox": str(tmp_path / "nope"), "folder": str(tmp_path / "o")})["error"]
    assert api.watch_start({"inbox": str(tmp_path), "folder": str(tmp_path)})["error"]["code"] == "watch-inside"
    assert api.watch_start({})["error"]["code"] == "no-folder"
    runner.stop()


def test_diagnostics_report_is_built_on_the_worker_and_can_be_saved(tmp_path, hub, monkeypatch):
    from app.support import diagnose

    def collect(device="auto", every_model=True):
        return {"fake": device, "quick": not every_model}

    monkeypatch.setattr(diagnose, "collect", collect)
    monkeypatch.setattr(diagnose, "render", lambda report: f"REPORT {report['fake']} quick={report['quick']}")
    shell = FakeShell()
    api, runner = _api(tmp_path, hub, shell)
    events = hub.subscribe()
    assert api.save_diagnostics()["error"]["code"] == "nothing"
    assert api.diagnostics()["queued"]
    runner.wait_idle()
    seen = [events.get_nowait() for _ in range(events.qsize())]
    assert {"type": "diagnostics", "report": "REPORT auto quick=True"} in seen  # the window times one model
    assert api.save_diagnostics() == {"ok": True, "path": None}  # dialog cancelled
    shell.save_to = str(tmp_path / "report.txt")
    assert api.save_diagnostics()["path"] == shell.save_to
    assert (tmp_path / "report.txt").read_text() == "REPORT auto quick=True"
    runner.stop()


def test_clear_cache_keeps_running_sessions(tmp_path, hub):
    from app import paths
    from app.governance import retention

    api, runner = _api(tmp_path, hub)
    live = retention.Session()
    stale = paths.user_cache_dir() / "thumbs-old"
    stale.mkdir(parents=True)
    assert api.clear_cache()["removed"] >= 1
    assert live.path.exists() and not stale.exists()
    live.close()
    runner.stop()


def test_policy_pins_win_over_what_the_page_asks_for(tmp_path, hub):
    pinned = str(tmp_path / "it-folder")
    policy = Policy(lock=("template", "output_dir"), default_output_dir=pinned,
                    settings={"template": "{stem}-approved"}, source="test")
    api, runner = _api(tmp_path, hub, policy=policy)
    photo(tmp_path / "a.jpg")
    doc_id = _open_done(api, runner, tmp_path / "a.jpg")
    api.export({"ids": [doc_id], "preset": "png-master", "template": "{stem}-mine", "folder": str(tmp_path / "x")})
    runner.wait_idle()
    assert (tmp_path / "it-folder" / "a-approved.png").exists()
    assert not (tmp_path / "x").exists()
    runner.stop()


def test_audit_on_records_each_export_with_hashes(tmp_path, hub):
    import hashlib
    import json

    from app.governance import audit

    api, runner = _api(tmp_path, hub)
    assert api.set_settings({"audit": True, "sidecar": True})["ok"]
    photo(tmp_path / "a.jpg")
    doc_id = _open_done(api, runner, tmp_path / "a.jpg")
    api.export({"ids": [doc_id], "preset": "png-master", "template": "{stem}", "folder": str(tmp_path / "out")})
    runner.wait_idle()
    (line,) = audit.default_log_path().read_text().splitlines()
    record = json.loads(line)
    written = tmp_path / "out" / "a.png"
    assert record["output"]["sha256"] == hashlib.sha256(written.read_bytes()).hexdigest()
    assert record["preset"] == "png-master" and record["source"]["name"] == "a.jpg"
    assert audit.sidecar_path(written).exists()
    runner.stop()


def test_audit_record_says_how_the_exported_mask_was_made_not_the_settings_of_today(tmp_path, hub):
    import json

    from app.governance import audit

    api, runner = _api(tmp_path, hub)
    assert api.set_settings({"audit": True, "refine_edges": False})["ok"]
    photo(tmp_path / "a.jpg")
    doc_id = _open_done(api, runner, tmp_path / "a.jpg")  # its mask is made with plain edges
    assert api.set_settings({"refine_edges": True})["ok"]  # only photos opened from now on
    api.export({"ids": [doc_id], "preset": "png-master", "template": "{stem}", "folder": str(tmp_path / "out")})
    runner.wait_idle()
    (line,) = audit.default_log_path().read_text().splitlines()
    settings = json.loads(line)["settings"]
    assert (settings["refine_edges"], settings["remove_specks"]) == (False, True)
    runner.stop()


def _fix(api, runner, kind, doc_id):
    """A whole-mask fix through the bridge: the call queues it, the worker does it, and its answer
    comes with the photo's next item event (as the page gets it)."""
    events = runner.hub.subscribe()
    try:
        assert getattr(api, kind)(doc_id) == {"ok": True, "queued": True}
        assert runner.wait_idle()
        seen = [events.get_nowait() for _ in range(events.qsize())]
    finally:
        runner.hub.unsubscribe(events)
    (answer,) = [e["edit"] for e in seen if e["type"] == "item" and "edit" in e and e["item"]["id"] == doc_id]
    assert answer["kind"] == kind
    return answer


def test_recover_parts_brings_back_what_the_mask_dropped_on_a_plain_backdrop_and_undoes(tmp_path, hub):
    api, runner = _api(tmp_path, hub)
    scene = Image.new("RGB", (240, 200), (200, 202, 205))  # a grey studio sweep
    scene.paste((190, 40, 30), (90, 110, 150, 170))  # a red pot...
    scene.paste((50, 140, 40), (70, 40, 170, 110))  # ...and the green plant above it
    scene.save(tmp_path / "plant.png")
    doc_id = _open_done(api, runner, tmp_path / "plant.png")
    doc = runner.get(doc_id)
    pot_only = np.zeros((200, 240), np.uint8)
    pot_only[110:170, 90:150] = 255  # as if the model had kept only the pot
    doc.replace_mask(pot_only)
    mask_fixes.assess(doc)
    assert "left-out" in [flag["code"] for flag in doc.flags] and doc.state == "flagged"
    recovered = _fix(api, runner, "recover_parts", doc_id)
    assert recovered["ok"] and recovered["can_undo"], recovered
    assert "left-out" not in [flag["code"] for flag in doc.flags]  # the queue no longer asks for a look
    assert doc.alpha()[75, 120] == 255 and doc.alpha()[20, 20] == 0 and doc.alpha()[140, 120] == 255
    api.undo(doc_id)
    assert doc.alpha()[75, 120] == 0
    api.redo(doc_id)
    assert _fix(api, runner, "recover_parts", doc_id)["error"]["code"] == "nothing-left-out"
    runner.stop()


def test_recover_parts_says_so_when_the_background_is_not_plain(tmp_path, hub):
    api, runner = _api(tmp_path, hub)
    busy = Image.fromarray(np.random.default_rng(1).integers(0, 256, (200, 240, 3), dtype=np.uint8))
    busy.paste((190, 40, 30), (90, 110, 150, 170))
    busy.save(tmp_path / "busy.png")
    doc_id = _open_done(api, runner, tmp_path / "busy.png")
    pot_only = np.zeros((200, 240), np.uint8)
    pot_only[110:170, 90:150] = 255
    runner.get(doc_id).replace_mask(pot_only)
    error = _fix(api, runner, "recover_parts", doc_id)["error"]
    assert error["code"] == "no-backdrop" and "Restore" in error["message"]
    runner.stop()


def test_punch_holes_opens_a_background_gap_inside_the_subject_and_undoes(tmp_path, hub):
    api, runner = _api(tmp_path, hub)
    ring = Image.new("RGB", (200, 200), (20, 30, 40))  # dark background
    ring.paste((230, 200, 180), (40, 40, 160, 160))  # bright subject (the fake model keeps it)...
    ring.save(tmp_path / "ring.png")
    doc_id = _open_done(api, runner, tmp_path / "ring.png")
    doc = runner.get(doc_id)
    gap = np.zeros((200, 200), np.uint8)
    gap[40:160, 40:160] = 255  # ...but say the model also kept a background-coloured hole in it
    photo_pixels = np.array(doc.rgb())
    photo_pixels[80:120, 80:120] = (20, 30, 40)
    doc._rgb = Image.fromarray(photo_pixels)
    doc.replace_mask(gap)
    punched = _fix(api, runner, "punch_holes", doc_id)
    assert punched["ok"] and punched["box"], punched
    assert doc.alpha()[100, 100] == 0 and doc.alpha()[50, 50] == 255
    api.undo(doc_id)
    assert doc.alpha()[100, 100] == 255
    again = _fix(api, runner, "punch_holes", doc_id)
    assert again["ok"]
    assert _fix(api, runner, "punch_holes", doc_id)["error"]["code"] == "no-holes"
    runner.stop()


def test_the_marketplace_preset_punches_background_gaps_and_the_master_keeps_the_mask(tmp_path, hub):
    api, runner = _api(tmp_path, hub)
    ring = Image.new("RGB", (300, 300), (20, 30, 40))
    ring.paste((230, 200, 180), (60, 60, 240, 240))
    ring.paste((20, 30, 40), (120, 120, 180, 180))
    ring.save(tmp_path / "ring.png")
    doc_id = _open_done(api, runner, tmp_path / "ring.png")
    runner.get(doc_id).replace_mask(np.pad(np.full((180, 180), 255, np.uint8), 60))  # the gap kept
    out = tmp_path / "out"
    for preset in ("marketplace", "png-master"):
        api.export({"ids": [doc_id], "preset": preset, "template": "{stem}-{preset}", "folder": str(out)})
    runner.wait_idle()
    with Image.open(out / "ring-png-master.png") as master:
        assert master.getchannel("A").getpixel((150, 150)) == 255  # the master keeps the mask as edited
    with Image.open(out / "ring-marketplace.jpg") as white:
        centre = white.getpixel((1000, 1000))
        assert min(centre) > 240  # the gap shows the white background, not the dark old one
    runner.stop()


def test_saving_cutout_quality_settings_tells_the_runner_for_the_next_photos(tmp_path, hub):
    api, runner = _api(tmp_path, hub)
    assert (runner.mask_options.refine_edges, runner.mask_options.remove_specks) == (True, True)
    saved = api.set_settings({"refine_edges": False, "remove_specks": False})
    assert saved["ok"] and (saved["settings"]["refine_edges"], saved["settings"]["remove_specks"]) == (False, False)
    assert (runner.mask_options.refine_edges, runner.mask_options.remove_specks) == (False, False)
    api.set_settings({"remove_specks": True})
    assert (runner.mask_options.refine_edges, runner.mask_options.remove_specks) == (False, True)
    assert api.set_settings({"decontaminate": "no"})["error"]["code"] == "invalid"
    assert (runner.mask_options.refine_edges, runner.mask_options.remove_specks) == (False, True)
    assert runner.mask_options.views == 2  # the window's default
    api.set_settings({"views": 1})
    assert runner.mask_options.views == 1
    runner.stop()


def _soft_photo(path):
    """A warm subject with blurred edges on a blue background: its edge pixels mix both colours."""
    img = Image.new("RGB", (160, 120), (30, 60, 200))
    img.paste((240, 200, 150), (40, 30, 120, 90))
    img.filter(ImageFilter.GaussianBlur(4)).save(path)


@pytest.mark.parametrize("decontaminate", [True, False])
def test_export_decontaminates_soft_edges_only_when_the_setting_allows_it(tmp_path, hub, decontaminate):
    api, runner = _api(tmp_path, hub)
    assert api.set_settings({"decontaminate": decontaminate})["ok"]
    _soft_photo(tmp_path / "soft.png")
    doc_id = _open_done(api, runner, tmp_path / "soft.png")
    out = tmp_path / "out"
    assert api.export({"ids": [doc_id], "preset": "png-master", "folder": str(out)})["ok"]
    assert runner.wait_idle()
    with Image.open(out / "soft-png-master.png") as img:
        exported = np.asarray(img.convert("RGBA")).astype(int)
    with Image.open(tmp_path / "soft.png") as img:
        original = np.asarray(img.convert("RGB")).astype(int)
    band = (exported[..., 3] > 0) & (exported[..., 3] < 255)
    assert band.sum() > 100  # the soft edge all around the subject
    shift = np.abs(exported[..., :3][band] - original[band]).max(axis=1)
    if decontaminate:
        assert (shift > 10).mean() > 0.5  # the old background's blue estimated out of most edge pixels
    else:
        assert shift.max() == 0  # the photo's own colours, untouched
    runner.stop()


def test_a_preset_that_keeps_edge_colours_is_not_decontaminated_even_with_the_setting_on(tmp_path, hub, monkeypatch):
    import dataclasses

    from app.desktop import bridge
    from app.governance import presets

    plain = presets.get_preset("png-master")
    plain = dataclasses.replace(plain, settings=dataclasses.replace(plain.settings, decontaminate=False))
    monkeypatch.setattr(bridge, "get_preset", lambda preset_id, policy=None: plain)
    api, runner = _api(tmp_path, hub)
    assert api.get_settings()["settings"]["decontaminate"] is True
    _soft_photo(tmp_path / "soft.png")
    doc_id = _open_done(api, runner, tmp_path / "soft.png")
    assert api.export({"ids": [doc_id], "preset": "png-master", "folder": str(tmp_path / "out")})["ok"]
    assert runner.wait_idle()
    with Image.open(tmp_path / "out" / "soft-png-master.png") as img:
        exported = np.asarray(img.convert("RGBA")).astype(int)
    with Image.open(tmp_path / "soft.png") as img:
        original = np.asarray(img.convert("RGB")).astype(int)
    visible = exported[..., 3] > 0
    assert np.array_equal(exported[..., :3][visible], original[visible])
    runner.stop()


def test_the_window_export_keeps_a_policy_locked_switch_over_a_team_preset(tmp_path, hub, config_dirs):
    import json

    from app.governance import audit
    from app.governance.presets import import_preset

    team = {"knockout_preset": 1, "id": "team-raw", "label": "Raw", "export": {"decontaminate": False}}
    (tmp_path / "team.json").write_text(json.dumps(team), encoding="utf-8")
    import_preset(tmp_path / "team.json", NO_POLICY)
    policy = Policy(lock=("decontaminate",), settings={"decontaminate": True}, audit=True, source="test")
    api, runner = _api(tmp_path, hub, policy=policy)
    photo(tmp_path / "a.jpg")
    doc_id = _open_done(api, runner, tmp_path / "a.jpg")
    assert api.export({"ids": [doc_id], "preset": "team-raw", "template": "{stem}",
                       "folder": str(tmp_path / "out")})["ok"]
    runner.wait_idle()
    (line,) = audit.default_log_path().read_text().splitlines()
    assert json.loads(line)["settings"]["decontaminate"] is True
    runner.stop()


def test_the_hot_folder_refuses_an_unbounded_template_up_front(tmp_path, hub):
    api, runner = _api(tmp_path, hub)
    (tmp_path / "inbox").mkdir()
    started = api.watch_start({"inbox": str(tmp_path / "inbox"), "folder": str(tmp_path / "out"),
                               "preset": "png-master", "template": "{stem:>100000}"})
    assert not started["ok"] and "template" in started["error"]["message"] and api._hotfolder is None
    runner.stop()


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_pasted_images_are_kept_in_a_private_folder(tmp_path, hub, umask_022):
    _api_unused, runner = _api(tmp_path, hub)
    photo(tmp_path / "clip.png")
    Pasteboard(runner, tmp_path / "pasted").open((tmp_path / "clip.png").read_bytes(), "clip.png")
    runner.wait_idle()
    assert stat.S_IMODE((tmp_path / "pasted").stat().st_mode) == 0o700
    (kept,) = (tmp_path / "pasted").glob("clip-*.png")
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    runner.stop()


class _SlowLoadingEngine(FakeEngine):
    """Its model takes a while to load, as the real one does at start-up."""

    def __init__(self):
        super().__init__()
        self.spec = dataclasses.replace(self.spec, id="slow-model", sha256="ab" * 32)
        self.release = threading.Event()

    def load(self):
        assert self.release.wait(20)
        return self


@pytest.mark.slow
def test_a_hot_folder_started_while_the_model_loads_records_the_models_provenance(tmp_path, hub):
    import json

    from app.governance import audit

    (tmp_path / "spill").mkdir()
    engine = _SlowLoadingEngine()
    runner = JobRunner(lambda: engine, hub, tmp_path / "spill").start()
    api = Api(runner, "tok", FakeShell(), NO_POLICY)
    assert api.set_settings({"audit": True})["ok"]
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    assert not api.status()["status"]["ready"]  # the page has not seen the model yet
    assert api.watch_start({"inbox": str(inbox), "folder": str(out), "preset": "png-master",
                            "template": "{stem}"})["ok"]
    engine.release.set()
    photo(inbox / "a.jpg")
    try:
        assert wait_for(lambda: audit.default_log_path().exists())
    finally:
        api.watch_stop()
        runner.stop()
    (line,) = audit.default_log_path().read_text().splitlines()
    assert json.loads(line)["model"] == {"id": "slow-model", "sha256": "ab" * 32}
    header = json.loads((out / ".knockout-journal.jsonl").read_text().splitlines()[0])
    assert header["model"] == "slow-model"



def test_whole_mask_fixes_and_their_quality_check_run_on_the_job_runners_worker(tmp_path, hub, monkeypatch):
    from app.core import backdrop, cleanup, qa

    threads: dict[str, set[str]] = {"clean": set(), "recover": set(), "assess": set()}
    for module, name, key in ((cleanup, "clean", "clean"), (backdrop, "recover", "recover"),
                              (qa, "assess_images", "assess")):
        real = getattr(module, name)

        def spy(*args, real=real, key=key, **kwargs):
            threads[key].add(threading.current_thread().name)
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, spy)
    api, runner = _api(tmp_path, hub)
    photo(tmp_path / "a.jpg")
    doc_id = _open_done(api, runner, tmp_path / "a.jpg")
    for key in threads:
        threads[key].clear()
    assert api.punch_holes(doc_id)["ok"] is not None
    assert api.recover_parts(doc_id)["ok"] is not None
    assert runner.wait_idle()
    runner.stop()
    assert threads == {"clean": {"knockout-jobs"}, "recover": {"knockout-jobs"}, "assess": {"knockout-jobs"}}


def test_hello_reports_the_computers_locale_for_the_windows_language(monkeypatch):
    from app.desktop.bridge import os_locale

    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "de_AT.UTF-8")
    assert os_locale() == "de_AT"
    monkeypatch.setenv("LC_ALL", "C.UTF-8")  # "no locale" is not a language: the next one counts
    assert os_locale() == "de_AT"
