"""Synthetic image fixtures for the core tests, built in memory: no files from outside.

Helpers here are plain functions (not pytest fixtures) so any test module can import
them: tiny ICC profile builders (RGB matrix/TRC and a CMYK lut16), hand-written PNG and
TIFF encoders for bit depths and headers Pillow will not write, and EXIF blobs.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageCms, ImageDraw, ImageFilter

# --------------------------------------------------------------------------- ICC profiles

D50 = (0.9642, 1.0, 0.8249)
D65_XY = (0.3127, 0.3290)

# (red, green, blue) chromaticities, white point, tone-curve gamma
DISPLAY_P3 = ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060), D65_XY, 2.2)
ADOBE_RGB_1998 = ((0.640, 0.330), (0.210, 0.710), (0.150, 0.060), D65_XY, 563 / 256)

_BRADFORD = np.array(
    [[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367], [0.0389, -0.0685, 1.0296]]
)


def _xy_to_xyz(x: float, y: float) -> np.ndarray:
    return np.array([x / y, 1.0, (1.0 - x - y) / y])


def d50_colorants(primaries: Sequence) -> np.ndarray:
    """RGB→XYZ matrix columns for the primaries, chromatically adapted (Bradford) to D50."""
    red, green, blue, white_xy, _gamma = primaries
    prim = np.stack([_xy_to_xyz(*red), _xy_to_xyz(*green), _xy_to_xyz(*blue)], axis=1)
    white = _xy_to_xyz(*white_xy)
    rgb_to_xyz = prim * np.linalg.solve(prim, white)  # scale columns so RGB=1 gives the white
    src_cone = _BRADFORD @ white
    dst_cone = _BRADFORD @ np.array(D50)
    adapt = np.linalg.inv(_BRADFORD) @ np.diag(dst_cone / src_cone) @ _BRADFORD
    return adapt @ rgb_to_xyz


def _s15(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def _xyz_tag(xyz: Sequence[float]) -> bytes:
    return b"XYZ " + b"\0" * 4 + b"".join(_s15(v) for v in xyz)


def _desc_tag(text: str) -> bytes:
    ascii_ = text.encode("ascii") + b"\0"
    # textDescriptionType: ASCII part, empty Unicode part, empty ScriptCode part (67 bytes)
    return (b"desc" + b"\0" * 4 + struct.pack(">I", len(ascii_)) + ascii_
            + struct.pack(">II", 0, 0) + struct.pack(">HB", 0, 0) + b"\0" * 67)


def _text_tag(text: str) -> bytes:
    return b"text" + b"\0" * 4 + text.encode("ascii") + b"\0"


def _gamma_curve(gamma: float) -> bytes:
    return b"curv" + b"\0" * 4 + struct.pack(">IH", 1, round(gamma * 256))


def _assemble(device_class: bytes, colour_space: bytes, pcs: bytes, tags: list[tuple[bytes, bytes]]) -> bytes:
    """Header + tag table + 4-byte aligned tag data; identical tags share storage."""
    table = b""
    data = b""
    data_start = 128 + 4 + 12 * len(tags)
    placed: dict[bytes, int] = {}
    for sig, payload in tags:
        if payload not in placed:
            placed[payload] = data_start + len(data)
            data += payload + b"\0" * (-len(payload) % 4)
        table += sig + struct.pack(">II", placed[payload], len(payload))
    body = struct.pack(">I", len(tags)) + table + data
    size = 128 + len(body)
    header = (
        struct.pack(">I", size) + b"none" + bytes([2, 0x10, 0, 0]) + device_class + colour_space + pcs
        + struct.pack(">6H", 2024, 1, 1, 0, 0, 0) + b"acsp" + b"\0" * 4  # date, signature, platform
        + struct.pack(">I", 0) + b"\0" * 4 + b"\0" * 4 + b"\0" * 8  # flags, manufacturer, model, attributes
        + struct.pack(">I", 0) + b"".join(_s15(v) for v in D50) + b"none"  # intent, illuminant, creator
        + b"\0" * 16 + b"\0" * 28  # profile id, reserved
    )
    assert len(header) == 128
    return header + body


def rgb_matrix_profile(primaries: Sequence, description: str) -> bytes:
    """A minimal ICC v2 display profile: matrix/TRC, gamma curves, D50-adapted colorants."""
    columns = d50_colorants(primaries)
    curve = _gamma_curve(primaries[4])
    return _assemble(b"mntr", b"RGB ", b"XYZ ", [
        (b"desc", _desc_tag(description)),
        (b"cprt", _text_tag("No copyright, test fixture")),
        (b"wtpt", _xyz_tag(D50)),
        (b"rXYZ", _xyz_tag(columns[:, 0])),
        (b"gXYZ", _xyz_tag(columns[:, 1])),
        (b"bXYZ", _xyz_tag(columns[:, 2])),
        (b"rTRC", curve),
        (b"gTRC", curve),
        (b"bTRC", curve),
    ])


def grey_profile(gamma: float, description: str) -> bytes:
    """A minimal ICC v2 greyscale display profile: one gamma curve (kTRC)."""
    return _assemble(b"mntr", b"GRAY", b"XYZ ", [
        (b"desc", _desc_tag(description)),
        (b"cprt", _text_tag("No copyright, test fixture")),
        (b"wtpt", _xyz_tag(D50)),
        (b"kTRC", _gamma_curve(gamma)),
    ])


def swapped_ink_rgb(c: int, m: int, y: int, k: int) -> tuple[int, int, int]:
    """The deliberately odd CMYK model of :func:`cmyk_lut_profile` (inks are 0 or 1).

    Cyan ink looks *red*, magenta *green*, yellow *blue*; black is black. A naive
    CMYK→RGB conversion gives cyan/magenta/yellow, so the two are easy to tell apart.
    """
    r = 255 * (1 - m) * (1 - y) * (1 - k)
    g = 255 * (1 - c) * (1 - y) * (1 - k)
    b = 255 * (1 - c) * (1 - m) * (1 - k)
    return (r, g, b)


SRGB = ((0.640, 0.330), (0.300, 0.600), (0.150, 0.060), D65_XY, 2.4)


def srgb_to_lab(rgb: Sequence[int]) -> tuple[float, float, float]:
    """8-bit sRGB → CIE Lab (D50), in floating point (Pillow's 8-bit LAB mode is too coarse)."""
    v = np.asarray(rgb, dtype=float) / 255.0
    linear = np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)
    xyz = d50_colorants(SRGB) @ linear / np.array(D50)
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return float(116 * f[1] - 16), float(500 * (f[0] - f[1])), float(200 * (f[1] - f[2]))


