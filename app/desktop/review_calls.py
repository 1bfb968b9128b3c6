"""The js_api calls of mask review, mixed into ``app.desktop.bridge.Api``: approve, reject with a
reason, reopen, alt text, the counts, a photo's history and the review sheet.

Thin like the rest of the bridge: check what the page sent, hand it to the review desk
(app.desktop.reviewing) or the trail (app.desktop.review_trail), answer the photo as the queue shows it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

from app.core.errors import explain
from app.desktop import review_trail
from app.desktop.answers import HistoryAnswer, ItemAnswer, PathAnswer, ReviewSummary
from app.desktop.envelope import BridgeError, checked_id, envelope
from app.desktop.reviewing import summary
from app.governance.review import REASONS

if TYPE_CHECKING:
    from app.desktop.document import Document
    from app.desktop.jobs import JobRunner


class SaveDialog(Protocol):
    def save_file(self, suggested_name: str) -> str | None: ...


class ReviewCalls:
    """Methods the page calls to review its photos (see docs/desktop-bridge.md, Review)."""

    _runner: JobRunner
    _shell: SaveDialog

    @envelope
    def approve(self, doc_id: str) -> ItemAnswer:
        doc = self._doc(doc_id)
        self._runner.reviews.approve(doc, self._runner.documents())
        return {"item": doc.as_item()}

    @envelope
    def reject(self, doc_id: str, reason: str, note: str | None = None) -> ItemAnswer:
        """Reject with one of app.governance.review.REASONS and an optional note."""
        doc = self._doc(doc_id)
        if reason not in REASONS:
            raise BridgeError(f"Choose why the cutout is rejected: one of {', '.join(REASONS.values())}.")
        if note is not None and not isinstance(note, str):
            raise BridgeError("Expected the note as text.")
        self._runner.reviews.reject(doc, self._runner.documents(), reason, note or "")
        return {"item": doc.as_item()}

    @envelope
    def reopen(self, doc_id: str) -> ItemAnswer:
        """Back to "to check": after fixing a rejected cutout, or to take an approval back."""
        doc = self._doc(doc_id)
        self._runner.reviews.reopen(doc, self._runner.documents())
        return {"item": doc.as_item()}

    @envelope
    def set_alt_text(self, doc_id: str, text: str) -> ItemAnswer:
        doc = self._doc(doc_id)
        if not isinstance(text, str):
            raise BridgeError("Expected the alt text as text.")
        self._runner.reviews.set_alt_text(doc, self._runner.documents(), text)
        return {"item": doc.as_item()}

    @envelope
    def review_summary(self) -> ReviewSummary:
        return {"counts": summary(self._runner.documents())}

    @envelope
    def history(self, doc_id: str) -> HistoryAnswer:
        """Every export of the photo and the decisions on it, in a line ("exported 3 times: …")."""
        return cast(HistoryAnswer, review_trail.history(self._doc(doc_id)))

    @envelope
    def save_review_sheet(self) -> PathAnswer:
        """Native Save dialog, then the sheet of every finished photo with its decision is made on
        the worker (it reads every cutout); it arrives as a ``review-sheet`` event."""
        docs = [doc for doc in self._runner.documents() if doc.finished]
        if not docs:
            raise BridgeError("Nothing to put on a review sheet yet: wait until a photo is cut out.", code="nothing",
                              params={"variant": "sheet"})
        target = self._shell.save_file(review_trail.SHEET_NAME)
        if not target:
            return {"path": None}
        path = Path(target)

        def build() -> None:
            event: dict[str, Any] = {"type": "review-sheet", "path": str(path)}
            try:
                event["path"] = str(review_trail.write_sheet(docs, path))
            except Exception as exc:
                event["error"] = explain(exc).for_window()["message"]
            self._runner.hub.publish(event)

        self._runner.after_queue(build)
        return {"path": str(path)}

    def _doc(self, doc_id: object) -> Document:
        return self._runner.get(checked_id(doc_id))
