"""The page's pictures: the photo shrunk once per size, the mask per picture."""

from __future__ import annotations

import numpy as np
from PIL import Image

from app.desktop import pictures
from app.desktop.pictures import ShrunkPhoto, fitted


def _photo(w: int = 400, h: int = 300) -> Image.Image:
    rng = np.random.default_rng(3)
    return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), "RGB")


def test_fitted_keeps_the_aspect_and_never_enlarges():
    assert fitted((4000, 3000), 1024) == (1024, 768)
    assert fitted((300, 200), 1024) == (300, 200)


def test_the_photo_is_shrunk_once_per_size_and_served_again():
    photo = ShrunkPhoto(_photo())
    first = photo.at((200, 150))
    assert photo.at((200, 150)) is first
    assert photo.at((400, 300)) is photo.rgb  # its own size: no copy


def test_a_small_copy_comes_from_a_larger_one_and_matches_a_direct_shrink():
    rgb = _photo()
    photo = ShrunkPhoto(rgb)
    photo.at((200, 150))
    small = np.asarray(photo.at((100, 75)), dtype=np.int16)
    direct = np.asarray(rgb.resize((100, 75), Image.Resampling.BOX), dtype=np.int16)
    assert np.abs(small - direct).max() <= 2  # BOX of a BOX at whole factors: the same averages, rounded twice


def test_cutout_puts_the_shrunk_mask_on_the_shrunk_photo():
    rgb = _photo()
    mask = np.zeros((300, 400), np.uint8)
    mask[:, :200] = 255
    out = pictures.picture("cutout", ShrunkPhoto(rgb), Image.fromarray(mask, "L"), None, 200)
    assert out.mode == "RGBA" and out.size == (200, 150)
    alpha = np.asarray(out)[..., 3]
    assert alpha[:, :99].min() == 255 and alpha[:, 101:].max() == 0


def test_a_tile_is_cut_from_the_full_photo_not_a_shrunk_copy():
    rgb = _photo()
    photo = ShrunkPhoto(rgb)
    photo.at((200, 150))
    tile = pictures.picture("original", photo, None, (100, 50, 164, 114), (64, 64))
    assert np.array_equal(np.asarray(tile), np.asarray(rgb)[50:114, 100:164])


def test_the_original_preview_is_a_copy_the_caller_may_change():
    photo = ShrunkPhoto(_photo())
    out = pictures.picture("original", photo, None, None, 200)
    out.putpixel((0, 0), (1, 2, 3))
    assert out is not photo.at((200, 150))
