"""app.core.colour (through open_image where it matters): every embedded profile ends up as sRGB.

The profiles are built inside the tests (tests/imaging_fixtures.py): Display P3 and Adobe
RGB (1998) as ICC v2 matrix/TRC profiles, and a CMYK lut16 profile whose inks are
deliberately "wrong" so we can tell that the decoder really used it.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

from app.core import colour
from app.core.decode import open_image
from tests.imaging_fixtures import (
    ADOBE_RGB_1998,
    DISPLAY_P3,
    cmyk_lut_profile,
    grey_profile,
    near,
    profile_description,
    rgb_matrix_profile,
    swapped_ink_rgb,
)

PATCH = 16
SRGB_COLOURS = [
    (220, 30, 30), (30, 160, 60), (40, 60, 200), (250, 220, 40),
    (128, 128, 128), (255, 255, 255), (0, 0, 0), (90, 200, 230),
]


def _patches(colours: list[tuple[int, ...]], mode: str = "RGB") -> Image.Image:
    img = Image.new(mode, (PATCH * len(colours), PATCH))
    for i, c in enumerate(colours):
        img.paste(c, (i * PATCH, 0, (i + 1) * PATCH, PATCH))
    return img


def _centres(img: Image.Image, count: int) -> list[tuple[int, ...]]:
    return [img.getpixel((i * PATCH + PATCH // 2, PATCH // 2)) for i in range(count)]


def _into_profile(srgb: Image.Image, icc: bytes) -> Image.Image:
    target = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    return ImageCms.profileToProfile(
        srgb, colour.SRGB_PROFILE, target, renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC
    )


# --------------------------------------------------------------------------- wide-gamut RGB


@pytest.mark.parametrize("primaries, name", [(DISPLAY_P3, "Test Display P3"),
                                             (ADOBE_RGB_1998, "Test Adobe RGB (1998)")])
@pytest.mark.parametrize("fmt, tolerance", [("PNG", 3), ("JPEG", 5)])  # 8-bit storage rounds
def test_wide_gamut_profile_is_converted_back_to_srgb(
    tmp_path: Path, primaries: tuple, name: str, fmt: str, tolerance: int
) -> None:
    icc = rgb_matrix_profile(primaries, name)
    assert profile_description(icc) == name
    stored = _into_profile(_patches(SRGB_COLOURS), icc)
    path = tmp_path / f"wide.{fmt.lower()}"
    extra = {"quality": 97, "subsampling": 0} if fmt == "JPEG" else {}
    stored.save(path, format=fmt, icc_profile=icc, **extra)

    decoded = open_image(path)

    out = _centres(decoded.image, len(SRGB_COLOURS))
    for got, want in zip(out, SRGB_COLOURS, strict=True):
        assert near(got, want, tolerance), (got, want)
    # The stored values really are different: decoding without conversion would be wrong.
    raw = _centres(stored, len(SRGB_COLOURS))
    assert np.abs(np.array(raw) - np.array(SRGB_COLOURS)).max() > 15
    assert decoded.colour_note == f"{name} → sRGB"
    assert decoded.warnings == []


def test_palette_image_with_a_profile_is_converted(tmp_path: Path) -> None:
    icc = rgb_matrix_profile(ADOBE_RGB_1998, "Test Adobe RGB (1998)")
    stored = _into_profile(_patches(SRGB_COLOURS[:3]), icc)
    path = tmp_path / "palette.png"
    stored.quantize(colors=3, method=Image.Quantize.MEDIANCUT).save(path, icc_profile=icc)

    decoded = open_image(path)

    assert decoded.source_mode == "P"
    for got, want in zip(_centres(decoded.image, 3), SRGB_COLOURS[:3], strict=True):
        assert near(got, want, 3)


def test_greyscale_profile_is_applied(tmp_path: Path) -> None:
    # Linear (gamma 1.0) grey 128 is 50% light, which sRGB encodes as about 188.
    path = tmp_path / "linear-grey.png"
    Image.new("L", (4, 4), 128).save(path, icc_profile=grey_profile(1.0, "Linear Grey"))

    decoded = open_image(path)

    assert decoded.image.mode == "RGB"
    assert near(decoded.image.getpixel((1, 1)), (188, 188, 188), 1)
    assert decoded.colour_note == "Linear Grey → sRGB"


def test_srgb_tagged_image_is_not_transformed(tmp_path: Path) -> None:
    path = tmp_path / "srgb.png"
    img = _patches(SRGB_COLOURS)
    img.save(path, icc_profile=colour.srgb_icc_bytes())

    decoded = open_image(path)

    assert decoded.image.tobytes() == img.tobytes()
    assert decoded.colour_note.endswith("(sRGB)")


def test_unusable_profile_gives_a_warning_and_keeps_pixels(tmp_path: Path) -> None:
    path = tmp_path / "bad-profile.png"
    Image.new("RGB", (2, 2), (200, 10, 10)).save(path, icc_profile=b"not an ICC profile" * 10)

    decoded = open_image(path)

    assert decoded.image.getpixel((0, 0)) == (200, 10, 10)
    assert any("colour profile is unusable" in w for w in decoded.warnings)


def test_transform_is_built_once_per_profile(tmp_path: Path) -> None:
    icc = rgb_matrix_profile(DISPLAY_P3, "Cached P3")
    for i in range(3):
        Image.new("RGB", (2, 2), (10 * i, 80, 160)).save(tmp_path / f"{i}.png", icc_profile=icc)
    open_image(tmp_path / "0.png")
    hits = colour._transform_for.cache_info().hits

    open_image(tmp_path / "1.png")
    open_image(tmp_path / "2.png")

    assert colour._transform_for.cache_info().hits == hits + 2


# --------------------------------------------------------------------------- CMYK

INKS = [(0, 0, 0, 0), (255, 0, 0, 0), (0, 255, 0, 0), (0, 0, 255, 0), (0, 0, 0, 255), (255, 255, 0, 0)]


def test_cmyk_jpeg_without_profile_gets_a_naive_conversion(tmp_path: Path) -> None:
    path = tmp_path / "cmyk.jpg"
    _patches(INKS, "CMYK").save(path, quality=95)

    decoded = open_image(path)

    white, cyan, magenta, yellow, black, blue = _centres(decoded.image, len(INKS))
    assert decoded.source_mode == "CMYK"
    assert decoded.image.mode == "RGB"
    assert near(white, (255, 255, 255), 3)
    assert near(black, (0, 0, 0), 3)
    assert cyan[0] < 20 and cyan[1] > 235 and cyan[2] > 235
    assert magenta[1] < 20 and magenta[0] > 235 and magenta[2] > 235
    assert yellow[2] < 20 and yellow[0] > 235 and yellow[1] > 235
    assert blue[2] > 235 and max(blue[:2]) < 20
    assert "naive" in decoded.colour_note


@pytest.mark.parametrize("fmt, suffix", [("JPEG", ".jpg"), ("TIFF", ".tif")])
def test_cmyk_profile_is_used_when_embedded(tmp_path: Path, fmt: str, suffix: str) -> None:
    icc = cmyk_lut_profile("Swapped Ink CMYK")
    path = tmp_path / f"cmyk-profiled{suffix}"
    _patches(INKS, "CMYK").save(path, format=fmt, icc_profile=icc)

    decoded = open_image(path)

    assert decoded.warnings == []  # LittleCMS accepted the lut16 profile
    assert decoded.colour_note == "Swapped Ink CMYK → sRGB"
    for got, ink in zip(_centres(decoded.image, len(INKS)), INKS, strict=True):
        want = swapped_ink_rgb(*(v // 255 for v in ink))
        assert near(got, want, 4), (ink, got, want)
    # In particular: cyan ink came out red, which only the profile can explain.
    cyan = _centres(decoded.image, 2)[1]
    assert cyan[0] > 240 and cyan[1] < 15


def test_broken_cmyk_profile_falls_back_to_naive_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "cmyk-broken.tif"
    _patches(INKS[:2], "CMYK").save(path, icc_profile=cmyk_lut_profile()[:200])

    decoded = open_image(path)

    assert any("colour profile is unusable" in w for w in decoded.warnings)
    assert "naive" in decoded.colour_note
    cyan = _centres(decoded.image, 2)[1]
    assert cyan[0] < 20 and cyan[1] > 235  # the naive conversion: cyan is cyan


# --------------------------------------------------------------------------- to_srgb directly


def test_lab_image_is_converted_to_srgb() -> None:
    lab = Image.new("LAB", (2, 2), (255, 128, 128))  # L=100, a=0, b=0: white
    warnings: list[str] = []

    rgb, note = colour.to_srgb(lab, None, warnings)

    assert rgb.mode == "RGB"
    assert near(rgb.getpixel((0, 0)), (255, 255, 255), 2)
    assert note == "Lab → sRGB"
    assert warnings == []


def test_grey_without_profile_becomes_rgb() -> None:
    rgb, note = colour.to_srgb(Image.new("L", (2, 2), 77), None, [])
    assert rgb.mode == "RGB"
    assert rgb.getpixel((0, 0)) == (77, 77, 77)
    assert note == "no usable profile (assumed sRGB)"


def test_embedded_srgb_profile_is_an_srgb_profile() -> None:
    icc = colour.srgb_icc_bytes()
    assert icc is colour.srgb_icc_bytes()
    assert "sRGB" in profile_description(icc)
    assert ImageCms.ImageCmsProfile(io.BytesIO(icc)).profile.xcolor_space.strip() == "RGB"


def test_to_srgb_output_is_always_rgb_for_every_input_mode() -> None:
    images = [Image.new("L", (1, 1)), Image.new("RGB", (1, 1)), Image.new("CMYK", (1, 1)),
              Image.new("LAB", (1, 1))]
    assert {colour.to_srgb(img, None, [])[0].mode for img in images} == {"RGB"}
    assert np.asarray(colour.to_srgb(Image.new("CMYK", (1, 1)), None, [])[0]).tolist() == [[[255, 255, 255]]]
