"""Source quality checks: recompressed JPEGs, upscaled exports, soft or noisy outlines, missing profiles."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import ExifTags, Image, ImageDraw

from app.core import source_quality as sq
from app.core.decode import open_image
from app.core.export import ExportSettings, enlargement
from app.core.source_quality import SourceChecks, UpscaleRefused
from tests.imaging_fixtures import disc

SAMPLE = Path(__file__).resolve().parents[2] / "app" / "assets" / "sample-coffee.jpg"


def _jpeg(image: Image.Image, quality: int, exif: Image.Exif | None = None, **extra: object) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, exif=exif or Image.Exif(), **extra)
    return out.getvalue()


def _camera() -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make], exif[ExifTags.Base.Model] = "Canon", "EOS R6"
    return exif


def _product_shot(size: tuple[int, int]) -> tuple[Image.Image, Image.Image]:
    """The sample photo as a sharp-edged oval subject on a light backdrop, and its mask."""
    w, h = size
    ramp = np.linspace(215, 235, w, dtype=np.float32)
    backdrop = Image.fromarray(np.broadcast_to(ramp[None, :, None], (h, w, 3)).astype(np.uint8))
    with Image.open(SAMPLE) as sample:
        subject = sample.convert("RGB").resize((w // 2, 2 * h // 3))
    alpha = Image.new("L", size, 0)
    box = (w // 4, h // 6, w // 4 + subject.width, h // 6 + subject.height)
    ImageDraw.Draw(alpha).ellipse(box, fill=255)
    backdrop.paste(subject, box[:2], alpha.crop(box))
    return backdrop, alpha


def _assess(data: bytes, alpha: Image.Image, checks: SourceChecks = sq.DEFAULT_CHECKS) -> sq.SourceReport:
    decoded = open_image(data)
    return sq.assess(decoded.source, decoded.image, alpha, checks)


def _codes(report: sq.SourceReport) -> list[str]:
    return [flag.code for flag in report.flags]


# --- JPEG quality from the quantisation tables ----------------------------------------------------


@pytest.mark.parametrize("quality", range(30, 96))
def test_estimated_quality_is_the_quality_pillow_saved_with(quality: int) -> None:
    with Image.open(SAMPLE) as sample:
        saved = Image.open(io.BytesIO(_jpeg(sample, quality)))
    estimate = sq.estimate_quality(saved.quantization)
    assert estimate is not None and abs(estimate - quality) <= 2


def _disc(blur: float = 0.0, noise: float = 0.0, size: int = 1024) -> tuple[Image.Image, Image.Image]:
    return disc(blur, noise, size, seed=1)


def test_quality_of_a_file_without_tables_is_unknown() -> None:
    assert sq.estimate_quality(None) is None and sq.estimate_quality({}) is None
    assert open_image(_png(Image.new("RGB", (8, 8)))).source.jpeg_quality is None  # type: ignore[union-attr]


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def test_a_small_hard_recompressed_photo_without_metadata_is_flagged_as_a_messaging_app_copy() -> None:
    photo, alpha = _product_shot((4000, 3000))
    small = _jpeg(photo.resize((800, 600), Image.Resampling.LANCZOS), 35)
    report = _assess(small, alpha.resize((800, 600)))
    assert _codes(report) == ["recompressed"]
    message = report.flags[0].message
    assert "messaging app" in message and "800×600 px" in message and "quality about 35" in message
    assert report.score < 70


def test_the_same_12_megapixel_photo_at_quality_92_is_a_good_source() -> None:
    photo, alpha = _product_shot((4000, 3000))
    report = _assess(_jpeg(photo, 92, _camera()), alpha)
    assert report.flags == [] and report.score >= 95


def test_a_large_photo_saved_at_low_quality_is_flagged_without_the_messaging_wording() -> None:
    photo, alpha = _product_shot((2400, 1800))
    report = _assess(_jpeg(photo, 40, _camera()), alpha)
    assert _codes(report) == ["recompressed"]
    assert "quality about 40" in report.flags[0].message and "messaging" not in report.flags[0].message


def test_the_jpeg_check_can_be_switched_off_or_made_stricter_by_the_preset() -> None:
    photo, alpha = _product_shot((2400, 1800))
    data = _jpeg(photo, 70, _camera())
    assert _assess(data, alpha).flags == []
    assert _codes(_assess(data, alpha, SourceChecks(min_jpeg_quality=80))) == ["recompressed"]
    off = SourceChecks(checks=("upscale", "edges", "profile"))
    assert _assess(_jpeg(photo, 20), alpha, off).flags == []


# --- enlargement onto the export's canvas ---------------------------------------------------------


def test_a_900_px_source_on_a_2000_px_canvas_is_flagged_as_upscaled_by_2_2() -> None:
    alpha = Image.new("L", (900, 900), 255)  # the subject fills the photo
    factor, subject = enlargement(alpha, ExportSettings(format="jpg", canvas=(2000, 2000), fill=1.0))  # type: ignore[misc]
    assert subject == (900, 900) and factor == pytest.approx(2000 / 900)
    report = sq.assess(None, Image.new("RGB", (900, 900)), alpha, sq.DEFAULT_CHECKS, factor, subject)
    assert _codes(report) == ["upscaled"]
    assert report.flags[0].message.startswith("Upscaled 2.2×") and "900×900 px" in report.flags[0].message
    assert report.score < 70


def test_the_enlargement_follows_the_subject_the_fill_and_the_size_limit() -> None:
    alpha = Image.new("L", (1000, 1000), 0)
    alpha.paste(255, (250, 250, 750, 750))  # a 500 px subject
    assert enlargement(alpha, ExportSettings(canvas=(2000, 2000), fill=0.85)) == (pytest.approx(3.4), (500, 500))
    capped = ExportSettings(canvas=(2000, 2000), fill=0.85, max_size=(1000, 1000))
    assert enlargement(alpha, capped) == (pytest.approx(1.7), (500, 500))
    assert enlargement(alpha, ExportSettings(crop=True, max_size=(4000, 4000))) is None  # only a canvas enlarges


def test_a_small_enlargement_within_the_presets_limit_is_not_flagged() -> None:
    report = sq.assess(None, Image.new("RGB", (8, 8)), Image.new("L", (8, 8), 255), sq.DEFAULT_CHECKS, 1.2, (8, 8))
    assert report.flags == [] and 90 <= report.score < 100


def test_a_preset_that_refuses_upscaling_raises_a_clear_error_only_past_its_limit() -> None:
    strict = SourceChecks(max_upscale=1.5, refuse_upscale=True)
    sq.refuse_upscale(1.4, strict, "shoe.jpg")
    sq.refuse_upscale(2.2, SourceChecks(max_upscale=1.5), "shoe.jpg")  # flagged, not refused
    with pytest.raises(UpscaleRefused) as refused:
        sq.refuse_upscale(2.2, strict, "shoe.jpg", "shop-white")
    assert refused.value.code == "upscale_refused" and refused.value.path == "shoe.jpg"
    assert "the shop-white preset refuses to enlarge a photo more than 1.5×" in refused.value.message
    assert "upscaled 2.2×" in refused.value.message


# --- the subject's outline --------------------------------------------------------------------------


def test_a_sharp_clean_outline_raises_nothing() -> None:
    assert sq.assess(None, *_disc()).flags == []


def test_a_blurred_outline_is_flagged_as_soft() -> None:
    report = sq.assess(None, *_disc(blur=3))
    assert _codes(report) == ["soft-edge"] and "blurred" in report.flags[0].message
    assert report.score < 80


def test_heavy_grain_is_flagged_as_noisy() -> None:
    report = sq.assess(None, *_disc(noise=15))
    assert _codes(report) == ["noisy"] and "very grainy" in report.flags[0].message


def test_slight_grain_and_blur_pass() -> None:
    assert sq.assess(None, *_disc(blur=0.8, noise=3)).flags == []


# --- colour profile ---------------------------------------------------------------------------------


def _wide_gamut_exif(space: int | None = None, interop: str | None = None) -> Image.Exif:
    exif = _camera()
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    if space is not None:
        sub[ExifTags.Base.ColorSpace] = space
    if interop is not None:
        sub[ExifTags.IFD.Interop] = {1: interop}
    return exif


@pytest.mark.parametrize(("space", "interop"), [(0xFFFF, None), (None, "R03")])
def test_a_wide_gamut_camera_jpeg_without_its_profile_is_flagged(space: int | None, interop: str | None) -> None:
    photo, alpha = _product_shot((1600, 1200))
    report = _assess(_jpeg(photo, 92, _wide_gamut_exif(space, interop)), alpha)
    assert _codes(report) == ["no-profile"] and "Adobe RGB" in report.flags[0].message


def test_an_srgb_or_profiled_camera_jpeg_is_not_flagged() -> None:
    photo, alpha = _product_shot((1600, 1200))
    assert _assess(_jpeg(photo, 92, _wide_gamut_exif(1, "R98")), alpha).flags == []
    from app.core.colour import srgb_icc_bytes

    profiled = _jpeg(photo, 92, _wide_gamut_exif(0xFFFF), icc_profile=srgb_icc_bytes())
    assert _assess(profiled, alpha).flags == []


# --- a preset's configuration -----------------------------------------------------------------------


def test_source_checks_read_from_a_preset_file() -> None:
    checks = SourceChecks.from_dict({"checks": ["jpeg", "upscale"], "max_upscale": 1.5, "refuse_upscale": True,
                                     "min_jpeg_quality": 70})
    assert checks == SourceChecks(("jpeg", "upscale"), min_jpeg_quality=70, max_upscale=1.5, refuse_upscale=True)
    assert SourceChecks.from_dict(checks.as_dict()) == checks


@pytest.mark.parametrize(("raw", "words"), [
    ({"checks": ["jpeg", "sharpness"]}, "unknown source check(s) sharpness"),
    ({"max_upscale": 0.5}, "max_upscale must be at least 1"),
    ({"refuse_upscale": "yes"}, "refuse_upscale must be true or false"),
    ({"min_jpeg_quality": 60.5}, "min_jpeg_quality must be a whole number"),
    ({"tolerance": 3}, "unknown source_checks key(s) tolerance"),
    ([], "source_checks must be an object"),
])
def test_bad_source_checks_are_refused_with_the_reason(raw: object, words: str) -> None:
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
        SourceChecks.from_dict(raw)
