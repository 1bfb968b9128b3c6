"""Mask review: a person's decision on a cutout (approved, or rejected with a reason) and its alt text.

Merchandising checks each cutout before ops publishes it. A decision names who made it (the
OS user) and when, so the audit record and the sidecar of every export say whether a person
approved that file. Decisions are kept per source photo (by the sha256 of its bytes, so a
renamed copy keeps its decision and a re-shot photo starts afresh) in a ``ReviewStore``: the
window's in the user data folder, a batch's beside its journal (``REVIEW_FILE``), so closing
the window or stopping a hot folder loses none of them.
"""

from __future__ import annotations

import getpass
import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from app import paths
from app.core.atomic import write_atomic
from app.core.errors import KnockoutError

TO_CHECK, APPROVED, REJECTED = "to-check", "approved", "rejected"
DECISIONS = (APPROVED, REJECTED)
# Why a cutout was rejected: the failures new staff learn to see (the window shows the labels).
REASONS = {
    "halo": "Halo",
    "hole": "Clipped or filled hole",
    "colour-cast": "Colour cast",
    "part-missing": "Part missing",
    "background-left": "Background left",
    "wrong-subject": "Wrong subject",
    "other": "Other",
}
MAX_NOTE = 500  # characters: a reviewer's note, or an alt text, is a sentence or two
REVIEW_FILE = ".knockout-review.json"  # beside a batch's journal (app.batch.journal)
STORE_VERSION = 1


class ReviewError(KnockoutError):
    """A decision that cannot be recorded as asked (an unknown decision or reason, a rejection without one)."""

    code = "bad-review"


def reviewer() -> str:
    """The OS user name: who approved or rejected, as IT knows them."""
    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):  # no login name (a service account without one)
        return "unknown"


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ReviewError(f"the {what} must be text")
    value = " ".join(value.split())
    if len(value) > MAX_NOTE:
        raise ReviewError(f"the {what} is longer than {MAX_NOTE} characters")
    return value


@dataclass(frozen=True)
class Review:
    """One decision on one cutout."""

    decision: str  # approved | rejected
    reason: str | None  # a key of REASONS; required for a rejection
    note: str
    reviewer: str
    time: str  # UTC, ISO 8601

    def as_dict(self) -> dict[str, Any]:
        return {"decision": self.decision, "reason": self.reason, "note": self.note,
                "reviewer": self.reviewer, "time": self.time}

    @classmethod
    def from_dict(cls, data: Any) -> Review:
        if not isinstance(data, dict):
            raise ReviewError("a review must be an object")
        return decide(data.get("decision"), data.get("reason"), data.get("note", ""),
                      who=str(data.get("reviewer", "unknown")), when=str(data.get("time", "")))


def decide(decision: Any, reason: Any = None, note: Any = "", *, who: str | None = None,
           when: str | None = None) -> Review:
    """A checked decision: approved (no reason), or rejected with one of REASONS and an optional note."""
    if decision not in DECISIONS:
        raise ReviewError(f"the decision must be one of {', '.join(DECISIONS)}, not {decision!r}")
    if decision == REJECTED and reason not in REASONS:
        raise ReviewError(f"a rejection needs a reason: one of {', '.join(REASONS)}")
    return Review(decision, reason if decision == REJECTED else None, _text(note or "", "note"),
                  who or reviewer(), when or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))


def alt_text(value: Any) -> str:
    """A checked alt text (one line, at most MAX_NOTE characters)."""
    return _text(value or "", "alt text")


@dataclass(frozen=True)
class Remarks:
    """What people said about a photo: the review decision (None: to check) and the alt text."""

    review: Review | None = None
    alt_text: str = ""

    @property
    def state(self) -> str:
        return self.review.decision if self.review else TO_CHECK

    def audit_fields(self) -> dict[str, Any]:
        """The fields an audit record and a sidecar carry (app.governance.audit)."""
        return {"review": self.review.as_dict() if self.review else None, "alt_text": self.alt_text or None}


def window_store_path() -> Path:
    """The window's decisions, kept across sessions."""
    return paths.user_data_dir() / "review" / "decisions.json"


def batch_store_path(out_dir: Path) -> Path:
    """A batch's decisions, beside its journal."""
    return Path(out_dir) / REVIEW_FILE


class ReviewStore:
    """Decisions and alt texts by source sha256, in one JSON file rewritten atomically on each change.

    A file that cannot be read (damaged, another program's) is reported by ``load`` as an
    empty store plus ``problem``; the next change replaces it, never writing through a link."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.problem: str | None = None
        self._lock = threading.Lock()
        self._entries: dict[str, dict[str, Any]] = self._read()

    def _read(self) -> dict[str, dict[str, Any]]:
        try:
            if self.path.is_symlink() or (self.path.exists() and not self.path.is_file()):
                raise OSError("not a regular file")
            if not self.path.exists():
                return {}
            data = json.loads(self.path.read_text(encoding="utf-8"))
            entries = data["photos"] if isinstance(data, dict) else None
            if not isinstance(entries, dict):
                raise ValueError("no photos in it")
            return {str(k): v for k, v in entries.items() if isinstance(v, dict)}
        except (OSError, ValueError, KeyError) as exc:
            self.problem = f"the review file {self.path} could not be read ({exc}); starting empty"
            return {}

    def get(self, source_sha256: str) -> Remarks:
        entry = self._entries.get(source_sha256)
        if entry is None:
            return Remarks()
        try:
            review = Review.from_dict(entry["review"]) if entry.get("review") else None
            return Remarks(review, alt_text(entry.get("alt_text", "")))
        except ReviewError:
            return Remarks()

    def put(self, source_sha256: str, name: str, remarks: Remarks) -> None:
        """Keep ``remarks`` for the photo (``name`` only helps a person reading the file)."""
        with self._lock:
            if remarks.review is None and not remarks.alt_text:
                self._entries.pop(source_sha256, None)
            else:
                self._entries[source_sha256] = {"name": name, **remarks.audit_fields()}
            payload = json.dumps({"knockout_review": STORE_VERSION, "photos": self._entries},
                                 indent=1, sort_keys=True).encode("utf-8")

            def write(fh: BinaryIO) -> None:
                fh.write(payload)

            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            write_atomic(self.path, write)

    def items(self) -> list[tuple[str, str, Remarks]]:
        """(source sha256, name, remarks) for every photo with a decision or alt text."""
        return [(sha, str(entry.get("name", "")), self.get(sha)) for sha, entry in sorted(self._entries.items())]