def cmyk_lut_profile(description: str = "Swapped Ink CMYK") -> bytes:
    """A CMYK output profile whose A2B0 is a lut16 with a 2-point grid (16 nodes), PCS Lab.

    Each node is the Lab colour of :func:`swapped_ink_rgb`; Lab uses the ICC v2 16-bit
    encoding (L 0..0xFF00 for 0..100, a/b offset by 128·256).
    """
    grid = 2
    clut = b""
    for c in range(grid):  # first input channel varies slowest
        for m in range(grid):
            for y in range(grid):
                for k in range(grid):
                    lightness, a, b = srgb_to_lab(swapped_ink_rgb(c, m, y, k))
                    clut += struct.pack(
                        ">3H",
                        max(0, min(0xFF00, round(lightness * 0xFF00 / 100))),
                        max(0, min(0xFFFF, round((a + 128) * 256))),
                        max(0, min(0xFFFF, round((b + 128) * 256))),
                    )
    identity = struct.pack(">2H", 0, 0xFFFF)
    lut = (
        b"mft2" + b"\0" * 4 + bytes([4, 3, grid, 0])
        + b"".join(_s15(v) for v in (1, 0, 0, 0, 1, 0, 0, 0, 1))
        + struct.pack(">HH", 2, 2) + identity * 4 + clut + identity * 3
    )
    return _assemble(b"prtr", b"CMYK", b"Lab ", [
        (b"desc", _desc_tag(description)),
        (b"cprt", _text_tag("No copyright, test fixture")),
        (b"wtpt", _xyz_tag(D50)),
        (b"A2B0", lut),
    ])


def profile_description(icc: bytes) -> str:
    return ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(icc))).strip()


