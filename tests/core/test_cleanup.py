"""app.core.cleanup: specks go, pinholes close, background seen through a gap is punched out."""

from __future__ import annotations

import numpy as np
from PIL import Image

from app.core import cleanup
from app.core.export import ExportSettings

BG = (235, 238, 240)
RED = (200, 30, 40)


def disc(cy: float, cx: float, r: float, shape: tuple[int, int] = (200, 200)) -> np.ndarray:
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r


def alpha_of(binary: np.ndarray) -> np.ndarray:
    return np.where(binary, 255, 0).astype(np.uint8)


def photo(subject: np.ndarray, colour: tuple[int, int, int] = RED) -> Image.Image:
    rgb = np.empty((*subject.shape, 3), np.uint8)
    rgb[:] = BG
    rgb[subject] = colour
    return Image.fromarray(rgb, "RGB")


# ------------------------------------------------------------------ specks


def test_speck_removal_keeps_the_subject_and_removes_a_3_pixel_island() -> None:
    subject = disc(100, 80, 50)
    alpha = alpha_of(subject)
    alpha[180, 180:183] = 255  # three opaque pixels in the far corner
    out = cleanup.remove_specks(alpha)
    assert out[180, 180:183].tolist() == [0, 0, 0]
    assert np.array_equal(out > 0, subject)


def test_a_small_part_close_to_the_subject_is_kept() -> None:
    alpha = alpha_of(disc(100, 80, 50))
    alpha[100, 133:135] = 255  # a 2-pixel button 3 px off the edge
    assert cleanup.remove_specks(alpha)[100, 133:135].tolist() == [255, 255]


def test_an_island_joined_by_faint_pixels_is_part_of_the_subject() -> None:
    alpha = alpha_of(disc(100, 60, 40))
    alpha[100, 100:180] = 20  # a faint strand of hair ...
    alpha[100, 180:183] = 255  # ... ending in an opaque tip far away
    assert cleanup.remove_specks(alpha)[100, 181] == 255


def test_two_comparable_subjects_both_stay() -> None:
    alpha = alpha_of(disc(100, 45, 30) | disc(100, 160, 25))
    assert np.array_equal(cleanup.remove_specks(alpha), alpha)


def test_a_mask_without_islands_comes_back_unchanged() -> None:
    alpha = alpha_of(disc(100, 100, 50))
    assert cleanup.remove_specks(alpha) is alpha


# ------------------------------------------------------------------ pinholes


def test_a_one_pixel_pinhole_inside_solid_subject_is_filled() -> None:
    alpha = alpha_of(disc(100, 100, 50))
    alpha[100, 100] = 0
    alpha[101, 100] = 90  # its half-transparent rim too
    out = cleanup.fill_pinholes(alpha)
    assert out[100, 100] == 255 and out[101, 100] == 255
    assert np.array_equal(out > 0, disc(100, 100, 50))


def test_a_real_hole_is_not_a_pinhole() -> None:
    ring = disc(100, 100, 60) & ~disc(100, 100, 25)
    assert np.array_equal(cleanup.fill_pinholes(alpha_of(ring)), alpha_of(ring))


def test_gaps_between_soft_strands_stay_open() -> None:
    alpha = alpha_of(disc(100, 100, 50))
    alpha[60:80, 60:140] = 150  # a soft, furry band ...
    alpha[70, 100] = 0  # ... with a gap in it
    assert cleanup.fill_pinholes(alpha)[70, 100] == 0


def test_a_pinhole_showing_the_background_colour_stays_open() -> None:
    subject = disc(100, 100, 50)
    subject[100, 100] = False  # the photo shows background through it: a real mesh hole
    alpha = alpha_of(subject)
    assert cleanup.fill_pinholes(alpha, photo(subject))[100, 100] == 0
    assert cleanup.fill_pinholes(alpha)[100, 100] == 255  # without the photo it cannot tell


# ------------------------------------------------------------------ holes


