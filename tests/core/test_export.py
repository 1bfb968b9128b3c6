"""app.core.export: settings, rendering per format, and the metadata policy of the files we write."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.core import errors, mask
from app.core.compose import Cutout
from app.core.decode import open_image
from app.core.export import ExportSettings, encode, parse_colour, render, save
from tests.imaging_fixtures import BODY_SERIAL, EXIF_IFD, GPS_IFD, camera_exif, near, profile_description

FG = (200, 20, 20)
HIDDEN_BG = (0, 255, 0)  # the photo's background, which the matte removes


def sample_cutout() -> Cutout:
    """40x30: an opaque red block with a half-transparent left edge, on a hidden green background.

    Like a real photo, the half-transparent edge shows a 50/50 mix of subject and background.
    """
    rgb = Image.new("RGB", (40, 30), HIDDEN_BG)
    rgb.paste(FG, (10, 10, 30, 20))
    rgb.paste(tuple((f + b) // 2 for f, b in zip(FG, HIDDEN_BG, strict=True)), (10, 10, 12, 20))
    alpha = Image.new("L", (40, 30), 0)
    alpha.paste(255, (10, 10, 30, 20))
    alpha.paste(128, (10, 10, 12, 20))
    return Cutout(rgb, alpha)


def export(tmp_path: Path, settings: ExportSettings, exif: bytes | None = None) -> Image.Image:
    """Render + save to a real file, then open it again the way any other program would."""
    path = tmp_path / f"out{settings.extension}"
    save(render(sample_cutout(), settings), path, settings, exif)
    out = Image.open(path)
    out.load()
    return out


def source_exif(tmp_path: Path) -> bytes:
    """EXIF as the decoder hands it on, from a camera JPEG with GPS and a body serial number."""
    path = tmp_path / "camera.jpg"
    Image.new("RGB", (8, 8)).save(path, exif=camera_exif())
    exif = open_image(path).exif
    assert exif is not None
    return exif


# --------------------------------------------------------------------------- per format

def test_png_is_rgba_with_zeroed_transparent_pixels(tmp_path: Path) -> None:
    out = export(tmp_path, ExportSettings(format="png", decontaminate=True))
    assert (out.format, out.mode, out.size) == ("PNG", "RGBA", (40, 30))
    assert out.getpixel((0, 0)) == (0, 0, 0, 0)
    assert out.getpixel((20, 15)) == (*FG, 255)
    r, g, b, a = out.getpixel((10, 15))
    assert a == 128 and near((r, g, b), FG, 6), "the edge carries the subject's colour, not the mix"


def test_webp_lossless_keeps_alpha_exactly(tmp_path: Path) -> None:
    settings = ExportSettings(format="webp", lossless=True)
    out = export(tmp_path, settings)
    assert (out.format, out.mode) == ("WEBP", "RGBA")
    assert np.array_equal(np.asarray(out), np.asarray(render(sample_cutout(), settings)))


def test_webp_lossy_keeps_alpha(tmp_path: Path) -> None:
    out = export(tmp_path, ExportSettings(format="webp", lossless=False, quality=80))
    assert (out.format, out.mode) == ("WEBP", "RGBA")
    assert out.getpixel((0, 0))[3] == 0
    assert out.getpixel((20, 15))[3] == 255
    assert abs(out.getpixel((10, 15))[3] - 128) <= 2
    assert near(out.getpixel((20, 15))[:3], FG, 12)


def test_jpeg_is_flattened_onto_white_by_default(tmp_path: Path) -> None:
    out = export(tmp_path, ExportSettings(format="jpg", decontaminate=True))
    assert (out.format, out.mode) == ("JPEG", "RGB")
    assert near(out.getpixel((2, 2)), (255, 255, 255), 3)
    assert near(out.getpixel((20, 15)), FG, 6)
    assert near(out.getpixel((10, 15)), (227, 137, 137), 8)  # half red, half white
    assert out.getpixel((2, 2))[1] > 250  # and not the hidden green


def test_jpeg_is_flattened_onto_the_chosen_background(tmp_path: Path) -> None:
    out = export(tmp_path, ExportSettings(format="jpg", background=parse_colour("#0000ff"), decontaminate=True))
    assert near(out.getpixel((2, 2)), (0, 0, 255), 4)
    assert near(out.getpixel((10, 15)), (100, 10, 137), 8)


def test_png_with_background_is_opaque_rgb(tmp_path: Path) -> None:
    out = export(tmp_path, ExportSettings(format="png", background=(240, 240, 240)))
    assert out.mode == "RGB"
    assert out.getpixel((0, 0)) == (240, 240, 240)


def test_tiff_keeps_alpha_and_is_compressed(tmp_path: Path) -> None:
    out = export(tmp_path, ExportSettings(format="tif", decontaminate=True))
    assert (out.format, out.mode) == ("TIFF", "RGBA")
    assert out.info["compression"] == "tiff_adobe_deflate"
    r, g, b, a = out.getpixel((10, 15))
    assert a == 128 and near((r, g, b), FG, 6)
    assert out.getpixel((0, 0)) == (0, 0, 0, 0)


@pytest.mark.parametrize("fmt", ["png", "jpg", "tif"])
def test_mask_only_is_a_greyscale_matte(tmp_path: Path, fmt: str) -> None:
    out = export(tmp_path, ExportSettings(format=fmt, mask_only=True))
    assert out.mode == "L"
    assert out.getpixel((0, 0)) <= 2
    assert out.getpixel((20, 15)) >= 253
    assert abs(out.getpixel((10, 15)) - 128) <= 2
    assert "icc_profile" not in out.info  # a matte is not a colour image


def test_mask_only_webp_is_grey_rgb(tmp_path: Path) -> None:
    # WebP has no greyscale mode: the matte is stored as grey RGB.
    out = export(tmp_path, ExportSettings(format="webp", mask_only=True))
    assert out.mode == "RGB"
    assert out.getpixel((10, 15)) == (128, 128, 128)


@pytest.mark.parametrize("settings", [
    ExportSettings(format="png"), ExportSettings(format="webp"), ExportSettings(format="webp", lossless=False),
    ExportSettings(format="jpg"), ExportSettings(format="tif"), ExportSettings(format="png", background=(1, 2, 3)),
], ids=["png", "webp", "webp-lossy", "jpg", "tif", "png-flat"])
def test_colour_outputs_embed_srgb(tmp_path: Path, settings: ExportSettings) -> None:
    icc = export(tmp_path, settings).info.get("icc_profile")
    assert icc, "no colour profile embedded"
    assert "sRGB" in profile_description(icc)


# --------------------------------------------------------------------------- EXIF policy

def _private_metadata(img: Image.Image) -> dict[str, object]:
    exif = img.getexif()
    return {
        "make": exif.get(0x010F),
        "gps": dict(exif.get_ifd(GPS_IFD)),
        "serial": exif.get_ifd(EXIF_IFD).get(BODY_SERIAL),
    }


@pytest.mark.parametrize("fmt", ["png", "webp", "jpg", "tif"])
def test_exif_is_stripped_by_default(tmp_path: Path, fmt: str) -> None:
    out = export(tmp_path, ExportSettings(format=fmt), exif=source_exif(tmp_path))
    assert _private_metadata(out) == {"make": None, "gps": {}, "serial": None}
    assert "exif" not in out.info


@pytest.mark.parametrize("fmt", ["png", "webp", "jpg", "tif"])
def test_exif_is_kept_when_asked(tmp_path: Path, fmt: str) -> None:
    out = export(tmp_path, ExportSettings(format=fmt, keep_exif=True), exif=source_exif(tmp_path))
    kept = _private_metadata(out)
    assert kept["make"] == "Knockout Test Camera Co."
    assert kept["serial"] == "SN-0042-SECRET"
    assert kept["gps"][1] == "N"  # type: ignore[index]
    assert out.getpixel((20, 15))[:3] != (0, 0, 0)  # and the pixels are still there


def test_keep_exif_without_source_exif_writes_none(tmp_path: Path) -> None:
    out = export(tmp_path, ExportSettings(format="jpg", keep_exif=True), exif=None)
    assert "exif" not in out.info


@pytest.mark.parametrize("fmt", ["png", "webp", "jpg", "tif"])
def test_exif_riding_on_the_image_object_is_not_copied(tmp_path: Path, fmt: str) -> None:
    # An image opened from a camera file carries its EXIF in .info; encode must not pass it on.
    carrier = tmp_path / "carrier.jpg"
    Image.new("RGB", (8, 8), FG).save(carrier, exif=camera_exif())
    img = Image.open(carrier)
    assert "exif" in img.info
    buf = io.BytesIO()

    encode(img, buf, ExportSettings(format=fmt))

    assert _private_metadata(Image.open(buf)) == {"make": None, "gps": {}, "serial": None}


# --------------------------------------------------------------------------- geometry through render

def test_render_crop_with_margin(tmp_path: Path) -> None:
    img = render(sample_cutout(), ExportSettings(crop=True, margin=0.1))
    assert img.size == (24, 14)  # the 20x10 subject plus 2 px each side
    assert img.getpixel((0, 0))[3] == 0


def test_render_canvas_then_max_size() -> None:
    on_canvas = render(sample_cutout(), ExportSettings(canvas=(200, 200), fill=0.5))
    assert on_canvas.size == (200, 200)
    left, _top, right, _bottom = mask.subject_box(on_canvas.getchannel("A")) or (0, 0, 0, 0)
    assert abs((right - left) - 100) <= 1

    shrunk = render(sample_cutout(), ExportSettings(canvas=(200, 200), max_size=(50, 80)))
    assert shrunk.size == (50, 50)


def test_save_writes_the_file_atomically(tmp_path: Path) -> None:
    target = tmp_path / "new" / "folder" / "SKU123-front-v2.png"
    settings = ExportSettings()
    save(render(sample_cutout(), settings), target, settings)
    assert Image.open(target).size == (40, 30)
    assert sorted(p.name for p in target.parent.iterdir()) == ["SKU123-front-v2.png"]


# --------------------------------------------------------------------------- settings and colours

@pytest.mark.parametrize("text, rgb", [
    ("white", (255, 255, 255)), ("Black", (0, 0, 0)), ("#fff", (255, 255, 255)),
    ("#F0F0F0", (240, 240, 240)), ("#0a0B0c", (10, 11, 12)), ("rgb(1,2,3)", (1, 2, 3)),
    ("rgb(1, 2, 3)", (1, 2, 3)), ("240,240,240", (240, 240, 240)), (" 1, 2 , 3 ", (1, 2, 3)),
    ("0,0,0", (0, 0, 0)), ("255,255,255", (255, 255, 255)),
])
def test_parse_colour_accepts(text: str, rgb: tuple[int, int, int]) -> None:
    assert parse_colour(text) == rgb


@pytest.mark.parametrize("text", [
    "", "   ", "notacolour", "#12345", "#ggg", "256,0,0", "-1,0,0", "1,2", "1,2,3,4", "1.5,2,3",
    "rgb(300,0,0)", "a,b,c",
])
def test_parse_colour_refuses_with_a_helpful_message(text: str) -> None:
    with pytest.raises(ValueError, match=r"not a colour: .*try white, #ffffff or 255,255,255"):
        parse_colour(text)


@pytest.mark.parametrize("kwargs, words", [
    ({"format": "gif"}, "unknown format 'gif'"),
    ({"format": "JPG"}, "unknown format"),
    ({"fill": 0}, "fill"), ({"fill": 1.01}, "fill"), ({"fill": -0.5}, "fill"),
    ({"quality": 0}, "quality"), ({"quality": 101}, "quality"),
    ({"margin": -0.05}, "margin"),
    ({"canvas": (0, 2000)}, "canvas"), ({"canvas": (-5, 10)}, "canvas"),
    ({"max_size": (1024, 0)}, "size"),
])
def test_export_settings_refuse_bad_values(kwargs: dict, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        ExportSettings(**kwargs)


def test_export_settings_defaults_and_extensions() -> None:
    settings = ExportSettings()
    assert (settings.format, settings.background, settings.keep_exif, settings.mask_only) == ("png", None, False, False)
    assert [ExportSettings(format=f).extension for f in ("png", "webp", "jpg", "tif")] == [
        ".png", ".webp", ".jpg", ".tif"]
    assert ExportSettings(fill=1.0, quality=1, margin=0, canvas=(1, 1)).fill == 1.0


# --------------------------------------------------------------------------- keeping named EXIF fields

@pytest.mark.parametrize("fmt", ["png", "webp", "jpg", "tif"])
def test_keep_exif_fields_keeps_only_the_named_fields_and_never_gps(tmp_path: Path, fmt: str) -> None:
    out = export(tmp_path, ExportSettings(format=fmt, keep_exif_fields=("Make", "BodySerialNumber")),
                 exif=source_exif(tmp_path))
    exif = out.getexif()
    assert exif.get(0x010F) == "Knockout Test Camera Co."
    assert exif.get_ifd(EXIF_IFD).get(BODY_SERIAL) == "SN-0042-SECRET"
    assert 0x0110 not in exif  # Model was not asked for
    assert dict(exif.get_ifd(GPS_IFD)) == {}


def test_gps_is_kept_only_when_gpsinfo_is_named(tmp_path: Path) -> None:
    out = export(tmp_path, ExportSettings(format="jpg", keep_exif_fields=("GPSInfo",)), exif=source_exif(tmp_path))
    assert out.getexif().get_ifd(GPS_IFD)[1] == "N"
    assert out.getexif().get(0x010F) is None


def test_keep_exif_fields_absent_from_the_source_write_no_exif(tmp_path: Path) -> None:
    out = export(tmp_path, ExportSettings(format="jpg", keep_exif_fields=("Copyright",)), exif=source_exif(tmp_path))
    assert "exif" not in out.info


# -- sizes a format cannot hold --------------------------------------------------------------


def _wide_cutout(width: int, height: int) -> Cutout:
    return Cutout(Image.new("RGB", (width, height), FG), Image.new("L", (width, height), 255))


def test_webp_wider_than_its_limit_is_refused_before_encoding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A real panorama: libwebp holds at most 16383 px a side and would fail with a bare ValueError.
    settings = ExportSettings(format="webp")
    image = render(_wide_cutout(16_400, 10), settings)
    encoded = []
    monkeypatch.setattr(Image.Image, "save", lambda *args, **kwargs: encoded.append(args))
    target = tmp_path / "panorama.webp"

    with pytest.raises(errors.ImageError) as caught:
        save(image, target, settings)

    message = str(caught.value)
    assert "16383" in message and "16400" in message and "PNG" in message and "panorama.webp" in message
    assert caught.value.code != "image_error"
    assert encoded == [] and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("settings, source", [
    (ExportSettings(format="webp", canvas=(16_500, 400)), (200, 100)),
    (ExportSettings(format="webp", max_size=(18_000, 18_000)), (20_000, 20)),
    (ExportSettings(format="webp", mask_only=True, crop=True), (16_400, 10)),
])
def test_webp_canvas_and_size_are_checked_against_the_limit(tmp_path: Path, settings: ExportSettings,
                                                            source: tuple[int, int]) -> None:
    image = render(_wide_cutout(*source), settings)
    with pytest.raises(errors.ImageError) as caught:
        save(image, tmp_path / "out.webp", settings)
    assert "16383" in str(caught.value)


def test_webp_at_its_limit_is_written(tmp_path: Path) -> None:
    settings = ExportSettings(format="webp")
    save(render(_wide_cutout(16_383, 4), settings), tmp_path / "edge.webp", settings)
    with Image.open(tmp_path / "edge.webp") as out:
        assert out.size == (16_383, 4)


@pytest.mark.parametrize("fmt", ["tif", "jpg", "png", "webp"])
def test_kept_exif_of_a_compressed_tiff_source_does_not_carry_its_layout(tmp_path: Path, fmt: str) -> None:
    # A TIFF's EXIF is its whole first directory: width, strips, compression. Copied into the
    # export they contradict the new file (libtiff refused to write it) or describe the old one.
    source = tmp_path / "scan.tif"
    exif = Image.Exif()
    exif[0x010F] = "Knockout Test Camera Co."
    Image.new("RGB", (40, 30), (200, 30, 30)).save(source, compression="tiff_lzw", exif=exif)
    decoded = open_image(source)
    settings = ExportSettings(format=fmt, keep_exif=True, crop=True)

    save(render(Cutout(decoded.image, sample_cutout().alpha), settings), tmp_path / f"out.{fmt}", settings,
         decoded.exif)

    with Image.open(tmp_path / f"out.{fmt}") as out:
        out.load()
        kept = out.getexif()
        assert out.size == (20, 10)
        assert kept[0x010F] == "Knockout Test Camera Co."
        if fmt != "tif":  # a TIFF has its own layout tags, written for the new pixels
            assert not {0x0100, 0x0101, 0x0103, 0x0111, 0x0117} & set(kept)
