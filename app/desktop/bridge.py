"""The js_api object the page calls: thin on purpose.

pywebview exposes every public method (and walks public attributes) of this object to
any page the window loads, each call on its own thread. So: everything else is kept in
underscore attributes, each method validates its small JSON input, delegates to the
job runner / documents / settings, and answers ``{ok: true, ...}`` or one error
envelope ``{ok: false, error: {code, message}}`` in plain language. No pixels here:
the page gets pictures from the loopback server (app/desktop/server.py).
"""

from __future__ import annotations

import locale
import logging
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from app import __version__
from app.batch.inputs import check_set_names
from app.core.atomic import write_atomic
from app.core.brush import Stroke
from app.core.errors import NotFound, NotReady
from app.core.private import private_dir
from app.desktop.answers import (
    Cleared,
    DocumentAnswer,
    Done,
    EditAnswer,
    ExportQueued,
    HelloAnswer,
    ItemAnswer,
    ModelChoice,
    Opened,
    PathAnswer,
    QueueAnswer,
    Queued,
    SettingsAnswer,
    StatusAnswer,
    WatchAnswer,
)
from app.desktop.document import TILE, Document
from app.desktop.envelope import BridgeError, checked_id, envelope
from app.desktop.exporting import Exporter, app_preset, file_name, mask_options
from app.desktop.hotfolder import HotFolder
from app.desktop.jobs import ExportTask, JobRunner
from app.desktop.review_calls import ReviewCalls
from app.desktop.reviewing import approved
from app.governance import retention
from app.governance.policy import Policy
from app.governance.presets import get_preset, load_presets
from app.governance.review import MAX_NOTE, REASONS
from app.governance.settings import load_settings, save_settings
from app.inference.manifest import discover

log = logging.getLogger(__name__)


class Shell(Protocol):
    """What only the native window can do (tests pass a fake)."""

    def open_files(self) -> list[str]: ...
    def choose_folder(self) -> str | None: ...
    def save_file(self, suggested_name: str) -> str | None: ...
    def reveal(self, folder: str) -> None: ...


class Pasteboard:
    """Where pasted pictures arrive: the loopback server's ``POST /paste`` hands it the bytes
    (pixels never travel through js_api, so this is not part of ``Api``). Each one is kept in the
    session's private paste folder and queued like an opened file."""

    def __init__(self, runner: JobRunner, folder: Path) -> None:
        self._runner = runner
        self._folder = folder

    def open(self, data: bytes, name: str) -> dict[str, Any]:
        """Keep ``data`` as a file named after ``name`` and queue it: ``{ok, ids}`` for the page."""
        private_dir(self._folder)
        stem = Path(name).stem or "pasted"
        suffix = Path(name).suffix.lower() or ".png"
        with tempfile.NamedTemporaryFile(dir=self._folder, prefix=f"{stem}-", suffix=suffix, delete=False) as fh:
            fh.write(data)
        added, _errors = self._runner.add([fh.name])
        ids = [item["id"] for item in added]
        self._runner.hub.publish({"type": "opened", "ids": ids})
        return {"ok": True, "ids": ids}


