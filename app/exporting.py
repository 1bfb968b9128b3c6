"""Writing an edited cutout from the desktop app with a preset: the preset as the app's
settings and IT's policy adjust it, the file name from the template, the pixels through
the same render/save path as the command line, the compliance check of the preset's
rules, and the audit record when it is on.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from app.core import compliance
from app.core.compose import Cutout
from app.core.errors import OutputError
from app.core.export import ExportSettings, render, save
from app.document import Document
from app.naming import render_name
from app.pipeline import MaskOptions, fix_mask
from app.policy import Policy, load_policy
from app.presets import Preset

MASK_OPTIONS = ("refine_edges", "remove_specks")


def with_mask_options(export: ExportSettings, options: MaskOptions | None) -> ExportSettings:
    """``export`` saying how a mask was made (``Document.provenance``); unchanged if unknown."""
    if options is None or (options.refine_edges, options.remove_specks) == (export.refine_edges,
                                                                            export.remove_specks):
        return export
    return dataclasses.replace(export, refine_edges=options.refine_edges, remove_specks=options.remove_specks)


def app_preset(preset: Preset, settings: Mapping[str, Any], policy: Policy | None = None) -> Preset:
    """``preset`` as the app exports with it: edge colours decontaminated only when both the
    preset and the user's ``decontaminate`` setting allow it, the mask options the app's masks
    are made with (its settings, not the preset's: the mask exists before an export picks a
    preset), and then IT's policy, last (``Policy.apply``: a locked switch and the metadata
    policy beat the preset; ``None`` means the machine's policy).
    What this returns is what hot-folder journals and audit records say was done."""
    export = preset.settings
    asked = {key: bool(settings.get(key, True)) for key in MASK_OPTIONS}
    if export.decontaminate and not settings.get("decontaminate", True):
        asked["decontaminate"] = False
    choices = {key: value for key, value in asked.items() if getattr(export, key) != value}
    export = (load_policy() if policy is None else policy).apply(export, choices)
    return preset if export is preset.settings else dataclasses.replace(preset, settings=export)


def file_name(template: str, source: Path, preset: Preset) -> str:
    """``{stem}-{preset}`` and friends -> a plain file name (with the preset's extension)."""
    name = render_name(template, {"stem": source.stem, "name": source.name, "ext": source.suffix.lstrip("."),
                                  "parent": source.parent.name, "preset": preset.id})
    return name + preset.settings.extension


def render_document(doc: Document, settings: ExportSettings) -> tuple[Image.Image, bytes | None]:
    """The pixels to write for ``doc`` (its current, possibly touched-up mask) and its EXIF."""
    with doc.lock:
        cut = doc.cutout()  # product presets punch holes; a team preset for backdrop shoots may recover parts
        cut = Cutout(cut.rgb, fix_mask(cut.rgb, cut.alpha, MaskOptions.of(settings).fixes_only()))
        return render(cut, settings), doc.exif


@dataclass
class Exporter:
    """Exports documents into ``folder``; a name already on disk gets ``-2``, ``-3``… unless this
    session wrote it (exporting again after touching up the mask replaces our own file)."""

    preset: Preset
    template: str
    folder: Path
    written: set[Path] = field(default_factory=set)
    on_written: Callable[[Document, Path], None] | None = None  # the audit record, when audit is on
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, doc: Document) -> dict[str, Any]:
        if not doc.finished:
            raise OutputError(f"{doc.name} is not cut out yet", doc.name)
        target = self._target(doc)
        image, exif = render_document(doc, self.preset.settings)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            save(image, target, self.preset.settings, exif)
        except OSError as exc:
            raise OutputError(f"Could not write {target}: {exc.strerror or exc}", doc.name) from None
        with self._lock:
            self.written.add(target)
        problems = []
        if self.preset.rules:  # checked on the file as written (profile, JPEG noise), as a reviewer sees it
            with Image.open(target) as written:
                problems = compliance.check(written, self.preset.rules)
        if self.on_written is not None:
            self.on_written(doc, target)
        return {"path": str(target), "message": "; ".join(p.message for p in problems) or None,
                "violations": [{"code": p.code, "message": p.message} for p in problems]}

    def _target(self, doc: Document) -> Path:
        name = Path(file_name(self.template, doc.path, self.preset))
        candidate = self.folder / name
        n = 2
        with self._lock:
            while (candidate.exists() and candidate not in self.written) or _same_file(candidate, doc.path):
                candidate = self.folder / f"{name.stem}-{n}{name.suffix}"
                n += 1
            self.written.add(candidate)  # reserve it against a parallel export of a same-named photo
        return candidate


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False
