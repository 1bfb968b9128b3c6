"""The one place a cut-out photo is judged: QA flags and source checks, in the batch and at export."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from PIL import Image

from app.batch.assessment import assess, upscale_flag
from app.batch.export_service import ExportService, export_fields
from app.batch.pipeline import Job, MaskOptions, Provenance, run_batch
from app.core.decode import open_image
from app.core.export import ExportSettings, enlargement
from app.core.source_quality import SourceChecks
from app.desktop.document import Document
from app.governance.presets import get_preset
from tests.fakes import FakeEngine, photo

CANVAS = ExportSettings(format="jpg", canvas=(2000, 2000), fill=1.0)
REFUSE = SourceChecks(max_upscale=1.5, refuse_upscale=True)


def _small_jpeg(path: Path, quality: int = 35) -> None:
    photo(path, size=(900, 600), quality=quality)


def test_assess_gives_qa_flags_then_source_flags_and_a_score(tmp_path):
    _small_jpeg(tmp_path / "a.jpg")
    decoded = open_image(tmp_path / "a.jpg")
    alpha = Image.new("L", decoded.size, 0)
    alpha.paste(255, (0, 150, 450, 450))  # touches the left edge
    judged = assess(decoded, alpha, targets=[CANVAS])
    assert [f["code"] for f in judged.flags] == ["touches-edge", "recompressed", "upscaled"]
    assert "Upscaled 4.4×" in judged.flags[2]["message"]  # a 450 px subject filling 2000 px
    assert 0 <= judged.source_score < 50


def test_without_export_settings_the_enlargement_is_not_judged(tmp_path):
    _small_jpeg(tmp_path / "a.jpg", quality=92)
    decoded = open_image(tmp_path / "a.jpg")
    alpha = Image.new("L", decoded.size, 0)
    alpha.paste(255, (225, 150, 675, 450))
    judged = assess(decoded, alpha)
    assert judged.flags == [] and judged.source_score == 100


def test_batch_results_carry_the_source_flags_and_score(tmp_path):
    _small_jpeg(tmp_path / "in" / "a.jpg")
    job = Job(tmp_path / "in" / "a.jpg", tmp_path / "out" / "a.jpg", "a.jpg")
    [result] = run_batch(FakeEngine(), [job], CANVAS)
    assert result.status == "written" and result.source_score is not None and result.source_score < 60
    assert {"recompressed", "upscaled"} <= {f["code"] for f in result.flags}
    assert result.as_dict()["source_score"] == result.source_score


def test_a_preset_refusing_the_upscale_fails_that_photo_and_writes_nothing(tmp_path):
    photo(tmp_path / "in" / "small.jpg", size=(1800, 1200))  # the photo would do, but its subject is 900 px
    photo(tmp_path / "in" / "big.jpg", size=(3000, 2000))  # its 1500 px subject fills 2000 px: 1.33×
    engine = FakeEngine()
    jobs = [Job(tmp_path / "in" / name, tmp_path / "out" / name, name) for name in ("small.jpg", "big.jpg")]
    results = {r.label: r for r in run_batch(engine, jobs, CANVAS, checks=REFUSE)}
    small = results["small.jpg"]
    assert small.status == "failed" and small.code == "upscale_refused"
    assert "refuses to enlarge a photo more than 1.5×" in (small.message or "")
    assert re.search(r"would be upscaled 2\.\d× to fill its canvas", small.message or "")  # judged on its subject
    assert not (tmp_path / "out" / "small.jpg").exists()
    assert results["big.jpg"].status == "written" and engine.runs == 2


def test_a_photo_too_small_even_as_a_whole_is_refused_before_the_model_runs(tmp_path):
    photo(tmp_path / "in" / "tiny.jpg", size=(600, 400))  # the whole frame is enlarged 3.3×
    engine = FakeEngine()
    [result] = run_batch(engine, [Job(tmp_path / "in" / "tiny.jpg", tmp_path / "out" / "tiny.jpg", "tiny.jpg")],
                         CANVAS, checks=REFUSE)
    assert result.code == "upscale_refused" and "upscaled at least 3.3×" in (result.message or "")
    assert engine.runs == 0


def _document(tmp_path: Path) -> Document:
    _small_jpeg(tmp_path / "a.jpg", quality=92)
    doc = Document("d1", tmp_path / "a.jpg", "a.jpg", tmp_path)
    alpha = Image.new("L", (900, 600), 0)
    alpha.paste(255, (225, 150, 675, 450))
    doc.attach(open_image(doc.path), alpha, [], Provenance(FakeEngine().spec, MaskOptions()))
    return doc


def test_the_windows_export_flags_the_upscale_its_preset_asks_for(tmp_path):
    doc = _document(tmp_path)
    preset = get_preset("marketplace")
    job = Job(doc.path, tmp_path / "out" / "a.jpg", "a.jpg")
    result = ExportService(preset.settings, preset).export(doc.snapshot(), None, job, doc.provenance)
    assert result.status == "written"
    assert [f["code"] for f in result.flags] == ["upscaled"] and "Upscaled 3.8×" in result.warnings[0]
    assert export_fields(result)["message"].startswith("Upscaled 3.8×")  # what the window's export event says


def test_the_windows_export_is_refused_when_its_preset_refuses_the_upscale(tmp_path):
    doc = _document(tmp_path)
    preset = dataclasses.replace(get_preset("marketplace"), id="shop", source_checks=REFUSE)
    job = Job(doc.path, tmp_path / "out" / "a.jpg", "a.jpg")
    result = ExportService(preset.settings, preset).export(doc.snapshot(), None, job, doc.provenance)
    assert result.status == "failed" and result.code == "upscale_refused"
    assert "the shop preset refuses" in (result.message or "") and not job.output.exists()


def test_upscale_flag_is_silent_without_a_canvas_or_with_the_check_off():
    alpha = Image.new("L", (100, 100), 255)
    assert upscale_flag(alpha, [ExportSettings()], SourceChecks()) is None
    assert upscale_flag(alpha, [CANVAS], SourceChecks(checks=("jpeg",))) is None
    assert upscale_flag(alpha, [CANVAS], SourceChecks())["code"] == "upscaled"  # type: ignore[index]


def test_a_delivery_set_is_judged_by_its_largest_enlargement_and_each_output_refused_on_its_own(tmp_path):
    photo(tmp_path / "in" / "half.jpg", size=(1800, 1200))  # a 900×600 subject
    small = ExportSettings(format="jpg", canvas=(1000, 1000), fill=1.0)  # 1.1×: fine
    large = ExportSettings(format="jpg", canvas=(2000, 2000), fill=1.0)  # 2.2×: refused
    job = Job(tmp_path / "in" / "half.jpg", tmp_path / "out" / "half-small.jpg", "half.jpg",
              (("small", tmp_path / "out" / "half-small.jpg"), ("large", tmp_path / "out" / "half-large.jpg")))
    [result] = run_batch(FakeEngine(), [job], small, outputs=(("small", small), ("large", large)), checks=REFUSE)
    assert result.status == "failed" and [o["status"] for o in result.outputs] == ["written", "failed"]
    assert result.outputs[1]["code"] == "upscale_refused" and result.message.startswith("large: not exported")
    assert (tmp_path / "out" / "half-small.jpg").exists() and not (tmp_path / "out" / "half-large.jpg").exists()
    assert any(f["code"] == "upscaled" and "Upscaled 2.2×" in f["message"] for f in result.flags)


def test_the_windows_export_of_a_delivery_set_refuses_only_the_output_it_would_enlarge_too_much(tmp_path):
    doc = _document(tmp_path)  # a 450×300 subject
    kit = get_preset("marketplace-kit")
    preset = dataclasses.replace(kit, id="kit", source_checks=SourceChecks(max_upscale=3.0, refuse_upscale=True))
    paths = tuple((o.id, tmp_path / "out" / f"a-{o.id}{o.settings.extension}") for o in preset.outputs)
    job = Job(doc.path, paths[0][1], "a.jpg", paths)
    result = ExportService(preset.settings, preset).export(doc.snapshot(), None, job, doc.provenance)
    refused = [o["id"] for o in result.outputs if o.get("code") == "upscale_refused"]
    grown = {o.id: enlargement(doc.snapshot().alpha, o.settings) for o in preset.outputs}
    assert grown["amazon"] == (pytest.approx(4.0), (450, 300))  # only its canvas enlarges
    assert refused == ["amazon"] and "the kit preset refuses" in result.message  # type: ignore[operator]
    assert all(o["status"] == "written" for o in result.outputs if o["id"] not in refused)
    assert result.status == "failed" and "upscaled" in [f["code"] for f in result.flags]
