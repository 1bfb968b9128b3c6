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


def test_the_subject_box_is_grown_by_its_margin_and_clipped_to_the_photo() -> None:
    prob = np.zeros((100, 100), np.float32)
    prob[20:60, 40:90] = 0.9  # a 50 x 40 subject in a 100² map of a 1000 x 500 photo
    assert fusion.subject_box(prob, (1000, 500), margin=0.1) == (350, 80, 950, 320)
    assert fusion.subject_box(prob, (1000, 500), margin=0.5) == (150, 0, 1000, 400)  # clipped at the edges
    assert fusion.subject_box(np.zeros((100, 100), np.float32), (1000, 500)) is None
    speck = np.zeros((100, 100), np.float32)
    speck[50, 50] = 1.0
    assert fusion.subject_box(speck, (100, 100)) is None  # too small to look at again


def test_a_crops_answer_is_pasted_back_where_it_came_from_with_a_say_only_there() -> None:
    crop_answer = np.zeros((64, 64), np.float32)
    crop_answer[:, 32:] = 1.0  # right half of the crop is subject
    prob, weight = fusion.paste(crop_answer, (500, 250, 1000, 500), (1000, 500), (100, 200))
    assert prob.shape == weight.shape == (100, 200)
    assert weight[50:, 100:].min() == 1 and weight[:50].max() == 0 and weight[:, :100].max() == 0
    assert prob[50:, 152:].min() > 0.99 and prob[50:, 100:148].max() < 0.01
    assert fusion.fuse([np.full((100, 200), 0.2, np.float32), prob], [1.0, weight])[10, 10] == \
        pytest.approx(0.2, abs=1e-3)
