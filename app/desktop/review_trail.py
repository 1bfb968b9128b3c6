"""Where a photo's review meets the audit trail: its history for the window, a decision made after
an audited export added to the trail (app.governance.audit.record_review), and the review sheet.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.batch.review_sheet import WIDTH as SHEET_WIDTH
from app.batch.review_sheet import SheetEntry, write_review_sheet
from app.core import qa
from app.core.errors import KnockoutError, sentence
from app.desktop import pictures
from app.governance import audit, audit_query

if TYPE_CHECKING:
    from app.desktop.document import Document

SHEET_NAME = "review-sheet.html"  # as `knockout report` names it


class TrailError(KnockoutError):
    """A decision was kept, but the audit trail could not be told about it."""

    code = "audit_failed"


class _Exports:
    """The audit log's exports by source sha256, read again only when the log changed: the window asks
    for a photo's history each time a person moves to it, and a studio's log grows long."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: tuple[str, int, int] | None = None
        self._by_source: dict[str, list[dict[str, Any]]] = {}

    def of(self, digest: str) -> list[dict[str, Any]]:
        path = audit.default_log_path()
        try:
            stat = path.stat()
            seen = (str(path), stat.st_mtime_ns, stat.st_size)
        except OSError:
            return []  # no log yet: nothing was exported with an audit record
        with self._lock:
            if seen != self._seen:
                by_source: dict[str, list[dict[str, Any]]] = {}
                for record in audit_query.exports(audit_query.read_records(path)):
                    source = record.get("source")
                    by_source.setdefault(str(source.get("sha256") if isinstance(source, dict) else ""),
                                         []).append(record)
                self._seen, self._by_source = seen, by_source
            return list(self._by_source.get(digest, []))


_exports = _Exports()


def history(doc: Document) -> dict[str, Any]:
    """The photo's exports and decisions from the audit trail: ``text`` in one English line ("Exported
    twice: v1 rejected (halo), v2 approved."), and the same as ``exports`` ([{label, decision, reason}])
    and ``unaudited`` (exports written without an audit record, counted from this session) for the
    window to say in its language."""
    with doc.lock:
        digest, exports, audited = doc.review.digest, doc.review.exports, doc.review.audited_exports
    records = _exports.of(digest) if digest else []
    text = sentence(audit_query.describe_history(records))
    unaudited = max(0, exports - audited)
    if unaudited > 0:
        times = "once" if unaudited == 1 else "twice" if unaudited == 2 else f"{unaudited} times"
        text += f" Exported {times} in this session without an audit record."
    facts = []
    for record in records:
        review = record.get("review")
        given = review if isinstance(review, dict) else {}
        state = given.get("decision") if given.get("decision") in ("approved", "rejected") else "to-check"
        facts.append({"label": audit_query.export_label(record), "decision": state,
                      "reason": given.get("reason") if state == "rejected" else None})
    return {"text": text, "exports": facts, "unaudited": unaudited}


def record_decision(doc: Document) -> None:
    """A decision on a photo already exported with an audit record: a review line for its last export."""
    with doc.lock:
        remarks, output = doc.review.remarks, doc.review.last_output
    try:
        audit.record_review(doc.path, remarks, output=output)
    except OSError as exc:
        raise TrailError(f"the decision is kept, but the audit trail could not be updated "
                         f"({exc.strerror or exc})", doc.name) from None


def write_sheet(docs: Iterable[Document], path: Path) -> Path:
    """The review sheet (app.batch.review_sheet) of ``docs`` as they are now: each cutout with the
    quality flags of its current mask (touch-ups count), its decision and its last export's version.
    On the job runner's worker: it reads every photo."""
    entries = []
    for doc in docs:
        cut = doc.snapshot()
        with doc.lock:
            remarks, version = doc.review.remarks, doc.review.version
        scale = min(1.0, SHEET_WIDTH / cut.rgb.width)
        size = (max(1, round(cut.rgb.width * scale)), max(1, round(cut.rgb.height * scale)))
        picture = pictures.picture("cutout", pictures.ShrunkPhoto(cut.rgb), cut.alpha, None, size)
        entries.append(SheetEntry(doc.name, picture, qa.assess_images(cut.rgb, cut.alpha), remarks, version))
    return write_review_sheet(entries, path, f"Review sheet, {date.today().isoformat()}")
