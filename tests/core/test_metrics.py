import math

import numpy as np
import pytest
from PIL import Image

from app.core import metrics


def square(size=40, left=10, top=10, side=20, shift=0):
    alpha = np.zeros((size, size), dtype=np.float32)
    alpha[top: top + side, left + shift: left + side + shift] = 1.0
    return alpha


def test_perfect_prediction_scores_iou_1_mae_0_sad_0_bf_1():
    gt = square()
    scores = metrics.score(gt.copy(), gt)
    assert scores == metrics.Scores(iou=1.0, mae=0.0, sad=0.0, bf=1.0, flatten_error=None)


def test_iou_thresholds_alpha_at_one_half():
    gt = np.array([[1.0, 1.0, 0.0, 0.0]])
    pred = np.array([[0.5, 0.49, 0.5, 0.0]])  # 0.5 counts as foreground, 0.49 does not
    assert metrics.iou(pred, gt) == pytest.approx(1 / 3)  # intersection 1, union 3


def test_mae_and_sad_by_hand():
    gt = np.array([[1.0, 0.0], [0.5, 0.0]])
    pred = np.array([[0.75, 0.25], [0.5, 1.0]])
    assert metrics.mae(pred, gt) == pytest.approx((0.25 + 0.25 + 0 + 1.0) / 4)
    assert metrics.sad(pred, gt) == pytest.approx(1.5 / 1000)


def test_as_alpha_maps_8bit_masks_to_0_1():
    alpha = metrics.as_alpha(Image.fromarray(np.array([[0, 128, 255]], dtype=np.uint8), "L"))
    assert alpha.dtype == np.float32
    assert alpha.tolist()[0] == pytest.approx([0.0, 128 / 255, 1.0])


def test_ignored_pixels_are_left_out_of_iou_mae_and_sad():
    gt = np.array([[1.0, 1.0, 0.0, 0.0]])
    pred = np.array([[1.0, 0.0, 1.0, 0.0]])  # wrong on the two middle pixels
    valid = np.array([[True, False, False, True]])
    assert metrics.iou(pred, gt, valid) == 1.0
    assert metrics.mae(pred, gt, valid) == 0.0
    assert metrics.sad(pred, gt, valid) == 0.0
    # without the ignore mask the same errors count
    assert metrics.iou(pred, gt) == pytest.approx(1 / 3)
    assert metrics.mae(pred, gt) == pytest.approx(0.5)


def test_only_some_ignored_pixels_still_average_over_the_rest():
    gt = np.zeros((1, 4))
    pred = np.array([[1.0, 1.0, 0.0, 0.0]])
    valid = np.array([[False, True, True, True]])
    assert metrics.mae(pred, gt, valid) == pytest.approx(1 / 3)


def test_empty_masks_give_numbers_not_nan():
    empty = np.zeros((8, 8))
    scores = metrics.score(empty, empty)
    assert (scores.iou, scores.mae, scores.sad, scores.bf) == (1.0, 0.0, 0.0, 1.0)
    missed = metrics.score(empty, square(8, 2, 2, 4))  # predicted nothing where there is a subject
    assert (missed.iou, missed.bf) == (0.0, 0.0)
    assert missed.mae == pytest.approx(16 / 64)
    spurious = metrics.score(square(8, 2, 2, 4), empty)
    assert (spurious.iou, spurious.bf) == (0.0, 0.0)


def test_everything_ignored_gives_numbers_not_nan():
    gt, pred = square(8, 2, 2, 4), np.zeros((8, 8))
    nothing = np.zeros((8, 8), dtype=bool)
    scores = metrics.score(pred, gt, nothing)
    assert not any(math.isnan(v) for v in (scores.iou, scores.mae, scores.sad, scores.bf))
    assert (scores.iou, scores.mae, scores.sad) == (1.0, 0.0, 0.0)


def test_boundary_is_the_one_pixel_ring_inside_the_object_not_the_image_frame():
    mask = np.zeros((6, 6), dtype=bool)
    mask[:, 3:] = True  # touches the top, bottom and right edges of the image
    ring = metrics.boundary(mask)
    assert ring[:, 3].all()
    assert np.count_nonzero(ring) == 6


def test_dilate_disk_is_euclidean():
    point = np.zeros((9, 9), dtype=bool)
    point[4, 4] = True
    disk = metrics.dilate_disk(point, 3)
    ys, xs = np.nonzero(disk)
    distances = np.hypot(ys - 4, xs - 4)
    assert distances.max() <= 3
    assert np.count_nonzero(disk) == 29  # lattice points with x² + y² ≤ 9
    assert disk[4, 1] and disk[1, 4] and disk[2, 2]  # (2,2) is √8 ≤ 3 from the centre
    assert not disk[1, 3]  # √10 > 3