class Api(ReviewCalls):
    """Methods the page calls as ``window.pywebview.api.<name>(...)`` (the review's: ReviewCalls)."""

    _shell: Shell

    def __init__(self, runner: JobRunner, token: str, shell: Shell, policy: Policy | None = None,
                 engine_factory: Callable[[str | None, str], Any] | None = None) -> None:
        self._runner = runner
        self._token = token
        self._shell = shell
        self._policy = policy
        self._written: set[Path] = set()
        self._engine_factory = engine_factory or _real_engine
        self._hotfolder: HotFolder | None = None
        self._report: str | None = None

    # -- start-up -----------------------------------------------------------------------
    @envelope
    def hello(self) -> HelloAnswer:
        effective = load_settings(self._policy)
        watch = self._hotfolder.describe() if self._hotfolder else None
        return {"version": __version__, "token": self._token, "status": self._runner.status, "watch": watch,
                "locale": os_locale(),
                "settings": effective.values, "locked": sorted(effective.locked),
                "presets": [p.as_dict() for p in load_presets(self._policy)], "models": self._models(),
                "review": {"reasons": [{"id": key, "label": label} for key, label in REASONS.items()],
                           "max_note": MAX_NOTE, "problem": self._runner.reviews.store.problem}}

    @envelope
    def status(self) -> StatusAnswer:
        hot = self._hotfolder
        return {"status": self._runner.status, "watch": hot.describe() if hot else None,
                "watch_error": hot.error if hot else None}

    # -- getting images in --------------------------------------------------------------
    @envelope
    def open_paths(self, paths: list[str]) -> Opened:
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            raise BridgeError("Expected a list of file paths.")
        added, errors = self._runner.add(paths)
        return {"added": added, "errors": errors}

    @envelope
    def open_dialog(self) -> Opened:
        added, errors = self._runner.add(self._shell.open_files())
        return {"added": added, "errors": errors}

    @envelope
    def choose_folder(self) -> PathAnswer:
        return {"path": self._shell.choose_folder()}

    # -- the queue ----------------------------------------------------------------------
    @envelope
    def queue(self) -> QueueAnswer:
        return {"items": self._runner.items(), "summary": self._runner.summary()}

    @envelope
    def cancel(self, doc_id: str | None = None) -> Done:
        self._runner.cancel(checked_id(doc_id) if doc_id is not None else None)
        return {}

    @envelope
    def retry(self, doc_id: str) -> ItemAnswer:
        return {"item": self._runner.retry(checked_id(doc_id))}

    @envelope
    def remove(self, doc_id: str) -> Done:
        self._runner.remove(checked_id(doc_id))
        return {}

    @envelope
    def clear(self) -> Done:
        self._runner.clear()
        return {}

    # -- the editor ---------------------------------------------------------------------
    @envelope
    def document(self, doc_id: str) -> DocumentAnswer:
        doc = self._runner.get(checked_id(doc_id))
        with doc.lock:
            if not doc.has_mask:
                raise NotReady.cutout(doc.name)
            return {"id": doc.id, "name": doc.name, "width": doc.width, "height": doc.height, "tile": TILE,
                    "levels": doc.levels(), "preview": doc.previewing, **doc.edit_state()}

    @envelope
    def focus(self, doc_id: str | None) -> Done:
        """The photo the person is looking at (or none): its first look and full answer come first."""
        self._runner.focus(checked_id(doc_id) if doc_id is not None else None)
        return {}

    @envelope
    def stroke(self, doc_id: str, stroke: dict[str, Any]) -> EditAnswer:
        return self._edit(doc_id, lambda doc: doc.stroke(_stroke(stroke)))

    @envelope
    def undo(self, doc_id: str) -> EditAnswer:
        return self._edit(doc_id, Document.undo)

    @envelope
    def redo(self, doc_id: str) -> EditAnswer:
        return self._edit(doc_id, Document.redo)

    @envelope
    def reset(self, doc_id: str) -> EditAnswer:
        return self._edit(doc_id, Document.reset)

    def _edit(self, doc_id: str, change: Callable[[Document], EditAnswer]) -> EditAnswer:
        """A change to the mask; an approval given before it no longer holds (ReviewDesk.edited)."""
        doc = self._runner.get(checked_id(doc_id))
        answer = change(doc)
        if answer["box"] is not None:
            self._runner.reviews.edited(doc, self._runner.documents())
        return answer

    @envelope
    def punch_holes(self, doc_id: str) -> Queued:
        """Queue making enclosed gaps that show the background transparent (undoable), e.g. inside a
        mug handle; the job runner does it and answers with the photo's next ``item`` event."""
        return {"queued": self._runner.fix(checked_id(doc_id), "punch_holes")}

    @envelope
    def recover_parts(self, doc_id: str) -> Queued:
        """Queue bringing back subject parts the model cut away from a plain backdrop (undoable);
        answered like ``punch_holes``."""
        return {"queued": self._runner.fix(checked_id(doc_id), "recover_parts")}

    # -- export -------------------------------------------------------------------------
    @envelope
    def export(self, request: dict[str, Any]) -> ExportQueued:
        if not isinstance(request, dict):
            raise BridgeError("Expected an export request.")
        ids = request.get("ids")
        if ids is None:
            ids = [item["id"] for item in self._runner.items() if item["state"] in ("done", "flagged")]
        return {"queued": self._start_export(request, [checked_id(i) for i in ids],
                                             "Nothing to export yet: wait until a photo is cut out.", "export")}

    @envelope
    def export_approved(self, request: dict[str, Any]) -> ExportQueued:
        """Every finished photo a person approved, with the preset, names and folder ``export`` uses."""
        if not isinstance(request, dict):
            raise BridgeError("Expected an export request.")
        ids = [doc.id for doc in approved(self._runner.documents())]
        return {"queued": self._start_export(request, ids, "No approved photos to export yet: approve a photo first.",
                                             "approved")}

    def _start_export(self, request: dict[str, Any], ids: list[str], nothing: str, variant: str) -> int:
        preset, template, folder, settings = self._export_choice(request)
        if not folder.is_absolute():
            raise BridgeError("Choose an output folder first.", code="no-folder")
        if not ids:
            raise BridgeError(nothing, code="nothing", params={"variant": variant})
        exporter = Exporter(preset, template, folder, written=self._written, audited=bool(settings.get("audit")),
                            sidecar=bool(settings.get("sidecar")))
        return self._runner.export(ExportTask(tuple(ids), exporter, str(folder)))

    @envelope
    def open_folder(self, path: str) -> Done:
        folder = Path(str(path))
        if not folder.is_dir():
            raise NotFound(f"The folder {folder} does not exist any more.")
        self._shell.reveal(str(folder))
        return {}

    # -- hot folder ---------------------------------------------------------------------
    @envelope
    def watch_start(self, request: dict[str, Any]) -> WatchAnswer:
        """Watch a folder: each photo that lands there is cut out and exported with a preset."""
        if not isinstance(request, dict) or not request.get("inbox"):
            raise BridgeError("Choose the folder to watch first.", code="no-folder", params={"variant": "watch"})
        self._stop_watch()
        preset, template, folder, settings = self._export_choice(request)
        inbox = Path(str(request["inbox"])).expanduser()
        if not inbox.is_dir():
            raise BridgeError(f"{inbox} is not a folder: choose the folder to watch.", code="not-a-folder",
                              params={"name": str(inbox)})
        if folder.resolve() == inbox.resolve():
            raise BridgeError("Choose an output folder outside the watched folder.", code="watch-inside")
        self._hotfolder = HotFolder(self._runner, inbox, folder, preset, template, audited=bool(settings.get("audit")),
                                    sidecar=bool(settings.get("sidecar"))).start()
        return {"watch": self._hotfolder.describe()}

    @envelope
    def watch_stop(self) -> WatchAnswer:
        self._stop_watch()
        return {"watch": None}

    def _stop_watch(self) -> None:
        if self._hotfolder is not None:
            self._hotfolder.stop()
            self._hotfolder = None

    # -- diagnostics and housekeeping ---------------------------------------------------
    @envelope
    def diagnostics(self) -> Queued:
        """Queue the IT report (it times the model, so it waits its turn on the one worker)."""
        device = load_settings(self._policy).values.get("device", "auto")

        def build() -> None:
            from app.support import diagnose

            self._report = diagnose.render(diagnose.collect(device=device, every_model=False))
            self._runner.hub.publish({"type": "diagnostics", "report": self._report})

        self._runner.after_queue(build)
        return {"queued": True}

    @envelope
    def save_diagnostics(self) -> PathAnswer:
        if self._report is None:
            raise BridgeError("Run the diagnostics first.", code="nothing", params={"variant": "report"})
        target = self._shell.save_file("knockout-diagnostics.txt")
        if not target:
            return {"path": None}
        report = self._report.encode("utf-8")

        def write(fh: BinaryIO) -> None:
            fh.write(report)

        write_atomic(Path(target), write)
        return {"path": target}

    @envelope
    def clear_cache(self) -> Cleared:
        """"Clear cache": everything in the cache folder except this and other running sessions."""
        return {"removed": len(retention.clear_cache())}

    # -- settings -----------------------------------------------------------------------
    @envelope
    def get_settings(self) -> SettingsAnswer:
        effective = load_settings(self._policy)
        return {"settings": effective.values, "locked": sorted(effective.locked)}

    @envelope
    def set_settings(self, changes: dict[str, Any]) -> SettingsAnswer:
        if not isinstance(changes, dict):
            raise BridgeError("Expected the settings to change.")
        before = load_settings(self._policy).values
        effective = save_settings(changes, self._policy)
        if (before.get("model"), before.get("device")) != (effective.values.get("model"),
                                                           effective.values.get("device")):
            self._on_engine_change(effective.values)
        # Photos opened from now on get their mask this way; those already open keep theirs.
        self._runner.use_mask_options(mask_options(effective.values))
        return {"settings": effective.values, "locked": sorted(effective.locked)}

    # -- helpers ------------------------------------------------------------------------
    def _export_choice(self, request: dict[str, Any]) -> tuple[Any, str, Path, dict[str, Any]]:
        """Preset, name template and folder for an export: what the page asked for, except
        where IT's policy pinned the setting (then the page's value is ignored); and the
        effective settings they came from."""
        effective = load_settings(self._policy)
        settings, locked = effective.values, effective.locked

        def pick(key: str, asked: str) -> Any:
            return settings.get(key) if key in locked else (request.get(asked) or settings.get(key))

        preset = app_preset(get_preset(str(pick("preset", "preset")), self._policy), settings, self._policy)
        template = str(pick("template", "template") or preset.template)
        try:
            file_name(template, Path("photo.jpg"), preset)  # a bad template fails now, not per file
        except ValueError as exc:
            raise BridgeError(str(exc)) from None
        try:
            check_set_names(o.template for o in preset.outputs)
        except ValueError:
            raise BridgeError(f"The delivery set {preset.id} names its files with {{version}}: a set's files are "
                              "one delivery, not versions. Ask whoever made the preset to take it out.") from None
        folder = Path(str(pick("output_dir", "folder"))).expanduser()
        return preset, template, folder, settings

    def _models(self) -> list[ModelChoice]:
        allowed = getattr(self._policy, "allowed_models", None)
        return [{"id": spec.id, "label": spec.name} for spec in discover().models.values()
                if spec.file.is_file() and (allowed is None or spec.id in allowed)]

    def _on_engine_change(self, values: dict[str, Any]) -> None:
        model, device = values.get("model"), values.get("device", "auto")
        self._runner.use_engine(lambda: self._engine_factory(model, device))


def os_locale() -> str:
    """The computer's locale as Python reads it ("de_AT", "" if none): the page's second guess at the
    language after the webview's own ``navigator.languages``, which follows the display language the
    person chose in the OS and so comes first; this one helps where a webview reports nothing better."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name, "")
        if value and value not in ("C", "POSIX") and not value.startswith("C."):
            return value.split(".")[0]
    if sys.platform == "win32":  # the display language (getlocale says "German_Germany" there)
        import ctypes

        return locale.windows_locale.get(ctypes.windll.kernel32.GetUserDefaultUILanguage(), "")  # type: ignore[attr-defined]
    try:
        return locale.getlocale()[0] or ""
    except ValueError:
        return ""


def _real_engine(model: str | None, device: str) -> Any:
    from app.inference.engine import Engine

    return Engine(model=model, device=device)


def _stroke(value: object) -> Stroke:
    """The page's brush stroke, checked (app.core.brush says what is wrong with it)."""
    try:
        return Stroke.from_json(value)
    except ValueError as exc:
        raise BridgeError(str(exc)) from None
