"""The window's export with a delivery-set preset, through the js_api object (no window)."""

import pytest
from PIL import Image

from app.desktop.bridge import Api
from app.desktop.events import EventHub
from app.desktop.jobs import JobRunner
from app.governance.policy import NO_POLICY
from tests.fakes import FakeEngine, photo, wait_for

KIT_FILES = ("sku1-master.png", "sku1-amazon.jpg", "sku1-web.webp", "sku1-mask.png")


class Shell:
    def open_files(self):
        return []

    def choose_folder(self):
        return None

    def save_file(self, suggested_name):
        return None

    def reveal(self, folder):
        pass


@pytest.fixture
def api(tmp_path):
    hub = EventHub()
    (tmp_path / "spill").mkdir()
    runner = JobRunner(lambda: FakeEngine(), hub, tmp_path / "spill").start()
    api = Api(runner, "tok", Shell(), NO_POLICY)
    api.test_hub, api.test_runner = hub, runner
    yield api
    runner.stop()


def _drain(events) -> list[dict]:
    return [events.get_nowait() for _ in range(events.qsize())]


def test_hello_lists_a_sets_outputs_and_a_channels_facts_for_the_export_panel(api):
    presets = {p["id"]: p for p in api.hello()["presets"]}
    kit = presets["marketplace-kit"]
    assert [o["id"] for o in kit["outputs"]] == ["master", "amazon", "web", "mask"]
    assert [o["extension"] for o in kit["outputs"]] == [".png", ".jpg", ".webp", ".png"]
    amazon = kit["outputs"][1]["channel"]
    assert amazon["read_on"] == "2026-12-05" and amazon["sources"][0]["url"].startswith("https://")
    assert any("text" in rule for rule in amazon["unchecked_rules"])
    assert "change" in amazon["note"]
    assert presets["zalando"]["channel"]["confirmed"] is False
    assert "outputs" not in presets["png-master"]


def test_exporting_with_a_delivery_set_writes_every_output_and_reports_each(api, tmp_path):
    events = api.test_hub.subscribe()
    photo(tmp_path / "sku1.jpg", size=(400, 300))
    added = api.open_paths([str(tmp_path / "sku1.jpg")])["added"]
    assert api.test_runner.wait_idle()
    out = tmp_path / "out"
    answer = api.export({"ids": [added[0]["id"]], "preset": "marketplace-kit", "template": "{stem}-{preset}",
                         "folder": str(out)})
    assert answer["ok"] and answer["queued"] == 1
    assert api.test_runner.wait_idle()
    assert sorted(p.name for p in out.iterdir()) == sorted(KIT_FILES)
    with Image.open(out / "sku1-amazon.jpg") as amazon:
        assert amazon.size == (2000, 2000) and amazon.getpixel((0, 0)) == (255, 255, 255)
    with Image.open(out / "sku1-master.png") as master:
        assert master.mode == "RGBA" and master.size == (400, 300)
    seen = _drain(events)
    [written] = [e for e in seen if e["type"] == "export"]
    assert written["state"] == "written"
    assert [(o["id"], o["status"]) for o in written["outputs"]] == [
        ("master", "written"), ("amazon", "written"), ("web", "written"), ("mask", "written")]
    assert all("violations" not in o for o in written["outputs"])  # each within its own rules
    assert [(e["written"], e["failed"]) for e in seen if e["type"] == "export-done"] == [(1, 0)]


def test_a_watched_folder_with_a_delivery_set_writes_every_output(api, tmp_path):
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    photo(inbox / "sku1.jpg")
    started = api.watch_start({"inbox": str(inbox), "folder": str(out), "preset": "marketplace-kit"})
    assert started["ok"], started
    api._hotfolder.watcher.interval = 0.05
    assert wait_for(lambda: api.status()["watch"]["written"] == 1)
    api.watch_stop()
    assert api.test_runner.wait_idle()
    assert sorted(p.name for p in out.glob("sku1-*")) == sorted(KIT_FILES)
    journal = (out / ".knockout-journal.jsonl").read_text()
    assert '"others"' in journal and '"status": "written"' in journal
