"""``knockout diagnose``: the report IT reads, its JSON form, and how it degrades."""

from __future__ import annotations

import dataclasses
import json
import re
import socket
import sys
from pathlib import Path

import pytest

from app import cli, paths
from app.governance import netguard
from app.inference import variants
from app.inference.manifest import discover
from app.support import diagnose
from tests import onnx_graphs as g

REPO = Path(__file__).resolve().parents[2]
MODEL = REPO / "models" / "isnet-medium.onnx"
TOP_KEYS = {"knockout", "generated", "python", "os", "cpu", "memory", "onnxruntime", "inference", "models",
            "folders", "network", "policy", "variant", "problems", "timings"}
MODEL_KEYS = {"id", "default", "file", "size_bytes", "family", "license", "training_data", "hash", "source"}


@pytest.fixture
def machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh machine: every Knockout folder under ``tmp_path``, the bundle holding one tiny ISNet."""
    folders = {"bundled_models_dir": "bundle/models", "machine_models_dir": "machine/models",
               "user_data_dir": "user/data", "user_models_dir": "user/data/models",
               "user_cache_dir": "user/cache", "user_log_dir": "user/log"}
    for name, sub in folders.items():
        monkeypatch.setattr(paths, name, lambda sub=sub: tmp_path / sub)
    g.install(tmp_path / "bundle" / "models", [g.isnet()])
    return tmp_path


def _line(text: str, label: str) -> str:
    found = [line for line in text.splitlines() if line.startswith(f"{label}:")]
    assert len(found) == 1, f"no single {label!r} line in:\n{text}"
    return found[0]


def test_text_report_describes_machine_runtime_models_folders_and_network(machine, capsys):
    assert cli.main(["diagnose"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Knockout diagnostics\n")
    assert _line(out, "Knockout").split()[-1] == "0.1.0"
    assert _line(out, "Python").split()[1] == ".".join(map(str, sys.version_info[:3]))
    assert re.search(r"\d+ logical cores \(\d+ usable\)", _line(out, "CPU"))
    assert re.fullmatch(r"Memory:\s+(\d+\.\d GiB|\d+ MB|unknown)", _line(out, "Memory"))
    assert "CPUExecutionProvider" in _line(out, "Providers")
    assert re.fullmatch(r"In use:\s+CPU · \d+ threads? \(CPUExecutionProvider, model tiny-isnet\)",
                        _line(out, "In use"))
    assert re.fullmatch(r"Inference:\s+\d+\.\d\d s per 1024×1024 image \(median of 3 after a warm-up run\)",
                        _line(out, "Inference"))
    assert re.fullmatch(r"Network:\s+Offline \(guard installed, 0 connection attempts blocked this session\)",
                        _line(out, "Network"))
    row = next(line for line in out.splitlines() if line.strip().startswith("tiny-isnet"))
    assert row.split()[:2] == ["tiny-isnet*", "isnet"]
    assert " MIT " in row and " ok " in row and " bundled " in row
    assert row.endswith(str(machine / "bundle" / "models" / "tiny-isnet.onnx"))
    assert "Licences and training data\n  tiny-isnet: licence MIT (as declared); training data: not stated\n" in out
    assert f"logs:           {machine / 'user' / 'log'}  (not present)" in out
    assert out.rstrip().endswith("Problems\n  none")


def test_azure_provider_is_listed_as_never_used_and_not_chosen(machine, monkeypatch, capsys):
    import onnxruntime

    monkeypatch.setattr(onnxruntime, "get_available_providers",
                        lambda: ["AzureExecutionProvider", "CPUExecutionProvider"])
    assert cli.main(["diagnose"]) == 0
    out = capsys.readouterr().out
    assert "AzureExecutionProvider (never used: remote inference)" in _line(out, "Providers")
    assert "(CPUExecutionProvider, model tiny-isnet)" in _line(out, "In use")


def test_json_report_has_the_same_content_as_stable_keys(machine, capsys):
    assert cli.main(["diagnose", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) == TOP_KEYS
    assert report["problems"] == []
    assert report["network"] == {"guard_installed": True, "blocked_attempts": 0}
    assert [set(m) for m in report["models"]] == [MODEL_KEYS]
    assert report["models"][0]["hash"] == "ok" and report["models"][0]["default"] is True
    inference = report["inference"]
    assert inference["provider"] == "CPUExecutionProvider" and inference["description"].startswith("CPU · ")
    assert inference["model"] == "tiny-isnet" and inference["input_size"] == [64, 64]
    assert isinstance(inference["seconds"], float) and inference["runs"] == 3 and inference["error"] is None
    assert {p["name"] for p in report["onnxruntime"]["providers"]} >= {"CPUExecutionProvider"}
    assert report["cpu"]["model"] and isinstance(report["cpu"]["flags"], list)
    [timed] = report["timings"]["models"]
    assert timed["id"] == "tiny-isnet" and timed["seconds"] == inference["seconds"] and timed["runs"] == 3
    sample = report["timings"]["sample"]
    assert sample["model"] == "tiny-isnet" and sample["seconds"] > 0 and sample["image_size"] == [600, 400]
    assert set(report["folders"]) == {"bundled models", "machine models", "user data", "user models", "cache",
                                      "logs"}


def test_blocked_connection_attempts_are_counted(machine):
    netguard.install()
    with socket.socket() as sock, pytest.raises(netguard.NetworkBlocked):
        sock.connect(("192.0.2.1", 9))
    report = diagnose.collect(discover(), runs=1)
    assert report["network"]["blocked_attempts"] == 1
    assert "(guard installed, 1 connection attempt blocked this session)" in diagnose.render(report)


def test_missing_model_is_reported_by_name_and_exits_1(machine, capsys):
    (machine / "bundle" / "models" / "tiny-isnet.onnx").unlink()
    assert cli.main(["diagnose"]) == 1
    captured = capsys.readouterr()
    row = next(line for line in captured.out.splitlines() if line.strip().startswith("tiny-isnet"))
    assert " missing " in row and " - " in row  # no size for a file that is not there
    assert _line(captured.out, "In use").endswith("unavailable: not run: model tiny-isnet is missing")
    assert "Offline (guard installed" in _line(captured.out, "Network")  # the rest of the report is still there
    problem = f"model tiny-isnet: file {machine / 'bundle' / 'models' / 'tiny-isnet.onnx'} is missing"
    assert f"  - {problem}" in captured.out
    assert f"knockout: problem: {problem}" in captured.err


def test_replaced_model_file_shows_mismatch_and_exits_1(machine, capsys):
    (machine / "bundle" / "models" / "tiny-isnet.onnx").write_bytes(b"not the model")
    assert cli.main(["diagnose", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["models"][0]["hash"] == "MISMATCH"
    assert any("does not match its manifest" in p for p in report["problems"])
    assert report["inference"]["provider"] is None


def test_machine_without_a_manifest_still_gets_a_full_report(machine, capsys):
    (machine / "bundle" / "models" / "manifest.json").unlink()
    assert cli.main(["diagnose"]) == 1
    out = capsys.readouterr().out
    assert "  (none)" in out
    assert "  - bundled manifest missing: " in out
    assert "unknown model 'isnet-medium'" in _line(out, "In use")


def test_unimportable_onnxruntime_is_a_problem_not_a_crash(machine, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    report = diagnose.collect(discover())
    assert report["onnxruntime"]["version"] is None
    assert report["problems"][0].startswith("onnxruntime cannot be imported")
    assert report["inference"]["error"] == "not run: onnxruntime is not usable"
    assert re.search(r"onnxruntime:\s+not usable", diagnose.render(report))


def test_cpu_and_memory_degrade_to_unknown_without_proc_or_sysconf(monkeypatch):
    def no_file(*args, **kwargs):
        raise FileNotFoundError(2, "No such file")

    def no_sysconf(name):
        raise ValueError(name)

    monkeypatch.setattr(diagnose, "open", no_file, raising=False)
    monkeypatch.setattr(diagnose.os, "sysconf", no_sysconf)
    assert diagnose.total_memory() is None
    assert diagnose.cpu_model()  # the architecture at least, never an exception


def test_output_writes_the_report_to_a_file_and_nothing_on_stdout(machine, capsys):
    target = machine / "reports" / "diag.txt"
    assert cli.main(["diagnose", "--output", str(target)]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"diagnostics written to {target}" in captured.err
    text = target.read_text(encoding="utf-8")
    assert text.startswith("Knockout diagnostics\n") and "Network:" in text
    assert sorted(p.name for p in target.parent.iterdir()) == ["diag.txt"]  # no temporary file left


def test_unwritable_output_is_reported_and_exits_1(machine, capsys):
    (machine / "file").write_text("x")
    assert cli.main(["diagnose", "--output", str(machine / "file" / "diag.txt")]) == 1
    assert "cannot write" in capsys.readouterr().err


@pytest.mark.model
def test_real_bundled_models_verify_and_the_default_runs_on_cpu(capsys):
    assert cli.main(["diagnose", "--json", "--device", "cpu"]) == 0
    report = json.loads(capsys.readouterr().out)
    bundled = {m["id"]: m for m in report["models"] if m["source"] == "bundled"}
    assert bundled["isnet-medium-int8"]["default"] and bundled["isnet-medium-int8"]["hash"] == "ok"
    assert bundled["isnet-medium"]["hash"] == "ok" and not bundled["isnet-medium"]["default"]
    assert bundled["isnet-medium"]["size_bytes"] == MODEL.stat().st_size
    assert report["inference"]["model"] == "isnet-medium-int8"
    assert report["inference"]["provider"] == "CPUExecutionProvider"
    assert report["inference"]["input_size"] == [1024, 1024] and report["inference"]["seconds"] > 0


def test_the_variant_line_says_what_runs_when_no_model_is_chosen_and_why(machine, capsys):
    assert cli.main(["diagnose"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"\((no )?VNNI\)$", _line(out, "CPU"))
    assert _line(out, "Variant").endswith("tiny-isnet (the default; it has no variants to compare)")


def test_a_measured_pick_is_shown_with_its_timings(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "user_data_dir", lambda: tmp_path / "data")
    folder = tmp_path / "models"
    g.write_manifest(folder, [g.entry(m, g.save(m, folder), weights="tiny") for m in
                              (g.isnet(), dataclasses.replace(g.isnet(), id="tiny-fp32"))],
                     default="tiny-isnet")
    catalogue = discover([(folder, "bundled")])
    cpu = variants.this_cpu()
    variants.store(cpu, "auto", "tiny", variants.Pick("tiny-fp32", {"tiny-isnet": 1.47, "tiny-fp32": 1.3},
                                                        "2026-12-04T17:00:00Z"))
    report = diagnose.collect(catalogue, runs=1)
    assert report["variant"]["model"] == "tiny-fp32" and report["variant"]["note"] == "fastest on this CPU"
    line = _line(diagnose.render(report), "Variant")
    assert "tiny-fp32 · fastest on this CPU (measured 2026-12-04T17:00:00Z" in line
    assert line.endswith("tiny-fp32 1.30 s, tiny-isnet 1.47 s)")


def test_compare_with_a_saved_report_says_what_changed_and_that_this_machine_is_slower(machine, tmp_path, capsys):
    assert cli.main(["diagnose", "--json", "--output", str(tmp_path / "old.json")]) == 0
    saved = json.loads((tmp_path / "old.json").read_text())
    saved["cpu"]["model"] = "Old Laptop CPU"
    saved["cpu"]["flags"] = sorted(set(saved["cpu"]["flags"]) ^ {"avx512f"})  # the new one differs in one flag
    for row in saved["timings"]["models"]:
        row["seconds"] = row["seconds"] / 100  # the old machine was far faster
    (tmp_path / "old.json").write_text(json.dumps(saved))
    capsys.readouterr()
    assert cli.main(["diagnose", "--compare", str(tmp_path / "old.json")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Knockout diagnostics compared with a saved report\n")
    assert re.search(r"CPU:\s+Old Laptop CPU → ", out) and "avx512f" in _line(out, "Flags")
    assert "(unchanged)" in _line(out, "Provider")
    assert re.search(r"  Tiny isnet\s+\d+\.\d\d s → \d+\.\d\d s  \d+\.\d\d× slower", out)
    assert "This machine is " in out and "× slower than the saved report at Tiny isnet." in out
    assert cli.main(["diagnose", "--compare", str(tmp_path / "old.json"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["slower"][0]["model"] == "tiny-isnet"


def test_compare_with_a_file_that_is_not_a_report_is_a_clear_error(machine, tmp_path, capsys):
    (tmp_path / "notes.json").write_text('{"hello": "world"}')
    assert cli.main(["diagnose", "--compare", str(tmp_path / "notes.json")]) == 1
    err = capsys.readouterr().err
    assert f"{tmp_path / 'notes.json'} is JSON but not a Knockout diagnostics report" in err


def test_every_model_is_timed_unless_only_the_chosen_one_is_asked_for(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "user_data_dir", lambda: tmp_path / "data")
    folder = tmp_path / "models"
    g.write_manifest(folder, [g.entry(m, g.save(m, folder)) for m in
                              (g.isnet(), dataclasses.replace(g.isnet(), id="tiny-other"))], default="tiny-isnet")
    full = diagnose.collect(discover([(folder, "bundled")]), runs=1)
    assert [(row["id"], row["runs"], row["seconds"] is not None) for row in full["timings"]["models"]] == [
        ("tiny-isnet", 1, True), ("tiny-other", 1, True)]
    text = diagnose.render(full)
    assert re.search(r"\n  tiny-other\s+\d+\.\d\d s \(1 run after a warm-up\)\n", text)
    assert re.search(r"\n  sample photo\s+\d+\.\d\d s with tiny-isnet \(600×400\)\n", text)
    quick = diagnose.collect(discover([(folder, "bundled")]), runs=1, every_model=False)
    assert [row["error"] for row in quick["timings"]["models"]] == [None, "not timed"]
