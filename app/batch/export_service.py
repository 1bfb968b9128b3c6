"""The one export path: render → atomic write → the preset's rules → audit record → journal line.

The window's Export (``app.desktop.exporting.Exporter``) and its hot folder (``app.desktop.hotfolder``) hand a
finished cutout to ``ExportService.export``. ``knockout cut`` and ``knockout watch`` render and
write on the batch pipeline's own overlapped threads (``app.batch.pipeline.run_batch``, with the
same mask recipe and the same ``write_output``) and hand each result to
``ExportService.finish``. Either way, what happens after a file is written is ``finish``:
the preset's rules are checked on the file as written (what breaks them becomes the result's
``violations`` and warnings), the audit record names the model from the engine's spec (never
from what a window shows), and the output folder's journal gets its line.

A delivery set (a preset with ``outputs``) writes every output from the one mask: each file
atomically on its own, each checked against its own rules, one audit record per output (preset
id + output id). The photo counts as done only when every output is written; an output that
fails is named with its reason in the result and loses none of the others.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from app.batch.assessment import refuse_upscale, upscale_flag
from app.batch.journal import Journal
from app.batch.pipeline import Job, Provenance, Result, failed, render_fixed, set_result, write_output, write_outputs
from app.core import compliance
from app.core.compose import Cutout
from app.core.export import ExportSettings
from app.core.source_quality import DEFAULT_CHECKS
from app.governance import audit
from app.governance.presets import Output, Preset
from app.governance.review import Remarks


def render_cutout(cutout: Cutout, settings: ExportSettings) -> Image.Image:
    """The pixels to write for a cutout whose mask already exists (the window's): the whole-mask
    fixes the settings ask for (product presets punch holes, a backdrop preset may recover parts)
    on the mask as it is, then the export recipe (``app.core.export.render``)."""
    return render_fixed(cutout, settings)


def audited_settings(settings: ExportSettings, provenance: Provenance) -> ExportSettings:
    """``settings`` as the audit record states them: how the mask was made (views, edges, specks,
    automatic recovery) is the provenance's, since the window makes a mask before an export picks
    a preset."""
    mask = provenance.mask
    made = (mask.refine_edges, mask.remove_specks, mask.views, mask.auto_recover_parts)
    if (settings.refine_edges, settings.remove_specks, settings.views, settings.auto_recover_parts) == made:
        return settings
    return dataclasses.replace(settings, refine_edges=mask.refine_edges, remove_specks=mask.remove_specks,
                               views=mask.views, auto_recover_parts=mask.auto_recover_parts)


def rule_breaks(output: Path, preset: Preset | Output) -> list[compliance.Violation]:
    """The preset's (or a set's output's) rules checked on the file as written (profile, JPEG
    noise, its format and size on disk), as a reviewer sees it."""
    if preset.rules is None:
        return []
    try:
        size = output.stat().st_size
        with Image.open(output) as written:
            written.load()
            return compliance.check(written, preset.rules, size)
    except (OSError, Image.DecompressionBombError) as exc:  # the latter: over twice Pillow's pixel backstop
        return [compliance.Violation("unreadable", f"cannot re-read the output to check it ({exc})")]


def export_fields(result: Result) -> dict[str, Any]:
    """A written result as the window's ``export`` event tells it (docs/desktop-bridge.md)."""
    notes = [f"{v['output']}: {v['message']}" if result.outputs else v["message"] for v in result.violations]
    notes += [f["message"] for f in result.flags]  # what the export found: an upscale
    fields: dict[str, Any] = {"path": result.output, "violations": result.violations,
                              "message": "; ".join(notes) or None}
    if result.flags:  # the same notes by code, for the window's languages
        fields["flags"] = result.flags
    if result.outputs:  # a delivery set: each file, with its own verdict
        fields["outputs"] = result.outputs
    return fields


