"""Brush strokes on the full-resolution mask."""

import numpy as np
import pytest

from app.core import brush
from app.core.brush import Stroke


def test_erase_clears_pixels_along_the_stroke_and_nothing_far_away():
    alpha = np.full((100, 200), 255, np.uint8)
    brush.apply(alpha, Stroke("erase", 10, 1.0, ((20.0, 50.0), (180.0, 50.0))))
    assert alpha[50, 20:180].max() == 0
    assert alpha[50 - 15, 100] == 255 and alpha[50 + 15, 100] == 255
    assert alpha[0, 0] == 255


def test_restore_makes_pixels_opaque():
    alpha = np.zeros((64, 64), np.uint8)
    brush.apply(alpha, Stroke("restore", 8, 1.0, ((32.0, 32.0),)))
    assert alpha[32, 32] == 255
    assert alpha[32, 32 + 12] == 0


def test_soft_brush_fades_towards_its_rim():
    alpha = np.full((80, 80), 255, np.uint8)
    brush.apply(alpha, Stroke("erase", 20, 0.0, ((40.0, 40.0),)))
    row = alpha[40, 40:62].astype(int)
    assert row[0] < 10 and row[-1] == 255
    assert np.all(np.diff(row) >= 0)  # monotone: no ring
    assert 50 < row[10] < 220


def test_apply_returns_the_box_and_previous_pixels_for_undo():
    alpha = np.full((50, 50), 200, np.uint8)
    box, before = brush.apply(alpha, Stroke("erase", 5, 1.0, ((10.0, 10.0),)))
    x0, y0, x1, y1 = box
    assert before.shape == (y1 - y0, x1 - x0)
    assert np.all(before == 200)
    alpha[y0:y1, x0:x1] = before
    assert np.all(alpha == 200)


def test_a_stroke_outside_the_image_changes_nothing():
    alpha = np.full((20, 20), 255, np.uint8)
    assert brush.apply(alpha, Stroke("erase", 3, 1.0, ((500.0, 500.0),))) is None
    assert np.all(alpha == 255)


def test_a_stroke_crossing_the_border_is_clipped():
    alpha = np.full((20, 20), 255, np.uint8)
    box, _ = brush.apply(alpha, Stroke("erase", 5, 1.0, ((-3.0, 10.0), (3.0, 10.0))))
    assert box[0] == 0
    assert alpha[10, 0] == 0


@pytest.mark.parametrize("payload, message", [
    ({"mode": "paint", "radius": 5, "hardness": 1, "points": [[1, 1]]}, "unknown brush"),
    ({"mode": "erase", "radius": 0, "hardness": 1, "points": [[1, 1]]}, "radius"),
    ({"mode": "erase", "radius": 5, "hardness": 2, "points": [[1, 1]]}, "hardness"),
    ({"mode": "erase", "radius": 5, "hardness": 1, "points": []}, "points"),
    ({"mode": "erase", "radius": 5, "hardness": 1, "points": [["a", 1]]}, "points"),
    ({"mode": "erase", "radius": 5, "hardness": 1, "points": [[float("nan"), 1]]}, "finite"),
    ("erase", "object"),
])
def test_malformed_strokes_from_the_page_are_refused_with_a_reason(payload, message):
    with pytest.raises(ValueError, match=message):
        Stroke.from_json(payload)
