"""Audit trail: one JSON line per export whose hashes match the files on disk."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import threading
from pathlib import Path

import pytest
from PIL import Image

from app import __version__, paths
from app.core.export import ExportSettings
from app.governance import audit


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


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_the_audit_log_and_its_folder_are_private_whatever_the_umask(tmp_path, monkeypatch, umask_022):
    monkeypatch.setattr(paths, "user_data_dir", lambda: tmp_path / "data")
    source, output = _files(tmp_path)
    audit.record_export(source=source, output=output, model_id="m", model_sha256="0" * 64, preset_id=None,
                        settings=ExportSettings(), sidecar=True)
    log = tmp_path / "data" / "audit" / "exports.jsonl"
    assert _mode(log) == 0o600 and _mode(log.parent) == 0o700


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_an_audit_log_left_readable_by_an_older_version_is_made_private(tmp_path, monkeypatch, umask_022):
    monkeypatch.setattr(paths, "user_data_dir", lambda: tmp_path / "data")
    log = tmp_path / "data" / "audit" / "exports.jsonl"
    log.parent.mkdir(parents=True, mode=0o755)
    log.write_text('{"old": 1}\n')
    os.chmod(log, 0o644)
    source, output = _files(tmp_path)
    audit.record_export(source=source, output=output, model_id="m", model_sha256="0" * 64, preset_id=None,
                        settings=ExportSettings(), sidecar=False)
    assert _mode(log) == 0o600 and _mode(log.parent) == 0o700
    assert log.read_text().splitlines()[0] == '{"old": 1}' and len(log.read_text().splitlines()) == 2


@pytest.mark.skipif(os.name != "posix", reason="symbolic links")
def test_an_audit_log_symlinked_to_another_file_is_refused_and_that_file_untouched(tmp_path):
    source, output = _files(tmp_path)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    os.chmod(victim, 0o640)
    log = tmp_path / "log.jsonl"
    log.symlink_to(victim)
    with pytest.raises(OSError) as info:
        audit.record_export(source=source, output=output, model_id="m", model_sha256="0" * 64, preset_id=None,
                            settings=ExportSettings(), sidecar=False, log_path=log)
    assert str(log) in info.value.strerror and "symbolic link" in info.value.strerror
    assert victim.read_text() == "precious\n" and _mode(victim) == 0o640


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
def test_an_audit_log_that_is_not_a_regular_file_is_refused_without_hanging(tmp_path):
    source, output = _files(tmp_path)
    log = tmp_path / "log.jsonl"
    os.mkfifo(log)
    outcome: list[BaseException | None] = []

    def record() -> None:
        try:
            audit.record_export(source=source, output=output, model_id="m", model_sha256="0" * 64,
                                preset_id=None, settings=ExportSettings(), sidecar=False, log_path=log)
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=record, daemon=True)
    worker.start()
    worker.join(5)
    if worker.is_alive():  # opened the pipe and waits for a reader: let it go, then fail
        with open(os.open(log, os.O_RDONLY | os.O_NONBLOCK), "rb"):
            worker.join(5)
        pytest.fail("writing the audit log blocked on a named pipe")
    assert isinstance(outcome[0], OSError) and "not a regular file" in str(outcome[0].strerror)


def test_a_decision_after_the_export_is_a_review_line_of_its_own(tmp_path):
    from app.governance.review import Remarks, decide

    source, output = _files(tmp_path)
    log = tmp_path / "log.jsonl"
    audit.record_export(source=source, output=output, model_id="m", model_sha256="0" * 64, preset_id=None,
                        settings=ExportSettings(), sidecar=False, log_path=log, version="v2")
    audit.record_review(source, Remarks(decide("rejected", "halo", who="ana"), "A shoe"), log_path=log)
    first, second = (json.loads(line) for line in log.read_text().splitlines())
    assert first["version"] == "v2" and "event" not in first
    assert second["event"] == "review" and second["source"]["sha256"] == sha(source)
    assert second["review"]["decision"] == "rejected" and second["alt_text"] == "A shoe"