@dataclass(frozen=True)
class ExportService:
    """How one batch, one export from the window or one hot folder writes its files."""

    settings: ExportSettings
    preset: Preset | None = None  # its rules are checked on each written file; its id is audited
    audited: bool = False  # an audit record per written file (app.governance.audit), by setting, flag or policy
    sidecar: bool = False  # the record also beside the file, as <output>.json
    journal: Journal | None = None  # the output folder's journal (cut, watch, the hot folder)

    def export(self, cutout: Cutout, exif: bytes | None, job: Job, provenance: Provenance,
               remarks: Remarks | None = None) -> Result:
        """Render ``cutout`` and write it to ``job.output``, then ``finish``. A file that cannot be
        written comes back ``failed`` with the reason (it is journaled like any other).
        ``remarks``: the photo's review decision and alt text, for the audit record."""
        started = time.perf_counter()
        width, height = cutout.rgb.size
        checks = self.preset.source_checks if self.preset else DEFAULT_CHECKS  # the window judges upscales here
        preset_id = self.preset.id if self.preset else None
        if self.preset is not None and self.preset.outputs:
            outputs = tuple((o.id, o.settings) for o in self.preset.outputs)
            if [i for i, _path in job.outputs] != [i for i, _settings in outputs]:
                raise ValueError(f"the job for {job.label} does not name a path for each output of {self.preset.id}")
            images: list[Image.Image | BaseException] = []
            for _id, settings in outputs:
                try:
                    refuse_upscale(cutout.alpha, settings, checks, job.label, preset_id)
                    images.append(render_cutout(cutout, settings))
                except Exception as exc:
                    images.append(exc)
            result = Result(job.label, str(job.source), "written", output=str(job.output), width=width, height=height)
            set_result(result, write_outputs(job, images, outputs, exif))
            result.seconds = time.perf_counter() - started
            self._flag_upscale(result, cutout, [settings for _id, settings in outputs])
            return self.finish(result, provenance, remarks)
        try:
            refuse_upscale(cutout.alpha, self.settings, checks, job.label, preset_id)
            write_output(job, render_cutout(cutout, self.settings), self.settings, exif)
        except Exception as exc:
            return self.finish(failed(job, exc, started))
        result = Result(job.label, str(job.source), "written", output=str(job.output), version=job.version,
                        seconds=time.perf_counter() - started, width=width, height=height)
        self._flag_upscale(result, cutout, [self.settings])
        return self.finish(result, provenance, remarks)

    def _flag_upscale(self, result: Result, cutout: Cutout, targets: list[ExportSettings]) -> None:
        """The "upscaled" flag (and warning) of an export whose cutout was judged before its preset was known."""
        flag = upscale_flag(cutout.alpha, targets, self.preset.source_checks if self.preset else DEFAULT_CHECKS)
        if flag is not None:
            result.flags.append(flag)
            result.warnings.append(flag["message"])

    def finish(self, result: Result, provenance: Provenance | None = None, remarks: Remarks | None = None) -> Result:
        """What happens after a file is written (or failed): the preset's rules on the written
        file, the audit record (a record that cannot be saved fails the file: ``audit_failed``),
        and the journal line. ``provenance`` says what made a written file. A delivery set's
        outputs are each checked and audited; an output whose record cannot be saved fails the photo."""
        if result.outputs:
            self._finish_outputs(result, provenance, remarks)
        elif result.status == "written" and result.output:
            self._check_rules(result)
            self._record(result, provenance, remarks)
        if self.journal is not None:
            self.journal.record(result)
        return result

    def _finish_outputs(self, result: Result, provenance: Provenance | None, remarks: Remarks | None) -> None:
        assert self.preset is not None
        by_id = {o.id: o for o in self.preset.outputs}
        for entry in result.outputs:
            output = by_id[entry["id"]]
            if entry["status"] != "written":
                continue
            violations = rule_breaks(Path(entry["path"]), output)
            if violations:
                entry["violations"] = [v.as_dict() for v in violations]
                result.warnings.extend(f"{self.preset.id}/{output.id} rules: {v.message}" for v in violations)
                result.violations.extend({**v.as_dict(), "output": output.id} for v in violations)
            problem = self._audit(Path(result.source), Path(entry["path"]), output.settings, provenance, remarks,
                                  output.id)
            if problem:
                entry.update(status="failed", code="audit_failed", message=problem)
        set_result(result, result.outputs)

    def _check_rules(self, result: Result) -> None:
        if self.preset is None or result.output is None:
            return
        violations = rule_breaks(Path(result.output), self.preset)
        result.warnings.extend(f"{self.preset.id} rules: {v.message}" for v in violations)
        result.violations.extend(v.as_dict() for v in violations)

    def _record(self, result: Result, provenance: Provenance | None, remarks: Remarks | None) -> None:
        if result.output is None:
            return
        problem = self._audit(Path(result.source), Path(result.output), self.settings, provenance, remarks,
                              version=result.version)
        if problem:
            result.status, result.code, result.message = "failed", "audit_failed", problem

    def _audit(self, source: Path, output: Path, settings: ExportSettings, provenance: Provenance | None,
               remarks: Remarks | None, output_id: str | None = None, version: str | None = None) -> str | None:
        """The audit record of one written file (when auditing); why it could not be saved, if not."""
        if not self.audited:
            return None
        if provenance is None:
            raise ValueError(f"no provenance for the audit record of {output}")
        try:
            audit.record_export(source=source, output=output, model_id=provenance.model.id,
                                model_sha256=provenance.model.sha256, preset_id=self.preset.id if self.preset else None,
                                settings=audited_settings(settings, provenance), sidecar=self.sidecar,
                                remarks=remarks, output_id=output_id, version=version)
        except OSError as exc:
            return f"written, but the audit record could not be saved ({exc.strerror or exc})"
        return None

