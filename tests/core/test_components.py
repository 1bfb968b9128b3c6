"""app.core.components and app.core.morphology: labelling and square dilation/erosion without scipy."""

from __future__ import annotations

import numpy as np

from app.core.components import label
from app.core.morphology import grow, shrink


def flood_labels(binary: np.ndarray) -> np.ndarray:
    """Reference 8-connected labelling by flood fill, numbered in raster order."""
    h, w = binary.shape
    out = np.zeros((h, w), int)
    n = 0
    for y in range(h):
        for x in range(w):
            if binary[y, x] and not out[y, x]:
                n += 1
                out[y, x] = n
                stack = [(y, x)]
                while stack:
                    cy, cx = stack.pop()
                    for ny in range(max(0, cy - 1), min(h, cy + 2)):
                        for nx in range(max(0, cx - 1), min(w, cx + 2)):
                            if binary[ny, nx] and not out[ny, nx]:
                                out[ny, nx] = n
                                stack.append((ny, nx))
    return out


def test_labels_match_a_flood_fill_on_random_masks() -> None:
    rng = np.random.default_rng(3)
    for _ in range(60):
        binary = rng.random((int(rng.integers(1, 25)), int(rng.integers(1, 25)))) < rng.random()
        expected = flood_labels(binary)
        parts = label(binary)
        assert np.array_equal(parts.labels, expected)
        assert parts.count == expected.max()
        assert parts.areas[1:].tolist() == np.bincount(expected.ravel(), minlength=parts.count + 1)[1:].tolist()


def test_diagonal_neighbours_are_connected() -> None:
    assert label(np.eye(5, dtype=bool)).count == 1


def test_a_spiral_is_one_component() -> None:
    binary = np.zeros((9, 9), bool)
    binary[0, :] = binary[:, 8] = binary[8, :] = binary[2:, 0] = binary[2, :7] = binary[2:7, 6] = True
    assert label(binary).count == 1


def test_empty_mask_has_no_components() -> None:
    parts = label(np.zeros((4, 6), bool))
    assert parts.count == 0 and not parts.labels.any() and parts.on_border().size == 0


def test_masks_pixels_and_border_come_from_the_runs() -> None:
    binary = np.zeros((8, 8), bool)
    binary[0, 2:4] = True  # 1: on the top edge
    binary[3:5, 3:5] = True  # 2: inside
    binary[6, 7] = True  # 3: on the right edge
    parts = label(binary)
    assert parts.on_border().tolist() == [1, 3]
    keep = np.array([False, False, True, False])
    assert np.array_equal(parts.mask(keep), parts.labels == 2)
    ys, xs, ids = parts.pixels(keep)
    assert sorted(zip(ys.tolist(), xs.tolist(), strict=True)) == [(3, 3), (3, 4), (4, 3), (4, 4)]
    assert set(ids.tolist()) == {2}
    assert parts.labels_at(np.array([6, 0]), np.array([7, 3])).tolist() == [3, 1]


def test_grow_and_shrink_by_a_square() -> None:
    binary = np.zeros((9, 9), bool)
    binary[4, 4] = True
    assert np.array_equal(np.argwhere(grow(binary, 2)).min(0), [2, 2])
    assert grow(binary, 2).sum() == 25
    block = grow(binary, 3)
    assert np.array_equal(shrink(block, 3), binary)
    full = np.ones((5, 5), bool)
    assert shrink(full, 1).sum() == 9  # the frame counts as outside
