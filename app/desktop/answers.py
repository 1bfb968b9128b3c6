"""What each js_api method answers (besides ``ok``), one TypedDict per shape.

These are the contract docs/desktop-bridge.md writes down for the page; tests/desktop/test_answers.py
holds the two to each other (every public ``Api`` method has its row, each row lists exactly
its TypedDict's keys). Values the page only shows (settings, presets, the engine status) stay
loosely typed here; the keys are what the page relies on.
"""

from __future__ import annotations

from typing import Any, TypedDict


class ReviewItem(TypedDict):
    """A photo's review (``app.desktop.reviewing.PhotoReview``): state to-check | approved | rejected."""

    state: str
    reason: str | None  # a key of app.governance.review.REASONS, for a rejection
    note: str
    reviewer: str | None
    time: str | None
    alt_text: str


class Item(TypedDict):
    """One photo in the queue (``Document.as_item``)."""

    id: str
    name: str
    path: str
    state: str  # app.desktop.jobs.STATES
    progress: float
    message: str | None
    code: str | None
    flags: list[dict[str, str]]
    width: int | None
    height: int | None
    version: int
    preview: bool  # the mask is the quick first look; the full answer replaces it
    review: ReviewItem


class EditState(TypedDict):
    version: int
    can_undo: bool
    can_redo: bool


class EditAnswer(EditState):
    """After a stroke, undo, redo or reset: the changed full-resolution box (None if nothing changed)."""

    box: list[int] | None


class DocumentAnswer(EditState):
    id: str
    name: str
    width: int | None
    height: int | None
    tile: int
    levels: int
    preview: bool


class ModelChoice(TypedDict):
    id: str
    label: str


class ReviewSetup(TypedDict):
    """What the review controls offer: the reasons to reject ({id, label}) and the longest note."""

    reasons: list[dict[str, str]]
    max_note: int
    problem: str | None  # the review file could not be read: decisions start afresh (say so once)


class HelloAnswer(TypedDict):
    version: str
    locale: str
    token: str
    status: dict[str, Any]
    watch: dict[str, Any] | None
    settings: dict[str, Any]
    locked: list[str]
    presets: list[dict[str, Any]]
    models: list[ModelChoice]
    review: ReviewSetup


class StatusAnswer(TypedDict):
    status: dict[str, Any]
    watch: dict[str, Any] | None
    watch_error: str | None


class Opened(TypedDict):
    added: list[Item]
    errors: list[dict[str, str]]  # {path, message}


class PathAnswer(TypedDict):
    path: str | None  # None: the dialog was cancelled


class QueueAnswer(TypedDict):
    items: list[Item]
    summary: dict[str, int]  # total and a count per state


class ItemAnswer(TypedDict):
    item: Item


class Queued(TypedDict):
    queued: bool  # the answer comes as an event


class ExportQueued(TypedDict):
    queued: int  # how many photos


class WatchAnswer(TypedDict):
    watch: dict[str, Any] | None


class Cleared(TypedDict):
    removed: int


class SettingsAnswer(TypedDict):
    settings: dict[str, Any]
    locked: list[str]


class Done(TypedDict):
    """Nothing to say but ``ok``."""


class ReviewCounts(TypedDict):
    total: int
    to_check: int
    approved: int
    rejected: int


class ReviewSummary(TypedDict):
    counts: ReviewCounts


class HistoryAnswer(TypedDict):
    text: str  # the photo's exports and decisions in one line, for a person (English)
    exports: list[dict[str, Any]]  # the same, each {label, decision, reason}: the window words it
    unaudited: int