def test_bf_tolerance_is_0_75_percent_of_the_diagonal_rounded_up():
    assert metrics.bf_tolerance((480, 640)) == 6  # diagonal 800 → 6.0
    assert metrics.bf_tolerance((481, 640)) == 7  # 6.004 rounds up
    assert metrics.bf_tolerance((40, 40)) == 1  # never below one pixel


def test_one_pixel_shift_stays_within_tolerance():
    gt = square()  # 40×40 image: tolerance 1 px
    assert metrics.boundary_f(square(shift=1), gt) == 1.0
    assert metrics.iou(square(shift=1), gt) < 1.0  # the area metric does see the shift


def test_shift_beyond_tolerance_lowers_bf_to_the_hand_counted_value():
    # Shifted 3 px right: of each 76-pixel ring only the top and bottom runs (18 each)
    # and two corner pixels of the far side are within 1 px of the other ring → 38/76.
    gt = square()
    assert metrics.boundary_f(square(shift=3), gt) == pytest.approx(0.5)
    assert metrics.boundary_f(square(shift=3), gt, tolerance=3) == 1.0


def brute_force_bf(pred, gt, tolerance):
    """Boundary F from all pairwise distances between boundary pixels (slow, obviously right)."""
    pb = np.argwhere(metrics.boundary(pred >= 0.5))
    gb = np.argwhere(metrics.boundary(gt >= 0.5))
    distances = np.hypot(*(pb[:, None, :] - gb[None, :, :]).transpose(2, 0, 1))
    precision = np.mean(distances.min(axis=1) <= tolerance)
    recall = np.mean(distances.min(axis=0) <= tolerance)
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


@pytest.mark.parametrize("seed", range(5))
def test_boundary_f_matches_a_brute_force_distance_check_on_random_blobs(seed):
    rng = np.random.default_rng(seed)
    # blocky random shapes: noise upsampled, so the boundaries wander and have holes
    gt = np.kron(rng.random((6, 8)) > 0.5, np.ones((6, 6))).astype(np.float32)
    pred = np.kron(rng.random((12, 16)) > 0.4, np.ones((3, 3))).astype(np.float32)
    for tolerance in (1, 2, 4):
        assert metrics.boundary_f(pred, gt, tolerance) == pytest.approx(brute_force_bf(pred, gt, tolerance))


def test_flatten_error_is_zero_for_a_perfect_matte_and_clean_colours():
    gt = np.full((5, 5), 1.0)
    gt[2, 2] = 0.5
    colours = np.full((5, 5, 3), 90, dtype=np.uint8)
    assert metrics.flatten_error(colours, gt.copy(), colours, gt) == 0.0


def test_flatten_error_averages_over_the_widened_edge_band():
    gt = np.full((5, 5), 1.0)
    gt[2, 2] = 0.5  # one soft pixel; the 3 px band covers the whole 5×5 image
    black = np.zeros((5, 5, 3), dtype=np.uint8)
    # predicted fully opaque: flatten shows 0 there, the truth 127.5 (half black, half white)
    assert metrics.flatten_error(black, np.ones((5, 5)), black, gt) == pytest.approx(127.5 / 25)


def test_flatten_error_sees_background_spill_in_the_photo_colours():
    gt = np.full((1, 3), 0.5)
    true_fg = np.zeros((1, 3, 3), dtype=np.uint8)
    photo = np.full((1, 3, 3), 100, dtype=np.uint8)  # the photo's edge pixels carry background colour
    assert metrics.flatten_error(photo, gt.copy(), true_fg, gt) == pytest.approx(50.0)


def test_flatten_error_is_none_for_a_hard_mask_and_skips_ignored_pixels():
    hard = square(8, 2, 2, 4)
    colours = np.zeros((8, 8, 3), dtype=np.uint8)
    assert metrics.flatten_error(colours, hard, colours, hard) is None
    soft = np.full((1, 2), 0.5)
    valid = np.array([[True, False]])
    pred = np.array([[0.5, 1.0]])  # wrong only on the ignored pixel
    assert metrics.flatten_error(np.zeros((1, 2, 3), np.uint8), pred, np.zeros((1, 2, 3), np.uint8),
                                 soft, valid) == 0.0


def test_score_refuses_different_sizes():
    with pytest.raises(ValueError, match="differ in size"):
        metrics.score(np.zeros((4, 4)), np.zeros((4, 5)))


def test_score_adds_the_flatten_error_only_with_both_colour_layers():
    gt = np.full((3, 3), 0.5)
    colours = np.zeros((3, 3, 3), dtype=np.uint8)
    assert metrics.score(gt, gt, photo=colours).flatten_error is None
    assert metrics.score(gt, gt, photo=colours, true_fg=colours).flatten_error == 0.0
