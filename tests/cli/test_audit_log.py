"""``knockout audit find`` and ``knockout audit export --csv`` over the audit log."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from app import cli
from app.core.digest import sha256_file
from app.governance import audit
from app.governance.review import Remarks, decide
from tests.fakes import photo


@pytest.fixture
def log(tmp_path: Path, fake_engine, capsys) -> Path:
    """Two photos cut with --audit; one of them rejected afterwards."""
    photo(tmp_path / "in" / "mug.jpg")
    photo(tmp_path / "in" / "vase.jpg", size=(80, 80))
    assert cli.main(["cut", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--audit", "-q",
                     "--name", "{stem}-{version}"]) == 0
    audit.record_review(tmp_path / "in" / "mug.jpg", Remarks(decide("rejected", "halo", who="ana")))
    capsys.readouterr()
    return audit.default_log_path()


def test_find_prints_each_matching_export_with_its_decision(tmp_path, log, capsys):
    assert cli.main(["audit", "find", "mug"]) == 0
    out = capsys.readouterr().out
    short = sha256_file(tmp_path / "in" / "mug.jpg")[:12]
    assert f"mug.jpg ({short}) -> {tmp_path / 'out' / 'mug-v1.png'}" in out
    assert "model fake" in out and "version v1" in out and "rejected (halo) by ana" in out
    assert "vase" not in out and "1 export found" in out


def test_find_a_handed_over_file_as_json(tmp_path, log, capsys):
    copy = tmp_path / "published.png"
    copy.write_bytes((tmp_path / "out" / "vase-v1.png").read_bytes())
    assert cli.main(["audit", "find", str(copy), "--json", "--log", str(log)]) == 0
    found = json.loads(capsys.readouterr().out)
    assert [r["source"]["name"] for r in found] == ["vase.jpg"] and found[0]["review"] is None


def test_find_nothing_exits_1_with_a_clear_message(tmp_path, log, capsys):
    assert cli.main(["audit", "find", "lamp"]) == 1
    assert "no export in the audit log" in capsys.readouterr().err
    assert cli.main(["audit", "find", "mug", "--log", str(tmp_path / "none.jsonl")]) == 1
    assert "does not exist yet" in capsys.readouterr().err


def test_export_csv_to_stdout_and_to_a_file(tmp_path, log, capsys):
    assert cli.main(["audit", "export", "--csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert sorted((r["source_name"], r["version"], r["decision"]) for r in rows) == [("mug.jpg", "v1", "rejected"),
                                                                              ("vase.jpg", "v1", "to-check")]
    target = tmp_path / "dam" / "exports.csv"
    target.parent.mkdir()
    assert cli.main(["audit", "export", "--csv", "-o", str(target), "--log", str(log)]) == 0
    assert list(csv.DictReader(target.open(encoding="utf-8"))) == rows
    assert "Wrote 2 exports" in capsys.readouterr().err
