"""Questions asked of the audit log: what made this file, what happened to this photo, a CSV for the DAM.

A bad file turns up on the web shop: hand it (or its name, or a hash) to ``find`` and get every
export it matches, with the model, preset, version and who approved it. ``history`` lists one
photo's exports, oldest first, and ``describe_history`` says it in one line ("exported 3 times: v1
rejected (halo), v2 approved, v3 to check"). The log holds export lines and decisions recorded
after an export (``audit.record_review``); each export shows its latest decision. A line that is
not a record (torn by a crash, edited by hand) is skipped and counted, never fatal.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

from app.core.digest import sha256_file
from app.governance import audit
from app.governance.review import REASONS, TO_CHECK

MIN_HASH = 8  # hex digits: a shorter text is matched as a name, not as the start of a hash
CSV_COLUMNS = ("time", "source_name", "source_sha256", "output_path", "output_sha256", "version", "model_id",
               "model_sha256", "preset", "decision", "reason", "note", "reviewer", "review_time", "alt_text",
               "app_version")


class Records(list[dict[str, Any]]):
    """The log's records in the order written; ``skipped``: lines that were not records."""

    skipped: int = 0


def read_records(log_path: Path | None = None) -> Records:
    """Every record in the log (export lines and review lines), in order; a missing log is empty."""
    path = log_path if log_path is not None else audit.default_log_path()
    records = Records()
    try:
        text = Path(path).read_bytes().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return records
    for raw in text.splitlines():
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
        except ValueError:
            line = None
        if isinstance(line, dict) and line.get("knockout_audit") and isinstance(line.get("source"), dict):
            records.append(line)
        else:
            records.skipped += 1
    return records


def _sha(part: Any) -> str:
    return str(part.get("sha256") or "") if isinstance(part, dict) else ""


def exports(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The export records, oldest first, each with the latest decision recorded for it (copies)."""
    found: list[dict[str, Any]] = []
    for record in records:
        if record.get("event") != audit.REVIEW_EVENT:
            found.append({**record, "reviewed_later": False})
            continue
        target = _reviewed(found, record)
        if target is not None:
            target.update(review=record.get("review"), alt_text=record.get("alt_text"), reviewed_later=True)
    return found


def _reviewed(found: list[dict[str, Any]], event: dict[str, Any]) -> dict[str, Any] | None:
    """The export a review line is about: the latest one of its output if it names one, else of its source."""
    return next((record for record in reversed(found) if _about(event, record)), None)


def _about(event: dict[str, Any], record: dict[str, Any]) -> bool:
    output = event.get("output")
    if isinstance(output, dict):
        mine = record.get("output") or {}
        if _sha(output):
            return _sha(output) == _sha(mine)
        return bool(output.get("path")) and output.get("path") == mine.get("path")
    return bool(_sha(event.get("source"))) and _sha(event.get("source")) == _sha(record.get("source"))


def _matches(record: dict[str, Any], needle: str, digest: str | None) -> bool:
    source, output = record.get("source") or {}, record.get("output") or {}
    hashes = {_sha(source).lower(), _sha(output).lower()} - {""}
    if digest is not None:
        return digest in hashes
    words = [str(source.get("name") or ""), str(output.get("path") or "")]
    if any(needle in word.lower() for word in words):
        return True
    return len(needle) >= MIN_HASH and all(c in "0123456789abcdef" for c in needle) and any(
        h.startswith(needle) for h in hashes)


def find(text: str, log_path: Path | None = None) -> list[dict[str, Any]]:
    """Exports whose source name, output path or name, or source or output sha256 (or its start) match
    ``text``; if ``text`` is an existing file, the exports of exactly that file (by its sha256)."""
    return matching(read_records(log_path), text)


def matching(records: Iterable[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    """``find`` over records already read."""
    digest = None
    candidate = Path(text)
    if text and candidate.is_file():
        try:
            digest = sha256_file(candidate).lower()
        except OSError:
            digest = None
    needle = text.strip().lower()
    if not needle:
        return []
    return [r for r in exports(records) if _matches(r, needle, digest)]


def history(source_sha256: str, log_path: Path | None = None) -> list[dict[str, Any]]:
    """Every export of the photo with these bytes, oldest first, each with its latest decision."""
    wanted = source_sha256.lower()
    return [r for r in exports(read_records(log_path)) if _sha(r.get("source")).lower() == wanted]


def decision(record: dict[str, Any]) -> str:
    """'approved', 'rejected (halo)' or 'to check', as a person reads it."""
    review = record.get("review")
    if not isinstance(review, dict) or review.get("decision") not in ("approved", "rejected"):
        return TO_CHECK.replace("-", " ")
    if review["decision"] == "rejected":
        reason = review.get("reason")
        return f"rejected ({REASONS.get(str(reason), str(reason)).lower()})" if reason else "rejected"
    return "approved"


def export_label(record: dict[str, Any]) -> str:
    """An export's version, else its file name."""
    if record.get("version"):
        return str(record["version"])
    return Path(str((record.get("output") or {}).get("path") or "?")).name


def describe_history(records: list[dict[str, Any]]) -> str:
    """'exported 3 times: v1 rejected (halo), v2 approved, v3 to check' for ``history``'s answer."""
    if not records:
        return "not exported yet"
    times = "once" if len(records) == 1 else "twice" if len(records) == 2 else f"{len(records)} times"
    return f"exported {times}: " + ", ".join(f"{export_label(r)} {decision(r)}" for r in records)


def csv_row(record: dict[str, Any]) -> dict[str, Any]:
    """One export as a flat row for a DAM/PIM (``CSV_COLUMNS``)."""
    source, output, model = record.get("source") or {}, record.get("output") or {}, record.get("model") or {}
    given = record.get("review")
    review: dict[str, Any] = given if isinstance(given, dict) else {}
    return {"time": record.get("time"), "source_name": source.get("name"), "source_sha256": source.get("sha256"),
            "output_path": output.get("path"), "output_sha256": output.get("sha256"),
            "version": record.get("version"), "model_id": model.get("id"), "model_sha256": model.get("sha256"),
            "preset": record.get("preset"), "decision": review.get("decision") or TO_CHECK,
            "reason": review.get("reason"), "note": review.get("note"), "reviewer": review.get("reviewer"),
            "review_time": review.get("time"), "alt_text": record.get("alt_text"),
            "app_version": record.get("app_version")}


def write_csv(records: Iterable[dict[str, Any]], out: TextIO) -> int:
    """The exports as CSV with a header line; returns how many rows. A cell that a spreadsheet would
    run as a formula (``=``, ``+``, ``-``, ``@`` first) is written with a leading apostrophe."""
    writer = csv.DictWriter(out, CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    count = 0
    for record in records:
        writer.writerow({key: _cell(value) for key, value in csv_row(record).items()})
        count += 1
    return count


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
