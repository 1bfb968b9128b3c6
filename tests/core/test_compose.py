"""app.core.compose: crop, canvas, resize and compositing keep photo and matte together."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from app.core import compose, mask
from app.core.compose import Cutout

RED = (255, 0, 0)
GREEN = (0, 255, 0)


def cutout(size: tuple[int, int], box: tuple[int, int, int, int], fg: tuple[int, int, int] = RED,
           bg: tuple[int, int, int] = GREEN, alpha: int = 255) -> Cutout:
    """A ``fg`` rectangle at ``box`` on a ``bg`` photo; the matte covers exactly the rectangle."""
    rgb = Image.new("RGB", size, bg)
    rgb.paste(fg, box)
    matte = Image.new("L", size, 0)
    matte.paste(alpha, box)
    return Cutout(rgb, matte)


# --------------------------------------------------------------------------- transparent / flatten


def test_transparent_zeroes_colour_where_alpha_is_zero() -> None:
    cut = cutout((6, 4), (2, 0, 6, 4))
    cut.alpha.paste(1, (2, 0, 3, 4))  # almost invisible, but still subject

    rgba = np.asarray(compose.transparent(cut))

    assert rgba.shape == (4, 6, 4)
    assert np.all(rgba[:, :2] == 0)  # no hidden green survives under alpha 0
    assert np.all(rgba[:, 2:, :3] == RED)  # colour kept wherever alpha > 0, even alpha 1
    assert rgba[:, 2:, 3].tolist() == [[1, 255, 255, 255]] * 4


def test_flatten_follows_the_compositing_formula() -> None:
    fg, bg = (200, 100, 50), (10, 20, 240)
    alphas = np.array([[0, 1, 64, 128, 191, 254, 255]], dtype=np.uint8)
    cut = Cutout(Image.new("RGB", (alphas.shape[1], 1), fg), Image.fromarray(alphas, "L"))

    out = np.asarray(compose.flatten(cut, bg)).astype(float)

    a = alphas[..., None] / 255.0
    expected = np.array(fg) * a + np.array(bg) * (1 - a)
    assert compose.flatten(cut, bg).mode == "RGB"
    assert np.abs(out - expected).max() <= 1.0


# --------------------------------------------------------------------------- crop


def test_crop_keeps_photo_and_matte_aligned() -> None:
    cut = cutout((20, 10), (5, 2, 9, 6)).crop((5, 2, 9, 6))
    assert cut.size == cut.alpha.size == (4, 4)
    assert cut.rgb.getpixel((0, 0)) == RED
    assert cut.alpha.getextrema() == (255, 255)


def test_crop_to_subject_without_margin_is_tight() -> None:
    out = compose.crop_to_subject(cutout((100, 80), (40, 30, 60, 50)))
    assert out.size == (20, 20)
    assert out.alpha.getextrema() == (255, 255)


def test_crop_to_subject_margin_as_a_share_of_the_larger_side() -> None:
    out = compose.crop_to_subject(cutout((100, 80), (40, 30, 60, 40)), margin=0.1)  # 20x10 subject
    assert out.size == (24, 14)  # 10% of 20 px = 2 px each side
    assert mask.subject_box(out.alpha) == (2, 2, 22, 12)


def test_crop_to_subject_margin_in_pixels() -> None:
    out = compose.crop_to_subject(cutout((100, 80), (40, 30, 60, 50)), margin=5)
    assert out.size == (30, 30)
    assert mask.subject_box(out.alpha) == (5, 5, 25, 25)


def test_crop_to_subject_margin_is_clamped_at_the_borders() -> None:
    out = compose.crop_to_subject(cutout((50, 40), (0, 30, 10, 40)), margin=8)
    assert out.size == (18, 18)  # 8 px only where there is room: right and top
    assert mask.subject_box(out.alpha) == (0, 8, 10, 18)


def test_crop_to_subject_with_no_subject_changes_nothing() -> None:
    cut = cutout((30, 20), (0, 0, 0, 0))
    assert compose.crop_to_subject(cut, margin=0.2) is cut


# --------------------------------------------------------------------------- canvas


def test_fit_to_canvas_fills_the_share_and_centres_the_subject() -> None:
    cut = cutout((100, 80), (10, 20, 50, 40))  # a 40x20 subject off to one side
    out = compose.fit_to_canvas(cut, (200, 200), fill=0.8)

    assert out.size == out.alpha.size == (200, 200)
    left, top, right, bottom = mask.subject_box(out.alpha) or (0, 0, 0, 0)
    assert abs((right - left) - 160) <= 1  # the larger side fills 80%
    assert abs((bottom - top) - 80) <= 1  # aspect ratio kept
    assert abs((left + right) / 2 - 100) <= 1
    assert abs((top + bottom) / 2 - 100) <= 1
    assert out.rgb.getpixel((100, 100)) == RED
    assert out.alpha.getpixel((5, 5)) == 0


def test_fit_to_canvas_uses_the_relatively_larger_side_on_a_wide_canvas() -> None:
    cut = cutout((60, 60), (20, 10, 40, 50))  # 20x40, tall
    out = compose.fit_to_canvas(cut, (300, 150), fill=0.85)

    left, top, right, bottom = mask.subject_box(out.alpha) or (0, 0, 0, 0)
    assert abs((bottom - top) - 127.5) <= 1  # 85% of the height
    assert abs((right - left) - 64) <= 1
    assert abs((left + right) / 2 - 150) <= 1


def test_fit_to_canvas_without_a_subject_scales_the_whole_image() -> None:
    faint = Cutout(Image.new("RGB", (40, 20), RED), Image.new("L", (40, 20), 5))  # below the threshold
    out = compose.fit_to_canvas(faint, (100, 100), fill=0.5)
    assert out.size == (100, 100)
    assert out.alpha.getbbox() == (25, 37, 75, 62)  # 50x25, centred


# --------------------------------------------------------------------------- resize


def test_fit_within_never_enlarges() -> None:
    cut = cutout((100, 50), (10, 10, 20, 20))
    assert compose.fit_within(cut, (400, 400)) is cut
    assert compose.fit_within(cut, (100, 50)) is cut


def test_fit_within_shrinks_keeping_aspect_ratio() -> None:
    out = compose.fit_within(cutout((100, 50), (10, 10, 20, 20)), (50, 50))
    assert out.size == out.alpha.size == (50, 25)


def test_resized_to_the_same_size_is_a_no_op() -> None:
    cut = cutout((10, 10), (2, 2, 8, 8))
    assert cut.resized((10, 10)) is cut


@pytest.mark.parametrize("size", [(13, 13), (7, 9), (80, 80)])
def test_resize_uses_premultiplied_alpha_so_background_does_not_bleed(size: tuple[int, int]) -> None:
    # Red subject on a photo whose (fully transparent) background is green.
    out = cutout((40, 40), (10, 10, 30, 30)).resized(size)

    rgb = np.asarray(out.rgb).astype(int)
    alpha = np.asarray(out.alpha)
    edge = (alpha > 0) & (alpha < 255)
    assert edge.any()  # there are semi-transparent edge pixels to check
    assert rgb[..., 1][alpha > 0].max() <= 2  # no green in the visible pixels
    assert rgb[..., 0][edge].min() >= 250  # and the edge keeps the subject's red


def test_resize_of_semi_transparent_subject_keeps_its_colour() -> None:
    out = cutout((40, 40), (0, 0, 20, 40), fg=(30, 60, 200), alpha=100).resized((10, 10))
    rgb = np.asarray(out.rgb).astype(int)
    alpha = np.asarray(out.alpha)
    for y, x in zip(*np.nonzero(alpha > 10), strict=True):
        assert np.abs(rgb[y, x] - (30, 60, 200)).max() <= 3
