"""``knockout self-test``: passes with the real bundled model, fails clearly on a bad install."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from app import cli
from app.inference import variants
from app.inference.manifest import discover
from app.support import selftest
from tests.fakes import FakeEngine


def _catalogue(tmp_path: Path, content: bytes = b"weights", sha: str | None = None):
    """A bundled-looking model folder with one model file and its manifest."""
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "tiny.onnx").write_bytes(content)
    entry = {"id": "tiny", "file": "tiny.onnx", "family": "isnet",
             "sha256": sha or hashlib.sha256(content).hexdigest()}
    (folder / "manifest.json").write_text(json.dumps({"default": "tiny", "models": [entry]}))
    return discover([(folder, "bundled")])


def _variants_catalogue(tmp_path: Path):
    """Two bundled variants of the same weights (int8 default, fp32), as the real manifest has."""
    folder = tmp_path / "models"
    folder.mkdir()
    entries = []
    for model_id in ("tiny-int8", "tiny"):
        (folder / f"{model_id}.onnx").write_bytes(model_id.encode())
        entries.append({"id": model_id, "file": f"{model_id}.onnx", "family": "isnet", "weights": "tiny",
                        "sha256": hashlib.sha256(model_id.encode()).hexdigest()})
    (folder / "manifest.json").write_text(json.dumps({"default": "tiny-int8", "models": entries}))
    return discover([(folder, "bundled")])


class _BlankEngine(FakeEngine):
    """Says everything is background: the self-test must notice."""

    def infer(self, tensor: np.ndarray) -> np.ndarray:
        return np.zeros(tensor.shape[-2:], dtype=np.float32)


def test_passes_with_a_sane_engine(tmp_path):
    report = selftest.check(_catalogue(tmp_path), engine_factory=lambda cat, dev: FakeEngine())
    assert report.ok, report.error
    assert report.model == "tiny" and report.description == "CPU · fake"
    assert report.opaque_share > 0.05 and report.transparent_share > 0.05
    assert set(report.timings) == {"verify_sha256", "load_model", "cut_sample"}
    assert "self-test passed" in selftest.render(report)


def test_tampered_model_is_refused_before_loading(tmp_path):
    loaded = []
    catalogue = _catalogue(tmp_path, sha="0" * 64)
    report = selftest.check(catalogue, engine_factory=lambda cat, dev: loaded.append(1) or FakeEngine())
    assert not report.ok and not loaded
    assert "does not match its manifest" in report.error
    assert "self-test FAILED" in selftest.render(report)


def test_missing_model_file_is_reported(tmp_path):
    catalogue = _catalogue(tmp_path)
    (tmp_path / "models" / "tiny.onnx").unlink()
    report = selftest.check(catalogue, engine_factory=lambda cat, dev: FakeEngine())
    assert not report.ok and "is missing" in report.error


def test_missing_manifest_is_reported(tmp_path):
    report = selftest.check(discover([(tmp_path / "nowhere", "bundled")]))
    assert not report.ok and "no usable default model" in report.error
    assert any("bundled manifest missing" in note for note in report.notes)


def test_an_empty_alpha_fails(tmp_path):
    report = selftest.check(_catalogue(tmp_path), engine_factory=lambda cat, dev: _BlankEngine())
    assert not report.ok and "looks wrong" in report.error


def test_cli_exit_code_and_json(tmp_path, monkeypatch, capsys):
    catalogue = _catalogue(tmp_path, sha="1" * 64)
    real_check = selftest.check
    monkeypatch.setattr(selftest, "check", lambda device, time_variants: real_check(catalogue, device))
    assert cli.main(["self-test", "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] is False and out["model"] == "tiny"


@pytest.mark.model
def test_real_bundled_model_passes(capsys):
    assert cli.main(["self-test", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "CPUExecutionProvider" in out and "self-test passed" in out and "guard on" in out
    assert "isnet-medium-int8" in out.split("variants")[1] and "is used when no model is chosen" in out


def test_the_fastest_variant_is_timed_and_kept_for_this_cpu(tmp_path):
    catalogue, timed = _variants_catalogue(tmp_path), []

    def variant(cat, spec, device):
        timed.append((spec.id, device))
        return FakeEngine()

    report = selftest.check(catalogue, device="cpu", engine_factory=lambda cat, dev: FakeEngine(),
                            variant_factory=variant)
    assert report.ok and timed == [("tiny-int8", "cpu"), ("tiny", "cpu")]
    assert set(report.variants) == {"tiny-int8", "tiny"} and report.fastest in report.variants
    stored = variants.stored(variants.this_cpu(), "cpu", "tiny")
    assert stored is not None and stored.model == report.fastest
    assert f"{report.fastest} is used when no model is chosen" in selftest.render(report)


def test_variants_are_not_timed_when_asked_not_to_or_when_the_check_failed(tmp_path):
    catalogue = _variants_catalogue(tmp_path)
    never = lambda cat, spec, device: pytest.fail("timed")  # noqa: E731
    assert selftest.check(catalogue, engine_factory=lambda c, d: FakeEngine(), time_variants=False,
                          variant_factory=never).fastest is None
    assert not selftest.check(catalogue, engine_factory=lambda c, d: _BlankEngine(), variant_factory=never).ok
    assert variants.stored(variants.this_cpu(), "auto", "tiny") is None
