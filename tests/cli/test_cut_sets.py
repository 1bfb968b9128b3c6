"""``knockout cut --preset <delivery set>``: every output of the set per photo, each valid for its own rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from app import cli
from app.batch.export_service import rule_breaks
from app.batch.journal import JOURNAL_NAME
from app.governance.policy import Policy
from app.governance.presets import get_preset
from tests.fakes import photo

KIT = ("master", "amazon", "web", "mask")


def _lines(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / JOURNAL_NAME).read_text(encoding="utf-8").splitlines()]


def test_a_delivery_set_writes_every_output_per_photo_each_within_its_own_rules(tmp_path, fake_engine, capsys):
    photo(tmp_path / "in" / "shoe.jpg", size=(160, 120))
    photo(tmp_path / "in" / "bag.jpg", size=(120, 160))
    code = cli.main(["cut", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--preset", "marketplace-kit",
                     "--json", "-q"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    kit = get_preset("marketplace-kit", Policy())
    for stem in ("shoe", "bag"):
        files = {f"{stem}-{o.id}{o.settings.extension}": o for o in kit.outputs}
        assert sorted(p.name for p in (tmp_path / "out").glob(f"{stem}-*")) == sorted(files)
        for name, output in files.items():
            assert rule_breaks(tmp_path / "out" / name, output) == [], name
        with Image.open(tmp_path / "out" / f"{stem}-amazon.jpg") as amazon:
            assert amazon.format == "JPEG" and amazon.size == (2000, 2000)
        with Image.open(tmp_path / "out" / f"{stem}-master.png") as master:
            assert master.mode == "RGBA" and master.size == (160, 120)[:: 1 if stem == "shoe" else -1]
        with Image.open(tmp_path / "out" / f"{stem}-mask.png") as mask:
            assert mask.mode == "L"
    entries = {Path(f["label"]).stem: f for f in report["files"]}
    assert [o["id"] for o in entries["shoe"]["outputs"]] == list(KIT)
    assert all(o["status"] == "written" for f in entries.values() for o in f["outputs"])
    done = [line for line in _lines(tmp_path / "out") if line["kind"] == "done"]
    assert len(done) == 2 and all(line["status"] == "written" and len(line["others"]) == 3 for line in done)


def test_a_rerun_of_a_finished_set_skips_it_and_a_missing_output_makes_the_photo_redone(tmp_path, fake_engine,
                                                                                          capsys):
    photo(tmp_path / "in" / "shoe.jpg")
    argv = ["cut", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--preset", "marketplace-kit", "--json", "-q"]
    assert cli.main(argv) == 0
    capsys.readouterr()
    assert cli.main(argv) == 0
    assert json.loads(capsys.readouterr().out)["summary"]["skipped"] == 1
    (tmp_path / "out" / "shoe-web.webp").unlink()  # one output lost: the photo is not done any more
    assert cli.main(argv) == 0
    assert json.loads(capsys.readouterr().out)["summary"]["written"] == 1
    assert (tmp_path / "out" / "shoe-web.webp").is_file()


def test_one_output_that_fails_is_named_with_its_reason_and_the_others_are_written(tmp_path, fake_engine, capsys):
    photo(tmp_path / "in" / "shoe.jpg")
    out = tmp_path / "out"
    (out / "shoe-web.webp").mkdir(parents=True)  # a folder where the web output should go: it cannot be written
    (out / "shoe-web.webp" / "keep").write_text("x")
    code = cli.main(["cut", str(tmp_path / "in"), "-o", str(out), "--preset", "marketplace-kit", "--json", "-q",
                     "--overwrite"])
    assert code == 1
    [entry] = json.loads(capsys.readouterr().out)["files"]
    assert entry["status"] == "failed" and entry["message"].startswith("web: ")
    statuses = {o["id"]: o["status"] for o in entry["outputs"]}
    assert statuses == {"master": "written", "amazon": "written", "web": "failed", "mask": "written"}
    assert all((out / name).is_file() for name in ("shoe-master.png", "shoe-amazon.jpg", "shoe-mask.png"))
    done = [line for line in _lines(out) if line["kind"] == "done"]
    assert done[-1]["status"] == "failed"


def test_a_flag_that_would_make_the_outputs_alike_is_refused_for_a_set(tmp_path, fake_engine, capsys):
    photo(tmp_path / "in" / "shoe.jpg")
    with pytest.raises(SystemExit) as exited:
        cli.main(["cut", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--preset", "marketplace-kit",
                  "--format", "webp"])
    assert exited.value.code == 2
    assert "delivery set of 4 files" in capsys.readouterr().err


def test_every_output_of_a_set_gets_its_own_audit_record(tmp_path, fake_engine, monkeypatch):
    from app.governance import audit

    log = tmp_path / "audit.jsonl"
    monkeypatch.setattr(audit, "default_log_path", lambda: log)
    photo(tmp_path / "in" / "shoe.jpg")
    assert cli.main(["cut", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--preset", "marketplace-kit",
                     "--audit", "-q"]) == 0
    records = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert [(r["preset"], r["output_id"]) for r in records] == [("marketplace-kit", o) for o in KIT]
    assert {Path(r["output"]["path"]).name for r in records} == {
        "shoe-master.png", "shoe-amazon.jpg", "shoe-web.webp", "shoe-mask.png"}
    assert records[1]["settings"]["format"] == "jpg" and records[0]["settings"]["format"] == "png"
