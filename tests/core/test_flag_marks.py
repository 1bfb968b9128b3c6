"""app.core.flag_marks: each flag is drawn where its region is, and nowhere else."""

from __future__ import annotations

import numpy as np
from PIL import Image

from app.core import qa
from app.core.flag_marks import STYLES, draw_flag_marks
from app.core.morphology import grow

SIZE = 200


def disc(cy: float, cx: float, r: float, size: int = SIZE) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r


def grey(size: int = SIZE) -> Image.Image:
    return Image.new("RGB", (size, size), (128, 128, 128))


def changed(before: Image.Image, after: Image.Image) -> np.ndarray:
    return np.any(np.asarray(before.convert("RGB")) != np.asarray(after.convert("RGB")), axis=-1)


def label_area(after: Image.Image) -> np.ndarray:
    """The dark label boxes (nearly black) with the word inside them, which sit beside a mark."""
    dark = np.all(np.asarray(after.convert("RGB")) < 40, axis=-1)
    assert dark.sum() > 50  # every mark has its word
    return grow(dark, 6)


def test_a_halo_band_is_outlined_on_and_around_the_band_only() -> None:
    band = disc(100, 100, 56) & ~disc(100, 100, 50)
    image = grey()
    marked = draw_flag_marks(image, [qa.Flag("halo", "rim", band)])
    drawn = changed(image, marked) & ~label_area(marked)
    assert drawn.sum() > 300
    yy, xx = np.nonzero(drawn)
    radius = np.hypot(yy - 100, xx - 100)
    assert radius.min() >= 45 and radius.max() <= 62  # hugging the band, nowhere else
    assert tuple(np.asarray(marked)[100, 100]) == (128, 128, 128)  # the subject itself untouched


def test_a_filled_hole_is_circled_around_the_hole() -> None:
    hole = disc(80, 120, 10)
    image = grey()
    marked = draw_flag_marks(image, [qa.Flag("filled-hole", "gap", hole)])
    drawn = changed(image, marked) & ~label_area(marked)
    yy, xx = np.nonzero(drawn)
    radius = np.hypot(yy - 80, xx - 120)
    assert radius.min() > 10 and radius.max() < 30  # a ring around it, not on it
    angles = np.arctan2(yy - 80, xx - 120)
    assert np.histogram(angles, bins=8)[0].min() > 0  # all the way round
    colour = np.asarray(marked)[yy[0], xx[0]]
    assert np.abs(colour.astype(int) - STYLES["filled-hole"][0]).max() < 10


def test_a_touched_edge_gets_a_thick_bar_along_that_edge() -> None:
    region = np.zeros((SIZE, SIZE), bool)
    region[60:140, 0] = True  # the left side, rows 60..139
    image = grey()
    marked = draw_flag_marks(image, [qa.Flag("touches-edge", "edge", region)])
    drawn = changed(image, marked) & ~label_area(marked)
    yy, xx = np.nonzero(drawn)
    assert xx.max() < 10 and yy.min() >= 60 and yy.max() <= 140
    assert drawn[100, :4].all()  # thick, not a hairline


def test_a_left_out_part_is_shaded_in_place() -> None:
    part = disc(50, 50, 20)
    image = grey()
    marked = draw_flag_marks(image, [qa.Flag("left-out", "missing", part)])
    drawn = changed(image, marked) & ~label_area(marked)
    assert drawn[50, 50] and not (drawn & ~part).any()


def test_regions_from_a_smaller_check_are_scaled_to_the_picture() -> None:
    small = np.zeros((50, 50), bool)
    small[20:30, 20:30] = True  # checks run shrunk; the picture is 4x
    image = grey(200)
    marked = draw_flag_marks(image, [qa.Flag("left-out", "missing", small)])
    drawn = changed(image, marked) & ~label_area(marked)
    yy, xx = np.nonzero(drawn)
    assert 119 <= yy.max() <= 124 and 119 <= xx.max() <= 124
    assert drawn[110, 110] and not drawn[130, 130] and not drawn[60, 60]


def test_flags_without_a_region_draw_nothing_and_the_input_is_not_changed() -> None:
    image = grey()
    before = image.copy()
    marked = draw_flag_marks(image, [qa.Flag("low-confidence", "nothing kept")])
    assert not changed(image, marked).any() and not changed(before, image).any()


def test_a_cutout_keeps_its_transparency_with_the_marks_opaque() -> None:
    cutout = Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 0))
    region = np.zeros((SIZE, SIZE), bool)
    region[:, -1] = True
    marked = draw_flag_marks(cutout, [qa.Flag("touches-edge", "edge", region)])
    alpha = np.asarray(marked)[..., 3]
    assert marked.mode == "RGBA" and alpha[100, -1] == 255 and alpha[100, 100] == 0


def test_each_kind_has_its_own_colour() -> None:
    colours = [colour for colour, _word in STYLES.values()]
    assert len(set(colours)) == len(colours)
