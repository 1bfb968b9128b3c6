"""Audit trail: one JSON line per export, so a team can prove what made each file.

Each line (``user_data_dir()/audit/exports.jsonl``) records the source's name and
sha256, the output's path and sha256 (and its ``version``, v1, v2…, when the name template has
one), the model id and sha256, the preset and export settings, the review decision and alt
text, the app version and the UTC time. A decision made after the export is a line of its
own (``"event": "review"``, ``record_review``); ``app.governance.audit_query`` reads both kinds.
Never image content or pixels. Hashes are taken from the files on disk after writing, so
they match what anyone can re-hash later. Optionally the same record goes into a sidecar ``<output>.json`` (atomic).
On/off by user setting or policy; callers decide, this module just records.

The log and its folder are this user's only (0600/0700); a symbolic link, or anything
but a regular file, at the log's path is refused rather than written through.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from app import __version__, paths
from app.core import filelock
from app.core.atomic import write_atomic
from app.core.digest import sha256_file
from app.core.export import ExportSettings
from app.core.private import open_private, private_dir
from app.governance.review import Remarks

SCHEMA = 1
REVIEW_EVENT = "review"  # the "event" of a decision recorded after the export (an export line has none)
LOG_NAME = "exports.jsonl"
_lock = threading.Lock()


def default_log_path() -> Path:
    return paths.user_data_dir() / "audit" / LOG_NAME


def sidecar_path(output: Path) -> Path:
    """``photo.png`` -> ``photo.png.json`` (beside it, so it travels with the file)."""
    return output.with_name(output.name + ".json")


def _fingerprint(path: Path) -> str | None:
    """The file's sha256, None if it cannot be read (e.g. a pasted image has no file)."""
    try:
        return sha256_file(path)
    except OSError:
        return None


def _json_safe(settings: ExportSettings) -> dict[str, Any]:
    return json.loads(json.dumps(dataclasses.asdict(settings)))


def _append(path: Path, line: str) -> None:
    """Append one line with a process-wide and a cross-process lock (``app.core.filelock``), then fsync."""
    private_dir(path.parent)
    data = (line + "\n").encode("utf-8")
    with _lock, os.fdopen(open_private(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND), "ab") as fh:
        filelock.lock(fh.fileno())
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def record_export(*, source: Path, output: Path, model_id: str, model_sha256: str, preset_id: str | None,
                  settings: ExportSettings, sidecar: bool, log_path: Path | None = None,
                  remarks: Remarks | None = None, output_id: str | None = None,
                  version: str | None = None) -> dict[str, Any]:
    """Append the record for one written ``output`` (and write its sidecar when asked); return it.
    ``remarks``: the review decision and alt text the photo had when it was exported;
    ``output_id``: which output of a delivery-set preset this file is (one record per output);
    ``version``: the ``{version}`` its name got (None: the name template has none)."""
    source, output = Path(source), Path(output)
    record = {
        "knockout_audit": SCHEMA,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "app_version": __version__,
        "source": {"name": source.name, "sha256": _fingerprint(source)},
        "output": {"path": str(output.resolve()), "sha256": _fingerprint(output)},
        "version": version,
        "model": {"id": model_id, "sha256": model_sha256},
        "preset": preset_id,
        "settings": _json_safe(settings),
        **(remarks or Remarks()).audit_fields(),
    }
    if output_id is not None:
        record["output_id"] = output_id
    _append(log_path if log_path is not None else default_log_path(), json.dumps(record, sort_keys=True))
    if sidecar:
        payload = (json.dumps(record, indent=2, sort_keys=True) + "\n").encode("utf-8")

        def write(fh: BinaryIO) -> None:
            fh.write(payload)

        write_atomic(sidecar_path(output), write)
    return record


def record_review(source: Path, remarks: Remarks, log_path: Path | None = None, *,
                  output: Path | None = None) -> dict[str, Any]:
    """Append a decision made after an export (approve / reject / alt text); return the line.

    It applies to the export of ``output`` when given (by its sha256, else its path), otherwise to
    the latest earlier export of ``source`` (by the sha256 of its bytes): see ``audit_query``."""
    source = Path(source)
    record: dict[str, Any] = {
        "knockout_audit": SCHEMA,
        "event": REVIEW_EVENT,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "app_version": __version__,
        "source": {"name": source.name, "sha256": _fingerprint(source)},
        "output": None if output is None else {"path": str(Path(output).resolve()),
                                               "sha256": _fingerprint(Path(output))},
        **remarks.audit_fields(),
    }
    _append(log_path if log_path is not None else default_log_path(), json.dumps(record, sort_keys=True))
    return record
