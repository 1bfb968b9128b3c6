import numpy as np
from PIL import Image

from app.core import refine
from app.core.refine import RefineSettings, box_mean, refine_alpha


def _step_photo(width=120, height=80, edge=70):
    """Dark background left of ``edge``, a bright object right of it."""
    arr = np.zeros((height, width, 3), np.uint8)
    arr[:, :edge] = (30, 40, 50)
    arr[:, edge:] = (220, 200, 180)
    return Image.fromarray(arr)


def _blurry_prob(width=120, height=80, centre=68, softness=8.0):
    """The model's answer: a soft ramp centred two pixels off the true edge."""
    x = np.arange(width, dtype=np.float32)
    ramp = 1 / (1 + np.exp(-(x - centre) / softness * 4))
    return np.tile(ramp, (height, 1)).astype(np.float32)


def test_box_mean_matches_a_direct_window_average():
    rng = np.random.default_rng(0)
    x = rng.random((9, 11)).astype(np.float32)
    r = 1
    padded = np.pad(x, r, mode="edge")
    direct = np.array([[padded[i:i + 3, j:j + 3].mean() for j in range(11)] for i in range(9)])
    assert np.allclose(box_mean(x, r), direct, atol=1e-6)


def test_refined_edge_snaps_to_the_photo_edge_and_is_sharper():
    photo, prob = _step_photo(), _blurry_prob()
    plain = np.asarray(Image.fromarray((prob * 255).astype(np.uint8)))[40]
    alpha = np.asarray(refine_alpha(prob, photo))[40].astype(int)
    assert alpha[:60].max() == 0 and alpha[75:].min() == 255
    crossing = int(np.argmax(alpha >= 128))
    assert abs(crossing - 70) <= 1, "the 50 % point moves to the photo's edge"
    soft_refined = int(((alpha > 5) & (alpha < 250)).sum())
    soft_plain = int(((plain > 5) & (plain < 250)).sum())
    assert soft_refined <= soft_plain * 0.75


def test_uniform_regions_keep_the_models_decision():
    photo = Image.new("RGB", (64, 48), (120, 130, 140))
    alpha = np.asarray(refine_alpha(np.ones((32, 32), np.float32), photo))
    assert alpha.min() == 255
    alpha = np.asarray(refine_alpha(np.zeros((32, 32), np.float32), photo))
    assert alpha.max() == 0


def _everywhere(prob, photo):
    """Reference: apply the upsampled coefficients to every full-resolution pixel."""
    s = RefineSettings()
    work = refine._work_size(photo.size)
    guide = np.asarray(photo.resize(work, Image.Resampling.BILINEAR, reducing_gap=3.0), np.float32) / 255
    p = np.asarray(Image.fromarray(prob, "F").resize(work, Image.Resampling.BILINEAR))
    coeffs = refine.guided_coefficients(guide, p, s.radius, s.eps)
    a = [np.asarray(Image.fromarray(np.ascontiguousarray(coeffs[..., i]), "F").resize(photo.size,
                                                                                      Image.Resampling.BILINEAR))
         for i in range(4)]
    rgb = np.asarray(photo, np.float32) / 255
    return refine._curve(a[0] * rgb[..., 0] + a[1] * rgb[..., 1] + a[2] * rgb[..., 2] + a[3], s)


def test_edge_blocks_only_give_the_same_alpha_as_a_full_pass(monkeypatch):
    monkeypatch.setattr(refine, "WORK_SIDE", 100)
    monkeypatch.setattr(refine, "TILE", 32)
    photo = _step_photo(400, 300, edge=190)
    yy, xx = np.mgrid[0:300, 0:400]
    disc = ((xx - 260) ** 2 + (yy - 150) ** 2 < 60 ** 2)
    arr = np.array(photo)
    arr[disc] = (90, 160, 220)  # a second, round subject
    photo = Image.fromarray(arr)
    prob = np.asarray(Image.fromarray(((np.asarray(photo.convert("L")) > 80) * 255).astype(np.uint8))
                      .resize((64, 64), Image.Resampling.BILINEAR), np.float32) / 255
    fast = np.asarray(refine_alpha(prob, photo)).astype(int)
    assert np.abs(fast - _everywhere(prob, photo).astype(int)).max() <= 2


def test_large_photos_are_fitted_at_the_working_resolution(monkeypatch):
    monkeypatch.setattr(refine, "WORK_SIDE", 50)
    photo = _step_photo(400, 200, edge=230)
    alpha = refine_alpha(_blurry_prob(64, 32, centre=37, softness=2), photo, RefineSettings())
    assert alpha.size == (400, 200) and alpha.mode == "L"
    row = np.asarray(alpha)[100]
    assert row[:200].max() < 10 and row[260:].min() > 245
