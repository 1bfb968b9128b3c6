import numpy as np
from PIL import Image

from app.core import decontaminate
from app.core.compose import Cutout
from app.core.decontaminate import estimate_foreground
from app.core.export import ExportSettings, render

RED = np.array([200, 30, 30], np.float32)
GREEN = np.array([30, 180, 40], np.float32)


def _composite(width=200, height=120, start=90, ramp=20):
    """A red subject over green, blended in a soft edge ramp exactly as a camera would see it."""
    x = np.arange(width, dtype=np.float32)
    alpha = np.tile(np.clip((x - start) / ramp, 0, 1), (height, 1))
    photo = alpha[..., None] * RED + (1 - alpha[..., None]) * GREEN
    return (Image.fromarray((photo + 0.5).astype(np.uint8)), Image.fromarray((alpha * 255 + 0.5).astype(np.uint8)),
            alpha)


def test_soft_edge_gets_the_subjects_colour_back():
    photo, alpha_img, alpha = _composite()
    band = (alpha > 0.05) & (alpha < 0.95)
    raw_error = np.abs(np.asarray(photo, np.float32) - RED)[band].mean()
    fixed = np.asarray(estimate_foreground(photo, alpha_img), np.float32)
    assert np.abs(fixed - RED)[band].mean() < raw_error / 8


def test_flattening_onto_white_shows_no_rim_of_the_old_background():
    photo, alpha_img, alpha = _composite()
    band = (alpha > 0.05) & (alpha < 0.95)
    truth = alpha[..., None] * RED + (1 - alpha[..., None]) * 255

    def flat_error(decontaminate: bool) -> float:
        out = render(Cutout(photo, alpha_img), ExportSettings(format="jpg", decontaminate=decontaminate))
        return float(np.abs(np.asarray(out, np.float32) - truth)[band].mean())

    assert flat_error(False) > 15  # the green rim
    assert flat_error(True) < 3


def test_opaque_and_transparent_pixels_are_left_alone():
    photo, alpha_img, alpha = _composite()
    before, after = np.asarray(photo), np.asarray(estimate_foreground(photo, alpha_img))
    hard = (alpha == 0) | (alpha == 1)
    assert np.array_equal(before[hard], after[hard])


def test_a_hard_edged_matte_returns_the_photo_untouched():
    photo = Image.new("RGB", (50, 40), (10, 200, 30))
    alpha = Image.new("L", (50, 40), 0)
    alpha.paste(255, (10, 10, 40, 30))
    assert estimate_foreground(photo, alpha) is photo


def test_a_photo_larger_than_the_working_size_still_gets_its_colour_back(monkeypatch):
    monkeypatch.setattr(decontaminate, "WORK_SIDE", 80)  # the upsampled estimate, pasted in blocks
    photo, alpha_img, alpha = _composite()
    band = (alpha > 0.05) & (alpha < 0.95)
    raw_error = np.abs(np.asarray(photo, np.float32) - RED)[band].mean()
    fixed = np.asarray(estimate_foreground(photo, alpha_img), np.float32)
    assert np.abs(fixed - RED)[band].mean() < raw_error / 8


def test_tile_size_does_not_change_the_result(monkeypatch):
    photo, alpha_img, _ = _composite(width=300, height=170, start=120, ramp=40)
    monkeypatch.setattr(decontaminate, "WORK_SIDE", 150)
    monkeypatch.setattr(decontaminate, "TILE", 16)
    small = np.asarray(estimate_foreground(photo, alpha_img)).astype(int)
    monkeypatch.setattr(decontaminate, "TILE", 1000)
    whole = np.asarray(estimate_foreground(photo, alpha_img)).astype(int)
    assert np.abs(small - whole).max() <= 1


def test_a_large_photo_keeps_its_own_detail_in_a_wide_soft_area(monkeypatch):
    """Motion blur or glass: the soft area's texture must survive (only a smooth shift is added)."""
    monkeypatch.setattr(decontaminate, "WORK_SIDE", 50)
    rng = np.random.default_rng(3)
    texture = rng.integers(-25, 26, (120, 200, 1)).astype(np.float32)
    photo = Image.fromarray(np.clip(np.full((120, 200, 3), 128, np.float32) + texture, 0, 255).astype(np.uint8))
    alpha = Image.new("L", (200, 120), 0)
    alpha.paste(255, (0, 0, 60, 120))
    alpha.paste(150, (60, 0, 200, 120))  # a wide, evenly semi-transparent area
    before = np.asarray(photo, np.float32)[:, 80:180]
    after = np.asarray(estimate_foreground(photo, alpha), np.float32)[:, 80:180]
    detail = np.corrcoef(before[..., 0].ravel(), after[..., 0].ravel())[0, 1]
    assert detail > 0.9
