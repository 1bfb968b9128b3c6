"""The window's review of its photos: each one *to check*, *approved* or *rejected*
(app.governance.review), kept per source photo in a ReviewStore so closing the window loses none.

A photo's decision is looked up once it is cut out (on the job runner's worker: hashing the
source is file work, and the photo was just read). Deciding needs a finished cutout: a person
approves what they saw. A decision is about the source photo (its sha256), so every open copy of
the same photo follows it. A photo already exported with an audit record gets the later decision
added to the audit trail (app.desktop.review_trail).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.core.digest import sha256_file
from app.core.errors import KnockoutError, NotReady
from app.desktop import review_trail
from app.desktop.answers import ReviewCounts, ReviewItem
from app.governance.review import (
    APPROVED,
    REJECTED,
    TO_CHECK,
    Remarks,
    ReviewStore,
    alt_text,
    decide,
    window_store_path,
)

if TYPE_CHECKING:
    from app.desktop.document import Document

STATES = (TO_CHECK, APPROVED, REJECTED)


class SourceUnreadable(KnockoutError):
    """The photo's file cannot be read any more, so a decision cannot be tied to it."""

    code = "source_unreadable"


@dataclass
class PhotoReview:
    """One document's review: what people said, the source sha256 it is kept under, the store it is
    kept in (a hot-folder batch's; None: the window's), and its exports this session (a decision
    after an audited one goes into the audit trail; the review sheet names the last version)."""

    remarks: Remarks = field(default_factory=Remarks)
    digest: str | None = None
    store: ReviewStore | None = None
    exports: int = 0
    audited_exports: int = 0
    last_output: Path | None = None
    version: str | None = None  # what {version} became in the last export's name

    @property
    def state(self) -> str:
        return self.remarks.state

    def wrote(self, output: Path, version: str | None, audited: bool) -> None:
        """An export of the photo was written to ``output`` (with an audit record when ``audited``)."""
        self.exports += 1
        self.audited_exports += int(audited)
        self.last_output, self.version = output, version

    def as_item(self) -> ReviewItem:
        review = self.remarks.review
        return {"state": self.state, "reason": review.reason if review else None,
                "note": review.note if review else "", "reviewer": review.reviewer if review else None,
                "time": review.time if review else None, "alt_text": self.remarks.alt_text}


class ReviewDesk:
    """Decisions on the window's documents, saved to their store before they show.

    ``on_decided(doc)`` runs after each change (the job runner publishes the item)."""

    def __init__(self, store: ReviewStore | None = None) -> None:
        self.store = store if store is not None else ReviewStore(window_store_path())
        self.on_decided: list[Callable[[Document], None]] = []

    def store_for(self, doc: Document) -> ReviewStore:
        return doc.review.store or self.store

    def load(self, doc: Document) -> None:
        """The remarks kept for ``doc``'s source (none if it cannot be read: its cutout says why)."""
        try:
            digest = sha256_file(doc.path)
        except OSError:
            return
        remarks = self.store_for(doc).get(digest)
        with doc.lock:
            doc.review.digest = digest
            doc.review.remarks = remarks

    # -- decisions ----------------------------------------------------------------
    def approve(self, doc: Document, docs: Iterable[Document]) -> None:
        self._decide(doc, docs, lambda r: Remarks(decide(APPROVED), r.alt_text))

    def reject(self, doc: Document, docs: Iterable[Document], reason: Any, note: Any = "") -> None:
        self._decide(doc, docs, lambda r: Remarks(decide(REJECTED, reason, note), r.alt_text))

    def reopen(self, doc: Document, docs: Iterable[Document]) -> None:
        """Back to *to check* (a rejected photo fixed, an approval taken back); the alt text stays."""
        self._decide(doc, docs, lambda r: Remarks(None, r.alt_text))

    def edited(self, doc: Document, docs: Iterable[Document]) -> None:
        """The mask changed (brush, undo, reset, a fix): an approval was for the mask someone looked
        at, so the photo is to check again; a rejection stays until someone approves the fix."""
        if doc.finished and doc.review.state == APPROVED:
            self.reopen(doc, docs)

    def set_alt_text(self, doc: Document, docs: Iterable[Document], text: Any) -> None:
        checked = alt_text(text)
        self._decide(doc, docs, lambda r: Remarks(r.review, checked))

    def _decide(self, doc: Document, docs: Iterable[Document], change: Callable[[Remarks], Remarks]) -> None:
        if not doc.finished:
            raise NotReady.cutout(doc.name)
        digest = self._digest(doc)
        with doc.lock:
            remarks = change(doc.review.remarks)
        self.store_for(doc).put(digest, doc.name, remarks)  # kept first: what shows is what was saved
        same = [doc, *(d for d in docs if d is not doc and d.review.digest == digest)]
        for other in same:
            with other.lock:
                other.review.remarks = remarks
            for listener in self.on_decided:
                listener(other)
        exported = next((d for d in same if d.review.audited_exports), None)
        if exported is not None:
            review_trail.record_decision(exported)

    def _digest(self, doc: Document) -> str:
        if doc.review.digest is None:
            try:
                digest = sha256_file(doc.path)
            except OSError as exc:
                raise SourceUnreadable(f"{doc.name} cannot be read any more ({exc.strerror or exc}), so the "
                                       "decision cannot be kept", doc.name) from None
            with doc.lock:
                doc.review.digest = digest
        assert doc.review.digest is not None
        return doc.review.digest


def summary(docs: Iterable[Document]) -> ReviewCounts:
    """How many photos are to check, approved and rejected (every photo without a decision is to check)."""
    counts = dict.fromkeys(STATES, 0)
    total = 0
    for doc in docs:
        counts[doc.review.state] += 1
        total += 1
    return {"total": total, "to_check": counts[TO_CHECK], "approved": counts[APPROVED],
            "rejected": counts[REJECTED]}


def approved(docs: Iterable[Document]) -> list[Document]:
    """The finished photos a person approved, in queue order: what "Export approved" writes."""
    return [doc for doc in docs if doc.finished and doc.review.state == APPROVED]
