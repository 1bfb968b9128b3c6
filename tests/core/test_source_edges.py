"""Edge width and grain around a mask's outline, calibrated on synthetic edges."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from app.core.source_edges import EDGE_SIDE, measure_edges, noise_level
from tests.imaging_fixtures import disc


def _disc(blur: float = 0.0, noise: float = 0.0, size: int = 1024) -> tuple[Image.Image, Image.Image]:
    return disc(blur, noise, size, seed=2)


def test_a_sharp_edge_measures_under_two_pixels_with_or_without_grain() -> None:
    for noise in (0, 8, 25):
        measure = measure_edges(*_disc(noise=noise))
        assert measure is not None and measure.width is not None and measure.width < 2.0


def test_the_width_grows_with_the_blur_and_grain_does_not_hide_it() -> None:
    widths = [measure_edges(*_disc(blur=blur)).width for blur in (1, 2, 3, 5)]  # type: ignore[union-attr]
    assert widths == sorted(widths) and 2.3 < widths[0] < 3.5 and widths[-1] > 10
    noisy = measure_edges(*_disc(blur=3, noise=15))
    assert noisy is not None and noisy.width is not None and noisy.width > 6


@pytest.mark.parametrize("sigma", [3, 8, 15, 25])
def test_grain_is_measured_as_its_standard_deviation(sigma: float) -> None:
    grey = np.full((512, 512), 128, np.float32) + np.random.default_rng(3).normal(0, sigma, (512, 512))
    assert noise_level(grey.astype(np.float32)) == pytest.approx(sigma, rel=0.12)


def test_a_smooth_shade_and_a_clean_edge_have_no_grain() -> None:
    ramp = np.tile(np.linspace(0, 255, 400, dtype=np.float32), (300, 1))
    assert noise_level(ramp) == pytest.approx(0, abs=0.1)


def test_a_large_photo_is_judged_at_the_working_size() -> None:
    """A sharp edge on a 4096 px photo is still sharp: the measure is made at EDGE_SIDE."""
    photo, alpha = _disc(size=4 * EDGE_SIDE)
    measure = measure_edges(photo, alpha)
    assert measure is not None and measure.width is not None and measure.width < 2.0


def test_no_subject_and_no_contrast_give_no_width() -> None:
    photo, _alpha = _disc()
    assert measure_edges(photo, Image.new("L", photo.size, 0)) is None
    flat = Image.new("RGB", (256, 256), (128, 128, 128))
    alpha = Image.new("L", (256, 256), 0)
    ImageDraw.Draw(alpha).ellipse((64, 64, 192, 192), fill=255)
    measure = measure_edges(flat, alpha)
    assert measure is not None and measure.width is None and measure.noise == 0
