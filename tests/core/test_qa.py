"""app.core.qa: each flag fires on a constructed bad cutout and stays quiet on a clean one."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from app.core import qa

BG = (235, 238, 240)
RED = (200, 30, 40)
SIZE = 200


def disc(cy: float, cx: float, r: float, shape: tuple[int, int] = (SIZE, SIZE)) -> np.ndarray:
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r


def photo(subject: np.ndarray, colour: tuple[int, int, int] = RED) -> np.ndarray:
    rgb = np.empty((*subject.shape, 3), np.uint8)
    rgb[:] = BG
    rgb[subject] = colour
    return rgb


def alpha_of(binary: np.ndarray) -> np.ndarray:
    return np.where(binary, 255, 0).astype(np.uint8)


def codes(rgb: np.ndarray, alpha: np.ndarray) -> list[str]:
    return [f.code for f in qa.assess(rgb, alpha)]


def test_clean_disc_raises_no_flags() -> None:
    subject = disc(100, 100, 50)
    assert qa.assess(photo(subject), alpha_of(subject)) == []


def test_clean_ring_with_its_hole_cut_out_raises_no_flags() -> None:
    ring = disc(100, 100, 60) & ~disc(100, 100, 25)
    assert qa.assess(photo(ring), alpha_of(ring)) == []


def test_ring_whose_background_coloured_centre_is_kept_opaque_is_a_filled_hole() -> None:
    ring = disc(100, 100, 60) & ~disc(100, 100, 25)
    flags = qa.assess(photo(ring), alpha_of(disc(100, 100, 60)))
    assert [f.code for f in flags] == ["filled-hole"]
    assert "middle" in flags[0].message


def test_opaque_centre_in_a_different_colour_is_not_a_filled_hole() -> None:
    ring = disc(100, 100, 60) & ~disc(100, 100, 25)
    rgb = photo(ring)
    rgb[disc(100, 100, 25)] = (30, 40, 200)  # a blue label, not background
    assert "filled-hole" not in codes(rgb, alpha_of(disc(100, 100, 60)))


def test_subject_touching_the_left_edge_names_the_left_edge() -> None:
    subject = disc(100, 20, 50)
    flags = qa.assess(photo(subject), alpha_of(subject))
    assert [f.code for f in flags] == ["touches-edge"]
    assert "left edge" in flags[0].message
    assert "right" not in flags[0].message and "top" not in flags[0].message


def test_portrait_cut_at_the_bottom_names_only_the_bottom_edge() -> None:
    subject = disc(190, 100, 50)
    (flag,) = qa.assess(photo(subject), alpha_of(subject))
    assert flag.code == "touches-edge" and "bottom edge" in flag.message


def test_subject_in_two_corners_names_both_edges() -> None:
    subject = np.zeros((SIZE, SIZE), bool)
    subject[:, :60] = True
    subject[:60, :] = True
    (flag,) = [f for f in qa.assess(photo(subject), alpha_of(subject)) if f.code == "touches-edge"]
    assert "top" in flag.message and "left" in flag.message and "edges" in flag.message


def test_a_corner_barely_grazing_the_frame_is_not_touching() -> None:
    subject = disc(100, 100, 50) | disc(45, 100, 3)  # a 1-pixel graze at the top
    subject[0, 100] = True
    assert "touches-edge" not in codes(photo(subject), alpha_of(subject))


def test_scattered_pixels_along_a_side_are_not_a_cut_off_subject() -> None:
    subject = disc(100, 100, 50)
    subject[-1, ::6] = True  # dust along the bottom: many pixels, no run
    assert "touches-edge" not in codes(photo(subject), alpha_of(subject))


def test_two_discs_are_multiple_subjects() -> None:
    subject = disc(100, 50, 35) | disc(100, 150, 30)
    flags = qa.assess(photo(subject), alpha_of(subject))
    assert [f.code for f in flags] == ["multiple-subjects"]
    assert "2 separate" in flags[0].message


def test_a_speck_beside_the_subject_is_not_a_second_subject() -> None:
    subject = disc(100, 80, 50) | disc(30, 170, 3)
    assert "multiple-subjects" not in codes(photo(subject), alpha_of(subject))


def test_mask_overshooting_the_subject_into_the_background_is_a_halo() -> None:
    subject = disc(100, 100, 50)
    flags = qa.assess(photo(subject), alpha_of(disc(100, 100, 56)))
    assert [f.code for f in flags] == ["halo"]
    assert "white" in flags[0].message


def test_overshoot_onto_a_background_like_the_subject_is_not_a_visible_halo() -> None:
    subject = disc(100, 100, 50)
    rgb = photo(subject, colour=(236, 236, 241))  # almost the background colour: no rim can show
    assert "halo" not in codes(rgb, alpha_of(disc(100, 100, 56)))


def test_soft_edge_of_normal_width_is_confident() -> None:
    yy, xx = np.mgrid[:SIZE, :SIZE]
    dist = np.hypot(yy - 100, xx - 100)
    alpha = (np.clip((55 - dist) / 4, 0, 1) * 255).astype(np.uint8)  # a 4-pixel feathered edge
    assert qa.assess(photo(dist <= 53), alpha) == []


def test_wide_haze_of_half_transparent_pixels_is_low_confidence() -> None:
    yy, xx = np.mgrid[:SIZE, :SIZE]
    dist = np.hypot(yy - 100, xx - 100)
    alpha = (np.clip((80 - dist) / 60, 0, 1) * 255).astype(np.uint8)  # unsure over 60 pixels
    assert "low-confidence" in codes(photo(dist <= 50), alpha)


def test_a_cutout_that_kept_nothing_is_low_confidence() -> None:
    (flag,) = qa.assess(photo(disc(100, 100, 50)), np.full((SIZE, SIZE), 40, np.uint8))
    assert flag.code == "low-confidence" and "Nothing was kept" in flag.message


@pytest.mark.parametrize("size", [(3000, 4000), (10, 7)])
def test_large_and_tiny_images_are_assessed(size: tuple[int, int]) -> None:
    h, w = size
    subject = disc(h / 2, w / 2, min(h, w) / 4, (h, w))
    assert qa.assess(photo(subject), alpha_of(subject)) == []


def test_flag_as_dict_is_json_ready() -> None:
    flag = qa.Flag("halo", "a rim")
    assert flag.as_dict() == {"code": "halo", "message": "a rim"}


def _plant_beside_a_pot() -> tuple[np.ndarray, np.ndarray]:
    """A red pot the mask keeps and green leaves above it, on a plain backdrop, that it drops."""
    pot = disc(150, 100, 25)
    leaves = disc(100, 100, 45) & ~pot
    rgb = photo(pot)
    rgb[leaves] = (60, 150, 50)
    return rgb, pot


def test_part_of_the_subject_cut_away_on_a_plain_backdrop_is_left_out() -> None:
    rgb, pot = _plant_beside_a_pot()
    flags = [f for f in qa.assess(rgb, alpha_of(pot)) if f.code == "left-out"]
    assert len(flags) == 1 and "middle" in flags[0].message and "missing" in flags[0].message


def test_left_out_of_pillow_images_finds_what_assess_finds() -> None:
    rgb, pot = _plant_beside_a_pot()
    photo_img, alpha_img = Image.fromarray(rgb), Image.fromarray(alpha_of(pot))
    (flag,) = [f for f in qa.assess(rgb, alpha_of(pot)) if f.code == "left-out"]
    assert qa.left_out_of(photo_img, alpha_img) == flag
    whole = alpha_of(pot | (np.any(rgb != BG, axis=-1)))
    assert qa.left_out_of(photo_img, Image.fromarray(whole)) is None


def test_the_whole_subject_kept_is_not_left_out() -> None:
    rgb, pot = _plant_beside_a_pot()
    assert "left-out" not in codes(rgb, alpha_of(pot | (np.any(rgb != BG, axis=-1))))


def test_a_shadow_beside_the_subject_is_not_left_out() -> None:
    subject = disc(100, 80, 40)
    rgb = photo(subject)
    shadow = disc(115, 140, 45) & ~subject
    rgb[shadow] = (np.array(BG) * 0.55).astype(np.uint8)  # the backdrop's colour, darker
    assert "left-out" not in codes(rgb, alpha_of(subject))


def test_a_busy_background_is_not_judged_for_left_out_parts() -> None:
    rgb, pot = _plant_beside_a_pot()
    noise = np.random.default_rng(3).integers(0, 256, rgb.shape, dtype=np.uint8)
    busy = ~np.any(rgb != BG, axis=-1)
    rgb[busy] = noise[busy]  # a cluttered room instead of a backdrop
    assert "left-out" not in codes(rgb, alpha_of(pot))


def test_each_flag_knows_where_it_is() -> None:
    halo_flag, = qa.assess(photo(disc(100, 100, 50)), alpha_of(disc(100, 100, 56)))
    band = halo_flag.region
    assert band is not None and band.any()
    yy, xx = np.nonzero(band)
    radius = np.hypot(yy - band.shape[0] / 2, xx - band.shape[1] / 2)
    assert radius.min() >= 50 and radius.max() <= 57  # the overshoot, not the subject or the background
    ring = disc(100, 100, 60) & ~disc(100, 100, 25)
    hole, = qa.assess(photo(ring), alpha_of(disc(100, 100, 60)))
    assert hole.region is not None and hole.region[100, 100] and not hole.region[100, 170]
    edge = qa.touches_edge(alpha_of(disc(100, 20, 50)).astype(float) / 255)
    assert edge is not None and edge.region is not None
    assert edge.region[:, 0].any() and not edge.region[:, 1:].any()


def test_a_flags_region_does_not_change_equality_or_its_dict() -> None:
    marked = qa.Flag("halo", "a rim", np.ones((2, 2), bool))
    assert marked == qa.Flag("halo", "a rim") and marked.as_dict() == {"code": "halo", "message": "a rim"}