# --------------------------------------------------------------------------- PNG by hand


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_header_only(width: int, height: int) -> bytes:
    """A valid-looking PNG that *claims* width×height but carries almost no pixel data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (PNG_SIGNATURE + png_chunk(b"IHDR", ihdr)
            + png_chunk(b"IDAT", zlib.compress(b"\0" * 64)) + png_chunk(b"IEND", b""))


def png_16bit(pixels: np.ndarray) -> bytes:
    """Encode a uint16 array (H, W) grey, (H, W, 2) grey+alpha, (H, W, 3) RGB or (H, W, 4) RGBA."""
    pixels = np.asarray(pixels, dtype=np.uint16)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    height, width, channels = pixels.shape
    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    ihdr = struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0)
    rows = pixels.astype(">u2").reshape(height, width * channels).tobytes()
    stride = width * channels * 2
    raw = b"".join(b"\0" + rows[i * stride:(i + 1) * stride] for i in range(height))
    return (PNG_SIGNATURE + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(raw))
            + png_chunk(b"IEND", b""))


# --------------------------------------------------------------------------- TIFF by hand


def tiff_rgb_16bit(pixels: np.ndarray) -> bytes:
    """Uncompressed little-endian TIFF, 3 samples of 16 bits, one strip."""
    pixels = np.asarray(pixels, dtype="<u2")
    height, width, _ = pixels.shape
    data = pixels.tobytes()
    entries = 10
    ifd_offset = 8
    ifd_size = 2 + entries * 12 + 4
    bits_offset = ifd_offset + ifd_size
    strip_offset = bits_offset + 6

    def entry(tag: int, kind: int, count: int, value: int) -> bytes:
        packed = struct.pack("<H", value) + b"\0\0" if kind == 3 and count == 1 else struct.pack("<I", value)
        return struct.pack("<HHI", tag, kind, count) + packed

    ifd = struct.pack("<H", entries) + b"".join([
        entry(256, 4, 1, width),
        entry(257, 4, 1, height),
        entry(258, 3, 3, bits_offset),  # BitsPerSample 16,16,16 stored after the IFD
        entry(259, 3, 1, 1),  # no compression
        entry(262, 3, 1, 2),  # RGB
        entry(273, 4, 1, strip_offset),
        entry(277, 3, 1, 3),  # samples per pixel
        entry(278, 4, 1, height),  # rows per strip
        entry(279, 4, 1, len(data)),
        entry(284, 3, 1, 1),  # chunky
    ]) + struct.pack("<I", 0)
    return b"II*\0" + struct.pack("<I", ifd_offset) + ifd + struct.pack("<3H", 16, 16, 16) + data


# --------------------------------------------------------------------------- EXIF and images

GPS_IFD = 0x8825
EXIF_IFD = 0x8769
BODY_SERIAL = 0xA431
ORIENTATION = 0x0112


def camera_exif(orientation: int | None = None, serial: str = "SN-0042-SECRET") -> Image.Exif:
    """EXIF as a camera writes it: make/model, body serial number, and a GPS position."""
    exif = Image.Exif()
    exif[0x010F] = "Knockout Test Camera Co."  # Make
    exif[0x0110] = "Model T"
    if orientation is not None:
        exif[ORIENTATION] = orientation
    exif.get_ifd(EXIF_IFD)[BODY_SERIAL] = serial
    gps = exif.get_ifd(GPS_IFD)
    gps[1] = "N"
    gps[2] = (51.0, 30.0, 12.5)
    gps[3] = "W"
    gps[4] = (0.0, 7.0, 39.0)
    return exif


def quadrants(size: tuple[int, int], top_left: tuple[int, int, int],
              rest: tuple[int, int, int]) -> Image.Image:
    """An RGB image of ``rest`` colour with its top-left quadrant in ``top_left``."""
    width, height = size
    img = Image.new("RGB", size, rest)
    img.paste(top_left, (0, 0, width // 2, height // 2))
    return img


def near(actual: Sequence[int], expected: Sequence[int], tolerance: int) -> bool:
    return all(abs(int(a) - int(e)) <= tolerance for a, e in zip(actual, expected, strict=True))


def exif_with_text_orientation(text: bytes = b"6\0") -> bytes:
    """EXIF whose Orientation (a SHORT by the standard) is stored as ASCII text, as some
    editors and phone apps write it."""
    value = text.ljust(4, b"\0") if len(text) <= 4 else b""
    offset = 8 + 2 + 12 + 4  # header, entry count, the one entry, next-IFD pointer
    entry = struct.pack("<HHI", ORIENTATION, 2, len(text)) + (value or struct.pack("<I", offset))
    tiff = b"II*\0" + struct.pack("<I", 8) + struct.pack("<H", 1) + entry + struct.pack("<I", 0)
    return b"Exif\0\0" + tiff + (b"" if value else text)


# --------------------------------------------------------------------------- outlines

def disc(blur: float = 0.0, noise: float = 0.0, size: int = 1024, seed: int = 1) -> tuple[Image.Image, Image.Image]:
    """A brown disc on light grey and its exact mask: the outline blurred by ``blur`` (Gaussian
    sigma, px) and the photo given Gaussian grain of ``noise`` levels, for the source checks."""
    photo = Image.new("RGB", (size, size), (200, 205, 210))
    alpha = Image.new("L", (size, size), 0)
    box = (size // 4, size // 5, 3 * size // 4, 4 * size // 5)
    ImageDraw.Draw(photo).ellipse(box, fill=(120, 60, 40))
    ImageDraw.Draw(alpha).ellipse(box, fill=255)
    if blur:
        photo = photo.filter(ImageFilter.GaussianBlur(blur))
    pixels = np.asarray(photo, np.float32) + np.random.default_rng(seed).normal(0, noise, (size, size, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)), alpha
