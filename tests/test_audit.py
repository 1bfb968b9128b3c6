"""Audit trail: one JSON line per export whose hashes match the files on disk."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from PIL import Image

from app import __version__, audit, paths
from app.core.export import ExportSettings


def _files(tmp_path: Path) -> tuple[Path, Path]:
    source, output = tmp_path / "in" / "shoe.jpg", tmp_path / "out" / "shoe-marketplace.jpg"
    source.parent.mkdir()
    output.parent.mkdir()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(source)
    Image.new("RGB", (8, 8), (255, 255, 255)).save(output)
    return source, output


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_each_export_appends_one_line_whose_hashes_match_the_files(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "user_data_dir", lambda: tmp_path / "data")
    source, output = _files(tmp_path)
    settings = ExportSettings(format="jpg", background=(255, 255, 255), canvas=(8, 8))
    for _ in range(2):
        audit.record_export(source=source, output=output, model_id="isnet-medium", model_sha256="ab" * 32,
                            preset_id="marketplace", settings=settings, sidecar=False)
    lines = (tmp_path / "data" / "audit" / "exports.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    record = json.loads(lines[0])
    assert record["source"] == {"name": "shoe.jpg", "sha256": sha(source)}
    assert record["output"] == {"path": str(output.resolve()), "sha256": sha(output)}
    assert record["model"] == {"id": "isnet-medium", "sha256": "ab" * 32}
    assert record["preset"] == "marketplace" and record["app_version"] == __version__
    assert record["settings"]["format"] == "jpg" and record["settings"]["canvas"] == [8, 8]
    assert record["time"].endswith("Z")
    assert str(source.parent) not in lines[0]  # the source's name only, not where it lives


def test_sidecar_holds_the_same_record_beside_the_output(tmp_path):
    source, output = _files(tmp_path)
    log = tmp_path / "log.jsonl"
    record = audit.record_export(source=source, output=output, model_id="m", model_sha256="0" * 64,
                                 preset_id=None, settings=ExportSettings(), sidecar=True, log_path=log)
    sidecar = output.with_name("shoe-marketplace.jpg.json")
    assert json.loads(sidecar.read_text(encoding="utf-8")) == record == json.loads(log.read_text())
    assert record["output"]["sha256"] == sha(output)
    assert sorted(p.name for p in output.parent.iterdir()) == ["shoe-marketplace.jpg", "shoe-marketplace.jpg.json"]


def test_a_source_without_a_file_is_recorded_without_a_hash(tmp_path):
    _, output = _files(tmp_path)
    record = audit.record_export(source=Path("pasted.png"), output=output, model_id="m", model_sha256="",
                                 preset_id="png-master", settings=ExportSettings(), sidecar=False,
                                 log_path=tmp_path / "log.jsonl")
    assert record["source"] == {"name": "pasted.png", "sha256": None}
