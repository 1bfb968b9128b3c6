"""app.core.decode: every kind of input becomes upright 8-bit sRGB, or a clear typed error."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from app.core import errors
from app.core.decode import is_image_name, open_image
from tests.imaging_fixtures import (
    ORIENTATION,
    camera_exif,
    exif_with_text_orientation,
    near,
    png_16bit,
    png_header_only,
    quadrants,
    tiff_rgb_16bit,
)

try:
    import resource  # Unix only: peak-memory check in the size-guard test
except ImportError:  # pragma: no cover - Windows
    resource = None  # type: ignore[assignment]

RED = (255, 0, 0)
BLUE = (0, 0, 255)


def _corners(img: Image.Image, inset: int = 3) -> dict[str, tuple[int, int, int]]:
    w, h = img.size
    return {
        "tl": img.getpixel((inset, inset)),
        "tr": img.getpixel((w - 1 - inset, inset)),
        "bl": img.getpixel((inset, h - 1 - inset)),
        "br": img.getpixel((w - 1 - inset, h - 1 - inset)),
    }


# --------------------------------------------------------------------------- orientation

# orientation -> (output size for a 40x20 stored image, where the stored top-left corner lands)
ORIENTATIONS = {
    1: ((40, 20), "tl"),
    2: ((40, 20), "tr"),  # mirrored left-right
    3: ((40, 20), "br"),  # rotated 180°
    4: ((40, 20), "bl"),  # mirrored top-bottom
    5: ((20, 40), "tl"),  # transposed
    6: ((20, 40), "tr"),  # rotated 90° clockwise
    7: ((20, 40), "br"),  # transversed
    8: ((20, 40), "bl"),  # rotated 90° counter-clockwise
}


@pytest.mark.parametrize("orientation", sorted(ORIENTATIONS))
def test_exif_orientation_is_applied_to_size_and_pixels(tmp_path: Path, orientation: int) -> None:
    path = tmp_path / f"orientation-{orientation}.jpg"
    quadrants((40, 20), RED, BLUE).save(path, quality=95, exif=camera_exif(orientation))

    decoded = open_image(path)

    expected_size, red_corner = ORIENTATIONS[orientation]
    assert decoded.size == expected_size
    for corner, pixel in _corners(decoded.image).items():
        assert near(pixel, RED if corner == red_corner else BLUE, 12), (corner, pixel)


def test_orientation_stored_as_text_is_ignored_with_a_warning(tmp_path: Path) -> None:
    # A valid photo whose Orientation tag has the wrong type must decode, not fail the batch.
    path = tmp_path / "text-orientation.jpg"
    quadrants((40, 20), RED, BLUE).save(path, quality=95, exif=exif_with_text_orientation(b"6\0"))

    decoded = open_image(path)

    assert decoded.size == (40, 20)  # not turned: an unreadable orientation means none
    assert near(_corners(decoded.image)["tl"], RED, 12)
    assert any("orientation" in w.lower() for w in decoded.warnings)
    if decoded.exif is not None:  # the unreadable tag is not carried into a kept EXIF
        kept = Image.Exif()
        kept.load(decoded.exif)
        assert ORIENTATION not in kept


def test_applied_orientation_is_removed_from_kept_exif(tmp_path: Path) -> None:
    # Otherwise an export with keep_exif would make viewers rotate the upright pixels again.
    path = tmp_path / "rotated.jpg"
    quadrants((40, 20), RED, BLUE).save(path, exif=camera_exif(6))

    decoded = open_image(path)

    assert decoded.exif is not None
    kept = Image.Exif()
    kept.load(decoded.exif)
    assert kept.get(ORIENTATION, 1) == 1
    assert kept[0x010F] == "Knockout Test Camera Co."  # the rest of the EXIF is still there


# --------------------------------------------------------------------------- bit depth, modes, alpha


def test_16bit_greyscale_png_is_scaled_not_clipped(tmp_path: Path) -> None:
    path = tmp_path / "grey16.png"
    Image.fromarray(np.array([[0, 1000, 32768, 65535]], dtype=np.uint16)).save(path)
    assert Image.open(path).mode == "I;16"

    decoded = open_image(path)

    assert decoded.image.mode == "RGB"
    assert decoded.alpha is None
    grey = np.asarray(decoded.image)[0, :, 0].tolist()
    assert grey == [0, 4, 128, 255]  # 1000/65535 is 4 of 255: scaled, not clipped to 255


def test_dark_16bit_greyscale_stays_dark(tmp_path: Path) -> None:
    # All values below 256 are still 16-bit data: 200/65535 is black, not 200/255.
    path = tmp_path / "dark16.png"
    path.write_bytes(png_16bit(np.array([[0, 100, 200, 255]], dtype=np.uint16)))

    grey = np.asarray(open_image(path).image)[0, :, 0]

    assert grey.max() <= 1


def test_16bit_rgb_png_is_scaled_to_8_bits(tmp_path: Path) -> None:
    pixels = np.array([[[65535, 0, 0], [0x8080, 0x4000, 0x00FF], [1000, 2000, 3000]]], dtype=np.uint16)
    path = tmp_path / "rgb16.png"
    path.write_bytes(png_16bit(pixels))

    out = np.asarray(open_image(path).image).astype(int)

    np.testing.assert_allclose(out, pixels / 257.0, atol=1)


def test_16bit_rgb_tiff_is_scaled_to_8_bits(tmp_path: Path) -> None:
    pixels = np.array([[[65535, 0, 0], [0x8080, 0x4000, 0x00FF], [1000, 2000, 3000]]], dtype=np.uint16)
    path = tmp_path / "rgb16.tif"
    path.write_bytes(tiff_rgb_16bit(pixels))

    decoded = open_image(path)

    assert decoded.source_format == "TIFF"
    np.testing.assert_allclose(np.asarray(decoded.image).astype(int), pixels / 257.0, atol=1)


def test_16bit_rgba_png_keeps_scaled_alpha(tmp_path: Path) -> None:
    path = tmp_path / "rgba16.png"
    path.write_bytes(png_16bit(np.array([[[65535, 0, 0, 65535], [0, 65535, 0, 0x8000]]])))

    decoded = open_image(path)

    assert decoded.alpha is not None
    assert np.asarray(decoded.alpha).tolist() == [[255, 128]]
    assert np.asarray(decoded.image).tolist() == [[[255, 0, 0], [0, 255, 0]]]


def test_palette_png_with_transparency_keeps_alpha(tmp_path: Path) -> None:
    img = Image.new("P", (4, 4), 0)
    img.putpalette([0, 255, 0, 255, 0, 0] + [0] * 762)
    img.paste(1, (2, 0, 4, 4))  # right half: index 1 (red); left half: index 0 (transparent)
    path = tmp_path / "palette.png"
    img.save(path, transparency=0)

    decoded = open_image(path)

    assert decoded.source_mode == "P"
    assert decoded.alpha is not None
    assert np.asarray(decoded.alpha)[0].tolist() == [0, 0, 255, 255]
    assert decoded.image.getpixel((3, 0)) == RED


def test_greyscale_with_alpha_keeps_alpha(tmp_path: Path) -> None:
    grey = Image.new("L", (4, 2), 90)
    alpha = Image.fromarray(np.array([[0, 64, 128, 255]] * 2, dtype=np.uint8))
    path = tmp_path / "la.png"
    Image.merge("LA", (grey, alpha)).save(path)

    decoded = open_image(path)

    assert decoded.image.mode == "RGB"
    assert decoded.image.getpixel((1, 0)) == (90, 90, 90)
    assert decoded.alpha is not None
    assert np.asarray(decoded.alpha)[0].tolist() == [0, 64, 128, 255]


def test_rgba_keeps_alpha_and_colour(tmp_path: Path) -> None:
    path = tmp_path / "rgba.png"
    Image.new("RGBA", (3, 3), (10, 20, 30, 77)).save(path)

    decoded = open_image(path)

    assert decoded.image.getpixel((1, 1)) == (10, 20, 30)
    assert decoded.alpha is not None
    assert decoded.alpha.getpixel((1, 1)) == 77


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_fully_opaque_alpha_is_dropped(tmp_path: Path, mode: str) -> None:
    path = tmp_path / f"opaque-{mode}.png"
    Image.new(mode, (3, 3), (10, 20, 30, 255) if mode == "RGBA" else (10, 255)).save(path)

    decoded = open_image(path)

    assert decoded.alpha is None
    assert decoded.image.mode == "RGB"


@pytest.mark.parametrize("fmt, suffix", [("GIF", ".gif"), ("TIFF", ".tif")])
def test_multi_frame_file_gives_first_frame_and_a_warning(tmp_path: Path, fmt: str, suffix: str) -> None:
    frames = [Image.new("RGB", (8, 8), colour) for colour in (RED, BLUE, (0, 255, 0))]
    path = tmp_path / f"frames{suffix}"
    frames[0].save(path, format=fmt, save_all=True, append_images=frames[1:])

    decoded = open_image(path)

    assert decoded.frames == 3
    assert decoded.image.getpixel((4, 4)) == RED
    assert any("3 frames" in w and "first" in w for w in decoded.warnings)


@pytest.mark.parametrize("fmt, suffix, fault", [("GIF", ".gif", IndexError), ("TIFF", ".tif", TypeError)])
def test_damaged_frame_count_is_a_typed_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              fmt: str, suffix: str, fault: type[Exception]) -> None:
    # Counting frames walks the whole file; on a damaged one Pillow raises what it meets.
    frames = [Image.new("RGB", (8, 8), colour) for colour in (RED, BLUE)]
    path = tmp_path / f"frames{suffix}"
    frames[0].save(path, format=fmt, save_all=True, append_images=frames[1:])
    plugin = Image.open(path)
    plugin_class = type(plugin)
    plugin.close()

    def damaged(self: Image.Image) -> int:
        raise fault("list index out of range" if fault is IndexError else "unsupported operand")

    monkeypatch.setattr(plugin_class, "n_frames", property(damaged))
    with pytest.raises(errors.CorruptImage) as caught:
        open_image(path)
    assert caught.value.path == str(path)


def test_heic_is_decoded(tmp_path: Path) -> None:
    pillow_heif = pytest.importorskip("pillow_heif", reason="pillow-heif (dev extra) encodes the HEIC fixture")
    pytest.importorskip("pi_heif", reason="pi-heif is the runtime HEIC decoder")
    path = tmp_path / "photo.heic"
    pillow_heif.from_pillow(quadrants((64, 48), RED, BLUE)).save(path, quality=90)

    decoded = open_image(path)

    assert decoded.source_format == "HEIF"
    assert decoded.size == (64, 48)
    assert near(decoded.image.getpixel((8, 8)), RED, 16)
    assert near(decoded.image.getpixel((50, 40)), BLUE, 16)


# --------------------------------------------------------------------------- size guard


def test_pixel_limit_refuses_before_decoding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(png_header_only(30000, 30000))  # claims 900 MP in a ~100-byte file

    def no_decoding(self: ImageFile.ImageFile) -> None:
        raise AssertionError("pixels were decoded before the size check")

    def peak_kib() -> int:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss if resource else 0

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    rss_before = peak_kib()
    with pytest.raises(errors.TooLarge) as caught:
        open_image(path)
    grown_kib = peak_kib() - rss_before

    assert caught.value.code == "too_large"
    assert "30000×30000" in str(caught.value)
    assert "900 megapixels" in str(caught.value)
    assert grown_kib < 100 * 1024  # a decoded 30000² RGB image would be 2.7 GB


def test_pillow_bomb_check_stays_on_and_allows_the_configured_limit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Pillow's own check is a backstop for every reader; it must never refuse what our limit allows.
    assert Image.MAX_IMAGE_PIXELS is not None
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_000)  # as if the configured limit were far above it
    path = tmp_path / "hundred.png"
    Image.new("RGB", (100, 100), RED).save(path)

    assert open_image(path, max_pixels=10_000).size == (100, 100)  # 10 000 px > 2 × 1 000: allowed anyway
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_000)
    with pytest.raises(errors.TooLarge):  # over the backstop and over the limit: our typed error
        open_image(path, max_pixels=4_000)


def test_pixel_limit_boundary(tmp_path: Path) -> None:
    path = tmp_path / "hundred.png"
    Image.new("RGB", (100, 100), RED).save(path)

    with pytest.raises(errors.TooLarge):
        open_image(path, max_pixels=9_999)
    assert open_image(path, max_pixels=10_000).size == (100, 100)


# --------------------------------------------------------------------------- bad input


def test_zero_byte_file_is_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jpg"
    path.touch()
    with pytest.raises(errors.EmptyFile) as caught:
        open_image(path)
    assert caught.value.code == "empty_file"
    assert "empty" in str(caught.value)


def test_empty_bytes_is_empty_file() -> None:
    with pytest.raises(errors.EmptyFile):
        open_image(b"")


@pytest.mark.parametrize("keep", [0.5, 400])
def test_truncated_jpeg_is_corrupt_and_says_truncated(tmp_path: Path, keep: float) -> None:
    buf = io.BytesIO()
    Image.effect_noise((200, 200), 64).convert("RGB").save(buf, "JPEG", quality=90)
    data = buf.getvalue()
    path = tmp_path / "cut-short.jpg"
    path.write_bytes(data[: int(len(data) * keep) if keep < 1 else int(keep)])  # mid-scan / mid-header

    with pytest.raises(errors.CorruptImage) as caught:
        open_image(path)

    assert caught.value.code == "corrupt"
    assert "truncated" in str(caught.value)


def test_text_file_named_jpg_is_not_an_image(tmp_path: Path) -> None:
    path = tmp_path / "notes.jpg"
    path.write_text("Shopping list: milk, eggs, a better camera.\n")
    with pytest.raises(errors.NotAnImage) as caught:
        open_image(path)
    assert caught.value.code == "not_an_image"
    assert caught.value.path == str(path)


@pytest.mark.parametrize("fmt, suffix, refused", [("EPS", ".eps", errors.UnsupportedImage),
                                                   ("PDF", ".pdf", errors.NotAnImage)])
def test_postscript_and_pdf_are_refused(tmp_path: Path, fmt: str, suffix: str,
                                        refused: type[errors.ImageError]) -> None:
    # Pillow can read EPS through Ghostscript; we must never hand a file to it.
    path = tmp_path / f"drawing{suffix}"
    Image.new("RGB", (10, 10), RED).save(path, format=fmt)
    with pytest.raises(refused):
        open_image(path)


@pytest.mark.parametrize("fmt", ["PCX", "SGI"])
def test_image_formats_we_do_not_read_are_unsupported_whatever_the_name(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / "photo.jpg"
    Image.new("RGB", (10, 10), RED).save(path, format=fmt)

    with pytest.raises(errors.UnsupportedImage) as caught:
        open_image(path)

    assert caught.value.code == "unsupported"
    assert fmt in str(caught.value) and caught.value.path == str(path)


def test_directory_is_unreadable(tmp_path: Path) -> None:
    with pytest.raises(errors.Unreadable) as caught:
        open_image(tmp_path)
    assert caught.value.code == "unreadable"
    assert "folder" in str(caught.value)


def test_missing_file_is_unreadable(tmp_path: Path) -> None:
    with pytest.raises(errors.Unreadable) as caught:
        open_image(tmp_path / "gone.jpg")
    assert "does not exist" in str(caught.value)


def test_permission_denied_is_unreadable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "secret.png"
    Image.new("RGB", (2, 2)).save(path)

    def refuse(self: Path, *args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(os, "open", refuse)  # open_image opens with os.open (O_NONBLOCK: a FIFO never blocks)
    with pytest.raises(errors.Unreadable) as caught:
        open_image(path)
    assert "permission denied" in str(caught.value)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root reads any file, so chmod 000 cannot make one unreadable")
def test_chmod_000_file_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "locked.png"
    Image.new("RGB", (2, 2)).save(path)
    path.chmod(0)
    try:
        with pytest.raises(errors.Unreadable):
            open_image(path)
    finally:
        path.chmod(0o644)


def test_errors_are_image_errors_with_a_message(tmp_path: Path) -> None:
    with pytest.raises(errors.ImageError) as caught:
        open_image(tmp_path / "nope.png")
    assert caught.value.message == str(caught.value)
    assert caught.value.path == str(tmp_path / "nope.png")


# --------------------------------------------------------------------------- sources


def test_non_ascii_path_works(tmp_path: Path) -> None:
    folder = tmp_path / "Ünïcödé 写真"
    folder.mkdir()
    path = folder / "café-ü-日本.jpg"
    Image.new("RGB", (12, 8), BLUE).save(path, quality=95)

    decoded = open_image(path)

    assert decoded.size == (12, 8)
    assert near(decoded.image.getpixel((6, 4)), BLUE, 4)


def test_bytes_input_works_and_uses_the_given_name() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (5, 7), RED).save(buf, "PNG")

    decoded = open_image(buf.getvalue(), name="upload.png")

    assert decoded.size == (5, 7)
    assert decoded.source_format == "PNG"
    assert decoded.image.getpixel((0, 0)) == RED
    with pytest.raises(errors.NotAnImage) as caught:
        open_image(b"definitely not pixels", name="upload.png")
    assert caught.value.path == "upload.png"


def test_plain_rgb_without_profile_is_passed_through(tmp_path: Path) -> None:
    path = tmp_path / "plain.png"
    Image.new("RGB", (2, 2), (12, 34, 56)).save(path)

    decoded = open_image(path)

    assert decoded.image.getpixel((0, 0)) == (12, 34, 56)
    assert decoded.colour_note == "no usable profile (assumed sRGB)"
    assert decoded.warnings == []
    assert decoded.exif is None


@pytest.mark.parametrize(("name", "offered"), [
    ("photo.jpg", True), ("PHOTO.JPEG", True), ("scan.Tiff", True), ("phone.HEIC", True),
    ("sub/dir/shot.webp", True), (".photo.jpg", False), ("sub/.hidden.png", False),
    ("notes.txt", False), ("jpg", False), ("photo.jpg.part", False), ("archive.tar.gz", False),
])
def test_is_image_name_offers_visible_files_with_an_extension_we_open(name, offered):
    assert is_image_name(name) is offered
    assert is_image_name(Path(name)) is offered