def test_background_inside_a_ring_is_punched_out_and_the_ring_kept() -> None:
    ring = disc(100, 100, 60) & ~disc(100, 100, 25)
    out = np.asarray(cleanup.punch_holes(photo(ring), Image.fromarray(alpha_of(disc(100, 100, 60)))))
    assert out[100, 100] == 0
    assert (out[ring] == 255).all()
    assert (out[~disc(100, 100, 60)] == 0).all()


def test_punched_edge_follows_the_photo_softly() -> None:
    ring = disc(100, 100, 60) & ~disc(100, 100, 25)
    rgb = np.array(photo(ring))
    edge = disc(100, 100, 25.5) & ~disc(100, 100, 24.5)
    rgb[edge] = (np.array(RED) * 0.5 + np.array(BG) * 0.5).astype(np.uint8)  # anti-aliased rim
    out = np.asarray(cleanup.punch_holes(Image.fromarray(rgb), Image.fromarray(alpha_of(disc(100, 100, 60)))))
    rim = out[edge]
    assert ((rim > 0) & (rim < 255)).mean() > 0.5


def test_a_differently_coloured_centre_is_not_punched() -> None:
    ring = disc(100, 100, 60) & ~disc(100, 100, 25)
    rgb = np.array(photo(ring))
    rgb[disc(100, 100, 25)] = (30, 40, 200)
    alpha = Image.fromarray(alpha_of(disc(100, 100, 60)))
    assert np.array_equal(np.asarray(cleanup.punch_holes(Image.fromarray(rgb), alpha)), np.asarray(alpha))


def test_nothing_is_punched_on_a_busy_background() -> None:
    rng = np.random.default_rng(1)
    ring = disc(100, 100, 60) & ~disc(100, 100, 25)
    rgb = rng.integers(0, 256, (200, 200, 3), dtype=np.uint8)
    rgb[ring] = RED
    alpha = Image.fromarray(alpha_of(disc(100, 100, 60)))
    assert np.array_equal(np.asarray(cleanup.punch_holes(Image.fromarray(rgb), alpha)), np.asarray(alpha))


def test_holes_found_on_the_small_copy_are_punched_at_full_resolution() -> None:
    shape = (1500, 2000)
    ring = disc(750, 1000, 500, shape) & ~disc(750, 1000, 200, shape)
    out = np.asarray(cleanup.punch_holes(photo(ring), Image.fromarray(alpha_of(disc(750, 1000, 500, shape)))))
    assert out[750, 1000] == 0 and out[750, 1000 + 190] == 0
    assert out[750, 1000 + 215] == 255 and out[750, 1000 + 480] == 255


def test_clean_applies_only_what_is_asked() -> None:
    ring = disc(100, 100, 60) & ~disc(100, 100, 25)
    alpha = alpha_of(disc(100, 100, 60))
    alpha[190, 5] = 255  # a speck
    img = Image.fromarray(alpha)
    none = np.asarray(cleanup.clean(photo(ring), img))
    both = np.asarray(cleanup.clean(photo(ring), img, specks=True, holes=True))
    assert np.array_equal(none, alpha)
    assert both[190, 5] == 0 and both[100, 100] == 0 and both[100, 50] == 255


def test_a_white_clock_face_in_a_dark_rim_on_white_is_punched_which_is_why_it_is_opt_in() -> None:
    rim = disc(100, 100, 60) & ~disc(100, 100, 45)
    rgb = np.array(photo(rim, colour=(20, 20, 20)))  # the face inside the rim is background-white
    alpha = Image.fromarray(alpha_of(disc(100, 100, 60)))  # the model rightly keeps the whole clock
    assert np.asarray(cleanup.punch_holes(Image.fromarray(rgb), alpha))[100, 100] == 0
    assert cleanup.clean(Image.fromarray(rgb), alpha) is alpha  # the default leaves it alone
    assert ExportSettings().punch_holes is False
