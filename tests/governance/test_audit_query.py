"""app.governance.audit_query: find a file's exports, a photo's history in one line, CSV for a DAM."""

from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path

from PIL import Image

from app.core.export import ExportSettings
from app.governance import audit, audit_query
from app.governance.review import Remarks, decide


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def picture(path: Path, colour: tuple[int, int, int]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), colour).save(path)
    return path


def export(tmp_path: Path, source: Path, name: str, colour: tuple[int, int, int], log: Path,
           remarks: Remarks | None = None, version: str | None = None) -> Path:
    output = picture(tmp_path / "out" / name, colour)
    audit.record_export(source=source, output=output, model_id="isnet-small", model_sha256="ab" * 32,
                        preset_id="marketplace", settings=ExportSettings(), sidecar=False, log_path=log,
                        remarks=remarks, version=version)
    return output


def test_history_tells_each_version_with_its_latest_decision(tmp_path):
    log = tmp_path / "audit.jsonl"
    source = picture(tmp_path / "in" / "mug.jpg", (200, 10, 10))
    export(tmp_path, source, "mug-v1.png", (1, 1, 1), log, version="v1")
    audit.record_review(source, Remarks(decide("rejected", "halo", who="ana")), log_path=log)
    export(tmp_path, source, "mug-v2.png", (2, 2, 2), log, Remarks(decide("approved", who="ana")), version="v2")
    export(tmp_path, source, "mug-v3.png", (3, 3, 3), log, version="v3")
    found = audit_query.history(sha(source), log_path=log)
    assert [r["version"] for r in found] == ["v1", "v2", "v3"]
    assert found[0]["review"]["reason"] == "halo" and found[0]["reviewed_later"]
    assert audit_query.describe_history(found) == "exported 3 times: v1 rejected (halo), v2 approved, v3 to check"


def test_a_review_naming_its_output_lands_on_that_export_even_when_later_ones_exist(tmp_path):
    log = tmp_path / "audit.jsonl"
    source = picture(tmp_path / "in" / "mug.jpg", (200, 10, 10))
    first = export(tmp_path, source, "mug-v1.png", (1, 1, 1), log, version="v1")
    export(tmp_path, source, "mug-v2.png", (2, 2, 2), log, version="v2")
    audit.record_review(source, Remarks(decide("approved", who="bo")), log_path=log, output=first)
    first_record, second = audit_query.history(sha(source), log_path=log)
    assert first_record["review"]["decision"] == "approved" and second["review"] is None


def test_find_matches_names_hashes_and_a_handed_over_file(tmp_path):
    log = tmp_path / "audit.jsonl"
    mug = picture(tmp_path / "in" / "mug.jpg", (200, 10, 10))
    vase = picture(tmp_path / "in" / "vase.jpg", (10, 200, 10))
    mug_out = export(tmp_path, mug, "mug.png", (1, 1, 1), log)
    export(tmp_path, vase, "vase.png", (2, 2, 2), log)
    assert [r["source"]["name"] for r in audit_query.find("MUG", log_path=log)] == ["mug.jpg"]
    assert [r["source"]["name"] for r in audit_query.find(sha(vase)[:12], log_path=log)] == ["vase.jpg"]
    published = tmp_path / "downloads" / "product-123.png"  # the shop renamed it
    published.parent.mkdir()
    published.write_bytes(mug_out.read_bytes())
    assert [r["source"]["name"] for r in audit_query.find(str(published), log_path=log)] == ["mug.jpg"]
    assert audit_query.find("lamp", log_path=log) == []
    assert audit_query.find("abc", log_path=log) == []  # too short to be a hash, matches no name


def test_damaged_lines_are_skipped_and_counted(tmp_path):
    log = tmp_path / "audit.jsonl"
    source = picture(tmp_path / "in" / "mug.jpg", (200, 10, 10))
    export(tmp_path, source, "mug.png", (1, 1, 1), log)
    with log.open("a") as fh:
        fh.write('{"knockout_audit": 1, "source": {"na\n[1, 2]\n\n')
    export(tmp_path, source, "mug-2.png", (2, 2, 2), log)
    records = audit_query.read_records(log)
    assert len(records) == 2 and records.skipped == 2
    assert audit_query.read_records(tmp_path / "missing.jsonl") == []


def test_csv_has_one_row_per_export_and_defuses_formulas(tmp_path):
    log = tmp_path / "audit.jsonl"
    source = picture(tmp_path / "in" / "=HYPERLINK(1).jpg", (200, 10, 10))
    export(tmp_path, source, "a.png", (1, 1, 1), log, Remarks(decide("rejected", "part-missing", "strap, gone",
                                                                     who="ana"), "A red mug"), version="v1")
    out = io.StringIO()
    assert audit_query.write_csv(audit_query.exports(audit_query.read_records(log)), out) == 1
    row, = csv.DictReader(io.StringIO(out.getvalue()))
    assert row["source_name"] == "'=HYPERLINK(1).jpg" and row["version"] == "v1"
    assert (row["decision"], row["reason"], row["note"], row["reviewer"]) == ("rejected", "part-missing",
                                                                             "strap, gone", "ana")
    assert row["alt_text"] == "A red mug" and row["source_sha256"] == sha(source)


def test_a_history_without_versions_names_the_files():
    records = [{"output": {"path": "/out/mug.png"}, "review": None},
               {"output": {"path": "/out/mug-2.png"}, "review": {"decision": "approved"}}]
    assert audit_query.describe_history(records) == "exported twice: mug.png to check, mug-2.png approved"
    assert audit_query.describe_history(records[:1]) == "exported once: mug.png to check"
    assert audit_query.describe_history([]) == "not exported yet"
