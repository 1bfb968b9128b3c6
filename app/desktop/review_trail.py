"""Where a photo's review meets the audit trail: its history for the window, a decision made after
an audited export added to the trail, and the review sheet of the queue.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.desktop.document import Document

SHEET_NAME = "knockout-review-sheet.html"


def history_text(doc: Document) -> str:
    """The photo's exports and decisions in one line, for the window."""
    count = doc.review.audited_exports
    if not count:
        return "Not exported yet."
    return f"Exported {count} {'time' if count == 1 else 'times'} in this session."


def record_decision(doc: Document) -> None:
    """A decision on a photo already exported with an audit record: added to the trail."""


def write_sheet(docs: Iterable[Document], path: Path) -> Path:
    raise NotImplementedError
