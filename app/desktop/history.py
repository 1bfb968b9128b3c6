"""Undo and redo of one document's mask edits, as patches of the pixels each edit changed.

Each edit remembers the brush stroke it was (None for a whole-mask edit: a reset, a fix), so
the strokes painted on a quick first look can be painted again on the full answer."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from app.core import brush

MAX_HISTORY = 50


@dataclass
class Edit:
    box: tuple[int, int, int, int]
    before: np.ndarray
    stroke: brush.Stroke | None = None


@dataclass
class History:
    undo: list[Edit] = field(default_factory=list)
    redo: list[Edit] = field(default_factory=list)

    def push(self, edit: Edit, keep_all: bool = False) -> None:
        """A new edit (the redo steps are gone); only the last MAX_HISTORY unless ``keep_all``."""
        self.undo.append(edit)
        if not keep_all:
            del self.undo[:-MAX_HISTORY]
        self.redo.clear()

    def step(self, alpha: np.ndarray, back: bool) -> tuple[int, int, int, int] | None:
        """Undo (``back``) or redo one edit in ``alpha``; the box it changed, or None if none is left."""
        source, target = (self.undo, self.redo) if back else (self.redo, self.undo)
        if not source:
            return None
        edit = source.pop()
        x0, y0, x1, y1 = edit.box
        current = alpha[y0:y1, x0:x1].copy()
        alpha[y0:y1, x0:x1] = edit.before
        target.append(Edit(edit.box, current, stroke=edit.stroke))
        return edit.box

    def strokes(self) -> list[brush.Stroke]:
        """The strokes in effect, oldest first: those not undone and not wiped by a later reset."""
        kept: list[brush.Stroke] = []
        for edit in self.undo:
            kept = [] if edit.stroke is None else [*kept, edit.stroke]
        return kept

    def clear(self) -> None:
        self.undo.clear()
        self.redo.clear()
