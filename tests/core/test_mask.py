"""app.core.mask: probability maps become full-size 8-bit mattes."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from app.core import mask


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_to_uint8_rounds_and_clips(dtype: type) -> None:
    prob = np.array([-0.5, 0.0, 0.5, 1.0 / 255 * 0.49, 1.0 / 255 * 0.51, 1.0, 3.0], dtype=dtype)

    out = mask.to_uint8(prob)

    assert out.dtype == np.uint8
    assert out.tolist() == [0, 0, 128, 0, 1, 255, 255]


def test_to_uint8_keeps_shape() -> None:
    assert mask.to_uint8(np.zeros((3, 5), np.float32)).shape == (3, 5)


def test_upscale_returns_l_image_of_the_requested_size() -> None:
    prob = np.zeros((4, 4), np.float32)
    prob[:, 2:] = 1.0

    alpha = mask.upscale(prob, (40, 20))

    assert alpha.mode == "L"
    assert alpha.size == (40, 20)
    row = np.asarray(alpha)[10]
    assert row[0] == 0 and row[-1] == 255
    assert np.all(np.diff(row.astype(int)) >= 0)  # a smooth ramp, no ringing


def test_upscale_at_model_size_is_a_plain_conversion() -> None:
    prob = np.linspace(0, 1, 16, dtype=np.float32).reshape(4, 4)

    alpha = mask.upscale(prob, (4, 4))

    assert np.array_equal(np.asarray(alpha), mask.to_uint8(prob))


def test_combine_multiplies_with_source_alpha() -> None:
    alpha = Image.new("L", (2, 1), 255)
    alpha.putpixel((1, 0), 128)
    source = Image.new("L", (2, 1), 128)

    out = mask.combine(alpha, source)

    assert out.getpixel((0, 0)) == 128  # the source's own transparency survives
    assert out.getpixel((1, 0)) == 64


def test_combine_without_source_alpha_returns_the_matte() -> None:
    alpha = Image.new("L", (3, 3), 200)
    assert mask.combine(alpha, None) is alpha


def test_subject_box_ignores_faint_pixels() -> None:
    alpha = Image.new("L", (50, 40), 0)
    alpha.paste(255, (10, 5, 30, 25))
    alpha.putpixel((45, 35), 8)  # at the threshold: noise, not subject
    alpha.putpixel((2, 2), 9)  # just above: counts

    assert mask.subject_box(alpha) == (2, 2, 30, 25)
    assert mask.subject_box(alpha, threshold=9) == (10, 5, 30, 25)


def test_subject_box_of_an_empty_matte_is_none() -> None:
    assert mask.subject_box(Image.new("L", (8, 8), 5)) is None


def test_soft_blocks_cover_every_soft_pixel_in_row_runs_of_at_most_max_run_tiles() -> None:
    soft = np.zeros((40, 100), bool)
    soft[5, 3:97] = True  # one long edge across the first tile row
    soft[33, 50] = True  # a lone soft pixel in the last (partial) tile row

    merged = mask.soft_blocks(soft, 10)
    assert merged == [(0, 0, 10, 100), (30, 50, 40, 60)]
    capped = mask.soft_blocks(soft, 10, max_run=4)
    assert capped == [(0, 0, 10, 40), (0, 40, 10, 80), (0, 80, 10, 100), (30, 50, 40, 60)]
    covered = np.zeros_like(soft)
    for y0, x0, y1, x1 in capped:
        covered[y0:y1, x0:x1] = True
    assert covered[soft].all()
