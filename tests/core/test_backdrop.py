"""app.core.backdrop: fitting a plain backdrop and recovering subject parts cut away from it."""

from __future__ import annotations

import numpy as np
from PIL import Image

from app.core import backdrop
from app.core.morphology import shrink

GREY = (200, 202, 205)


def _scene(background: np.ndarray | None = None) -> tuple[Image.Image, np.ndarray, np.ndarray, np.ndarray]:
    """A red pot (kept) with green leaves above it (dropped by the 'model') and a shadow."""
    h, w = 240, 320
    yy, xx = np.mgrid[:h, :w]
    pot = (yy - 170) ** 2 + (xx - 160) ** 2 <= 40 ** 2
    leaves = ((yy - 100) ** 2 / 50 ** 2 + (xx - 160) ** 2 / 70 ** 2 <= 1) & ~pot
    shadow = ((yy - 205) ** 2 / 15 ** 2 + (xx - 230) ** 2 / 60 ** 2 <= 1) & ~pot
    rgb = np.empty((h, w, 3), np.uint8)
    rgb[:] = GREY if background is None else background
    rgb[shadow] = (np.array(GREY) * 0.5).astype(np.uint8)  # the backdrop's colour, darker
    rgb[pot] = (190, 40, 30)
    rgb[leaves] = (50, 140, 40)
    return Image.fromarray(rgb), pot, leaves, shadow


def test_a_plain_backdrop_is_fitted_without_the_parts_the_model_dropped():
    photo, pot, leaves, _ = _scene()
    fitted = backdrop.fit(np.asarray(photo, np.float32), pot.astype(np.float32))
    assert fitted is not None
    assert np.abs(fitted.colour - np.array(GREY)).max() < 2  # the leaves are not taken for backdrop
    assert not fitted.kept[leaves].any() and fitted.noise < 1


def test_dropped_leaves_come_back_and_the_shadow_stays_out():
    photo, pot, leaves, shadow = _scene()
    alpha = Image.fromarray(np.where(pot, 255, 0).astype(np.uint8))
    out = np.asarray(backdrop.recover(photo, alpha))
    core = shrink(leaves, 2)
    assert out[core].min() >= 240  # the leaves, away from their anti-aliased rim
    assert out[shadow].max() == 0
    assert (out[pot] == 255).all()
    far = np.ones_like(pot)
    far[40:230, 70:300] = False
    assert out[far].max() == 0  # the empty backdrop stays clear


def test_recovery_only_raises_opacity_and_leaves_the_backdrop_clear():
    photo, pot, _, shadow = _scene()
    alpha = np.where(pot, 255, 0).astype(np.uint8)
    alpha[:20, :20] = 90  # a stray half-transparent patch on the backdrop is not removed either
    out = np.asarray(backdrop.recover(photo, Image.fromarray(alpha)))
    assert (out >= alpha).all()
    assert (out[:20, :20] == 90).all() and out[shadow].max() == 0


def test_a_busy_background_is_not_a_backdrop():
    noise = np.random.default_rng(5).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    photo, pot, _, _ = _scene(background=noise)
    busy = np.array(photo)
    busy[~pot] = noise[~pot]
    alpha = Image.fromarray(np.where(pot, 255, 0).astype(np.uint8))
    assert backdrop.recover(Image.fromarray(busy), alpha) is None


def test_large_photos_recover_the_same_as_small_ones():
    photo, pot, leaves, _ = _scene()
    alpha = Image.fromarray(np.where(pot, 255, 0).astype(np.uint8))
    big_photo = photo.resize((1280, 960), Image.Resampling.NEAREST)  # fitted on a reduced copy
    big = np.asarray(backdrop.recover(big_photo, alpha.resize((1280, 960), Image.Resampling.NEAREST)))
    small = np.asarray(backdrop.recover(photo, alpha))
    assert abs(big.mean() - small.mean()) < 3
    big_leaves = np.asarray(Image.fromarray(leaves).resize((1280, 960), Image.Resampling.NEAREST))
    assert np.median(big[big_leaves]) == 255
