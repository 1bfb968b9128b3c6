"""Confidence-weighted fusion of several views' probability maps."""

from __future__ import annotations

import numpy as np
import pytest

from app.core import fusion


def test_a_confident_view_wins_over_an_unsure_one() -> None:
    sure_subject, unsure = np.full((4, 4), 0.98, np.float32), np.full((4, 4), 0.45, np.float32)
    fused = fusion.fuse([sure_subject, unsure])
    assert fused.min() > 0.95  # a plain mean would give 0.715
    sure_background = np.full((4, 4), 0.02, np.float32)
    assert fusion.fuse([unsure, sure_background]).max() < 0.05


def test_the_surer_of_two_disagreeing_views_decides_and_agreement_stays_put() -> None:
    a = np.array([[0.9, 0.999, 0.7]], np.float32)
    b = np.array([[0.2, 0.05, 0.7]], np.float32)
    fused = fusion.fuse([a, b])
    assert fused[0, 0] > 0.5  # logit 2.2 against -1.4
    assert fused[0, 1] > 0.9  # logit 6.9 against -2.9
    assert fused[0, 2] == pytest.approx(0.7, abs=1e-4)


def test_a_view_with_no_say_somewhere_leaves_the_other_there() -> None:
    base = np.full((2, 4), 0.3, np.float32)
    other = np.full((2, 4), 0.99, np.float32)
    covers = np.zeros((2, 4), np.float32)
    covers[:, 2:] = 1
    fused = fusion.fuse([base, other], [1.0, covers])
    np.testing.assert_allclose(fused[:, :2], 0.3, atol=1e-4)
    assert fused[:, 2:].min() > 0.95


def test_one_view_is_returned_as_it_is_and_none_is_an_error() -> None:
    only = np.full((3, 3), 0.25, np.float32)
    assert fusion.fuse([only]) is only
    with pytest.raises(ValueError):
        fusion.fuse([])
