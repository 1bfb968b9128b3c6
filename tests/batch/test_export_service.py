"""app.batch.export_service: the one export path (render → write → the preset's rules → audit → journal)."""

import dataclasses
import json

import numpy as np
from PIL import Image

from app.batch.export_service import ExportService, audited_settings, render_cutout
from app.batch.journal import Journal, header_for
from app.batch.pipeline import Job, MaskOptions, Provenance
from app.core.compliance import Rules
from app.core.decode import open_image
from app.core.export import ExportSettings
from app.desktop.document import Document
from app.governance import audit
from app.governance.policy import Policy
from app.governance.presets import get_preset
from tests.fakes import FakeEngine, photo

FAKE = FakeEngine().spec


def _plant_document(tmp_path):
    scene = Image.new("RGB", (240, 200), (200, 202, 205))  # a grey sweep
    scene.paste((190, 40, 30), (90, 110, 150, 170))  # a red pot...
    scene.paste((50, 140, 40), (70, 40, 170, 110))  # ...and the plant above it
    scene.save(tmp_path / "plant.png")
    doc = Document("d1", tmp_path / "plant.png", "plant.png", tmp_path)
    pot_only = Image.new("L", (240, 200), 0)
    pot_only.paste(255, (90, 110, 150, 170))  # the model kept only the pot
    doc.attach(open_image(doc.path), pot_only, [], Provenance(FAKE, MaskOptions()))
    return doc


def test_a_preset_asking_to_recover_parts_brings_them_back_in_the_exported_mask(tmp_path):
    doc = _plant_document(tmp_path)
    plain = render_cutout(doc.snapshot(), ExportSettings(mask_only=True))
    recovered = render_cutout(doc.snapshot(), ExportSettings(mask_only=True, recover_parts=True))
    assert np.asarray(plain)[75, 120] == 0 and np.asarray(recovered)[75, 120] == 255
    assert doc.alpha()[75, 120] == 0  # the document's own mask is not changed by an export


def test_the_audit_record_says_how_the_mask_was_made_and_keeps_the_export_settings_otherwise():
    export = get_preset("png-master", Policy()).settings
    made = audited_settings(export, Provenance(FAKE, MaskOptions(refine_edges=False, remove_specks=True)))
    assert (made.refine_edges, made.remove_specks, made.format) == (False, True, export.format)
    assert audited_settings(export, Provenance(FAKE, MaskOptions(export.refine_edges, export.remove_specks))) \
        is export
    two = audited_settings(export, Provenance(FAKE, MaskOptions(export.refine_edges, export.remove_specks, views=2)))
    assert two.views == 2 and export.views == 1  # the record names the views the mask was made with


def test_an_export_is_written_checked_against_the_rules_audited_and_journaled(tmp_path):
    photo(tmp_path / "a.jpg")
    doc = Document("d1", tmp_path / "a.jpg", "a.jpg", tmp_path)
    doc.attach(open_image(doc.path), Image.new("L", (96, 64), 255), [], Provenance(FAKE, MaskOptions()))
    preset = dataclasses.replace(get_preset("png-master"), rules=Rules(min_size=1000))
    out = tmp_path / "out"
    job = Job(doc.path, out / "a.png", "a.jpg")
    with Journal.open(out, header_for(preset.settings, FAKE.id, "{stem}")) as journal:
        journal.started(job)
        service = ExportService(preset.settings, preset, audited=True, journal=journal)
        result = service.export(doc.snapshot(), doc.exif, job, doc.provenance)
        assert journal.is_done(doc.path)
    assert result.status == "written" and (out / "a.png").exists()
    assert [v["code"] for v in result.violations] == ["too-small"]
    assert result.warnings == [f"png-master rules: {result.violations[0]['message']}"]
    (line,) = audit.default_log_path().read_text().splitlines()
    record = json.loads(line)
    assert record["model"] == {"id": "fake", "sha256": "0" * 64} and record["preset"] == "png-master"


def test_a_file_that_cannot_be_written_comes_back_failed_with_the_reason(tmp_path):
    photo(tmp_path / "a.jpg")
    doc = Document("d1", tmp_path / "a.jpg", "a.jpg", tmp_path)
    doc.attach(open_image(doc.path), Image.new("L", (96, 64), 255), [], Provenance(FAKE, MaskOptions()))
    (tmp_path / "blocked").write_text("a file where the folder should be")
    job = Job(doc.path, tmp_path / "blocked" / "a.png", "a.jpg")
    result = ExportService(ExportSettings(), audited=True).export(doc.snapshot(), None, job, doc.provenance)
    assert result.status == "failed" and result.code == "output_error" and "cannot write" in result.message
    assert not audit.default_log_path().exists()


def test_an_output_too_big_for_pillow_to_reopen_is_reported_not_raised(tmp_path, monkeypatch):
    from PIL import Image

    from app.batch.export_service import rule_breaks

    Image.new("RGB", (120, 80), "white").save(tmp_path / "huge.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10)  # a 900 MP canvas export against the 160 MP backstop
    preset = dataclasses.replace(get_preset("png-master"), rules=Rules(min_size=10))
    (violation,) = rule_breaks(tmp_path / "huge.png", preset)
    assert violation.code == "unreadable" and "cannot re-read" in violation.message
