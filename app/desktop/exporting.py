"""Exporting from the desktop app with a preset: the preset as the app's settings and IT's
policy adjust it, and the file name from the template. The rest (render, write, the preset's
rules, the audit record) is the one export path, app.batch.export_service.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.batch.export_service import ExportService, export_fields
from app.batch.pipeline import Job, MaskOptions
from app.core.errors import OutputError
from app.core.export import ExportSettings
from app.core.naming import render_name
from app.core.versions import versioned
from app.desktop.document import Document
from app.governance.policy import Policy, load_policy
from app.governance.presets import Preset
from app.governance.settings_schema import DEFAULTS

# user settings that decide how a mask is made
MASK_OPTIONS = ("refine_edges", "remove_specks", "auto_recover_parts", "views")


def app_preset(preset: Preset, settings: Mapping[str, Any], policy: Policy | None = None) -> Preset:
    """``preset`` as the app exports with it: edge colours decontaminated only when both the
    preset and the user's ``decontaminate`` setting allow it, the mask options the app's masks
    are made with (its settings, not the preset's: the mask exists before an export picks a
    preset), and then IT's policy, last (``Policy.apply``: a locked switch and the metadata
    policy beat the preset; ``None`` means the machine's policy).
    What this returns is what hot-folder journals and audit records say was done. A delivery
    set's outputs are each adjusted the same way."""
    policy = load_policy() if policy is None else policy

    def adjust(export: ExportSettings) -> ExportSettings:
        asked = {key: settings[key] for key in MASK_OPTIONS if key in settings}
        if export.decontaminate and not settings.get("decontaminate", True):
            asked["decontaminate"] = False
        choices = {key: value for key, value in asked.items() if getattr(export, key) != value}
        return policy.apply(export, choices)

    return preset.with_settings(adjust)


def mask_options(settings: Mapping[str, Any]) -> MaskOptions:
    """How the app makes a photo's mask, from the user's settings (in force: policy merged)."""
    values = {key: settings.get(key, DEFAULTS[key]) for key in MASK_OPTIONS}
    return MaskOptions(bool(values["refine_edges"]), bool(values["remove_specks"]), views=int(values["views"]),
                       auto_recover_parts=bool(values["auto_recover_parts"]))


def _fields(source: Path, preset: Preset) -> dict[str, str]:
    return {"stem": source.stem, "name": source.name, "ext": source.suffix.lstrip("."), "parent": source.parent.name,
            "preset": preset.id}


def file_name(template: str, source: Path, preset: Preset, settings: ExportSettings | None = None) -> str:
    """``{stem}-{preset}`` and friends -> a plain file name (with the preset's extension, or that
    of ``settings``: a delivery set's output); a ``{version}`` shows as ``v1`` (``Exporter`` finds
    the next free one in the folder)."""
    name = render_name(template, {**_fields(source, preset), "version": "v1"})
    return name + (settings or preset.settings).extension


def file_names(template: str, source: Path, preset: Preset) -> list[tuple[str, str]]:
    """(output id, file name) of each file an export writes: one for a preset (id ""), one per
    output of a delivery set (each with its own template; ``template`` is then not used)."""
    if preset.is_set:
        return [(o.id, file_name(o.template, source, preset, o.settings)) for o in preset.outputs]
    return [("", file_name(template, source, preset))]


@dataclass
class Exporter:
    """Exports documents into ``folder`` through the one export path (app.batch.export_service); a name
    already on disk gets ``-2``, ``-3``… unless this session wrote it (exporting again after
    touching up the mask replaces our own file). A ``{version}`` name is a new version each time
    (app.core.versions): v1, v2… past the highest in the folder, never replacing one."""

    preset: Preset
    template: str
    folder: Path
    written: set[Path] = field(default_factory=set)
    audited: bool = False  # an audit record per export (the audit setting or IT's policy)
    sidecar: bool = False
    service: ExportService = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.service = ExportService(self.preset.settings, self.preset, self.audited, self.sidecar)

    def __call__(self, doc: Document) -> dict[str, Any]:
        """On the job runner's worker: the ``export`` event's fields, or OutputError saying why not."""
        if not doc.finished or doc.provenance is None:
            raise OutputError(f"{doc.name} is not cut out yet", doc.name)
        job = self._job(doc)
        with doc.lock:
            remarks = doc.review.remarks  # the decision and alt text as they are now go into the audit record
        result = self.service.export(doc.snapshot(), doc.exif, job, doc.provenance, remarks)
        if result.status != "written":
            raise OutputError(result.message or f"{doc.name} could not be exported", doc.name)
        doc.review.wrote(job.output, result.version, audited=self.audited)
        return export_fields(result)

    def _job(self, doc: Document) -> Job:
        """Where the photo's files go: a new version for a ``{version}`` name (never a delivery set's:
        app.batch.inputs.check_set_names), else ``_targets``."""
        versions = None if self.preset.is_set else versioned(self.template, _fields(doc.path, self.preset),
                                                              self.folder, self.preset.settings.extension)
        if versions is not None:
            with self._lock:  # two photos with the same name in one export: v1 and v2, not one v1 twice
                target = versions.path(versions.next_free(self.written))
                self.written.add(target)
            return Job(doc.path, target, doc.name, versions=versions)
        targets = self._targets(doc)
        return Job(doc.path, targets[0][1], doc.name, targets if self.preset.is_set else ())

    def _targets(self, doc: Document) -> tuple[tuple[str, Path], ...]:
        """Where each file goes (a delivery set's outputs all take the same -2, -3...)."""
        names = [(i, Path(name)) for i, name in file_names(self.template, doc.path, self.preset)]
        candidates, n = [(i, self.folder / name) for i, name in names], 2

        def taken(path: Path) -> bool:
            return (path.exists() and path not in self.written) or _same_file(path, doc.path)

        with self._lock:
            while any(taken(path) for _i, path in candidates):
                candidates = [(i, self.folder / f"{name.stem}-{n}{name.suffix}") for i, name in names]
                n += 1
            self.written.update(path for _i, path in candidates)  # reserved against a parallel export
        return tuple(candidates)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False
