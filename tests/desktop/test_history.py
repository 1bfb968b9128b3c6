"""Undo/redo patches of a mask, and which strokes are in effect (painted again on a full answer)."""

import numpy as np

from app.core.brush import Stroke
from app.desktop.history import MAX_HISTORY, Edit, History

A = Stroke("erase", 5, 1.0, ((10.0, 10.0),))
B = Stroke("restore", 5, 1.0, ((20.0, 20.0),))


def _patch():
    return np.zeros((2, 2), np.uint8)


def test_strokes_in_effect_skip_undone_ones_and_those_before_a_reset():
    history = History()
    history.push(Edit((0, 0, 2, 2), _patch(), stroke=A))
    history.push(Edit((0, 0, 2, 2), _patch()))  # a reset
    history.push(Edit((0, 0, 2, 2), _patch(), stroke=B))
    history.push(Edit((0, 0, 2, 2), _patch(), stroke=A))
    alpha = np.full((4, 4), 255, np.uint8)
    assert history.step(alpha, back=True) == (0, 0, 2, 2)
    assert history.strokes() == [B]


def test_undo_then_redo_restores_the_pixels_and_a_new_edit_drops_redo():
    alpha = np.full((4, 4), 255, np.uint8)
    history = History()
    history.push(Edit((1, 1, 3, 3), alpha[1:3, 1:3].copy(), stroke=A))
    alpha[1:3, 1:3] = 0
    history.step(alpha, back=True)
    assert alpha.min() == 255 and history.redo
    history.step(alpha, back=False)
    assert alpha[1:3, 1:3].max() == 0 and history.step(alpha, back=False) is None
    history.step(alpha, back=True)
    history.push(Edit((0, 0, 1, 1), alpha[:1, :1].copy()))
    assert not history.redo


def test_only_the_last_edits_are_kept_unless_all_are_needed():
    history = History()
    for _ in range(MAX_HISTORY + 5):
        history.push(Edit((0, 0, 1, 1), _patch(), stroke=A))
    assert len(history.undo) == MAX_HISTORY
    for _ in range(10):
        history.push(Edit((0, 0, 1, 1), _patch(), stroke=A), keep_all=True)
    assert len(history.undo) == MAX_HISTORY + 10
