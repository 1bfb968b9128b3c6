"""Does an exported image follow its preset's rules? (pure numpy + Pillow)

Checks what a marketplace reviewer would: the background really is the colour asked for
(sampled on the image's border, corners included), the subject fills the canvas within a
range, the image is big enough and not too big, has an allowed shape and file format, fits
the file size limit, and it is sRGB. Each problem is a ``Violation`` with a
plain-language message for the person who exported the file. ``Rules`` lives here so the
core does not depend on ``app.governance.presets`` (which re-exports it).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image, ImageCms

BORDER = 2  # px of the border sampled for the background
COLOUR_TOLERANCE = 6  # per channel: JPEG noise on pure white stays within this
SUBJECT_TOLERANCE = 24  # a pixel this far from the background counts as subject
BORDER_SHARE = 0.99  # share of border pixels that must be background
SRGB_MODES = ("RGB", "RGBA", "L", "LA", "P", "1")
ASPECT_TOLERANCE = 0.01  # share a ratio may be off (2048×2730 is 3:4)
FILE_FORMATS = {"JPEG": "jpg", "MPO": "jpg", "PNG": "png", "TIFF": "tif", "GIF": "gif", "WEBP": "webp", "BMP": "bmp"}


@dataclass(frozen=True)
class Rules:
    """Compliance rules for a preset (None fields are not checked)."""

    background: tuple[int, int, int] | None = None  # e.g. pure white
    fill_range: tuple[float, float] | None = None  # subject's share of the longer canvas side
    min_size: int | None = None  # shorter side in px
    colour_space: str | None = "sRGB"
    min_long_side: int | None = None  # longer side at least, px (Amazon, eBay: "longest side")
    max_side: int | None = None  # longer side at most, px
    max_pixels: int | None = None  # width × height at most (Google: 64 MP)
    aspects: tuple[tuple[int, int], ...] | None = None  # allowed width:height ratios, e.g. ((1, 1), (4, 3))
    formats: tuple[str, ...] | None = None  # allowed file formats: jpg png tif gif webp bmp
    max_bytes: int | None = None  # file size limit (checked on the written file)
    opaque: bool = False  # no transparency anywhere


@dataclass(frozen=True)
class Violation:
    code: str  # background | fill | no-subject | too-small | too-large | aspect | format | file-size | transparent
    # | colour-space
    message: str
    # the sentence's numbers and names, and a "variant" of the code, for the window's languages
    params: dict[str, Any] = field(default_factory=dict, compare=False)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.params:
            out["params"] = dict(self.params)
        return out


def _rgba(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGBA"), dtype=np.int16)


def _colour_name(colour: tuple[int, int, int]) -> str:
    return "pure white" if colour == (255, 255, 255) else "#{:02x}{:02x}{:02x}".format(*colour)


def _background(pixels: np.ndarray, colour: tuple[int, int, int]) -> Violation | None:
    h, w = pixels.shape[:2]
    b = max(1, min(BORDER, h // 2, w // 2))
    ring = np.concatenate([pixels[:b].reshape(-1, 4), pixels[-b:].reshape(-1, 4),
                           pixels[:, :b].reshape(-1, 4), pixels[:, -b:].reshape(-1, 4)])
    corners = np.stack([pixels[0, 0], pixels[0, -1], pixels[-1, 0], pixels[-1, -1]])
    target = np.array(colour, dtype=np.int16)

    def matches(px: np.ndarray) -> np.ndarray:
        return (np.abs(px[:, :3] - target).max(axis=1) <= COLOUR_TOLERANCE) & (px[:, 3] == 255)

    if (ring[:, 3] < 255).mean() > 1 - BORDER_SHARE:
        return Violation("background", f"The background is transparent, not {_colour_name(colour)}.",
                         {"variant": "transparent", "colour": _colour_name(colour)})
    if not matches(corners).all() or matches(ring).mean() < BORDER_SHARE:
        seen = tuple(int(c) for c in np.median(ring[:, :3], axis=0))
        return Violation("background", f"The background is not {_colour_name(colour)} "
                                       f"(the border is about rgb{seen}).",
                         {"colour": _colour_name(colour), "seen": f"rgb{seen}"})
    return None


def subject_box(pixels: np.ndarray, colour: tuple[int, int, int] | None) -> tuple[int, int, int, int] | None:
    """Bounding box (x0, y0, x1, y1) of pixels that are not background, or None."""
    opaque = pixels[..., 3] > 16
    if colour is None:
        subject = opaque
    else:
        far = np.abs(pixels[..., :3] - np.array(colour, dtype=np.int16)).max(axis=2) > SUBJECT_TOLERANCE
        subject = opaque & far
    rows, cols = np.any(subject, axis=1), np.any(subject, axis=0)
    if not rows.any():
        return None
    y0, y1 = np.argmax(rows), len(rows) - np.argmax(rows[::-1])
    x0, x1 = np.argmax(cols), len(cols) - np.argmax(cols[::-1])
    return int(x0), int(y0), int(x1), int(y1)


def _fill(pixels: np.ndarray, rules: Rules) -> Violation | None:
    assert rules.fill_range is not None
    box = subject_box(pixels, rules.background if rules.background is not None else _border_colour(pixels))
    if box is None:
        return Violation("no-subject", "No subject was found in the image.")
    h, w = pixels.shape[:2]
    share = max(box[2] - box[0], box[3] - box[1]) / max(w, h)
    low, high = rules.fill_range
    if share < low:
        return Violation("fill", f"The subject fills {share:.0%} of the image; this preset asks for at least "
                                 f"{low:.0%}. Use a larger fill or a tighter crop.",
                         {"variant": "low", "share": round(100 * share), "limit": round(100 * low)})
    if share > high:
        return Violation("fill", f"The subject fills {share:.0%} of the image; this preset allows at most "
                                 f"{high:.0%}. Leave more space around it.",
                         {"variant": "high", "share": round(100 * share), "limit": round(100 * high)})
    return None


def _border_colour(pixels: np.ndarray) -> tuple[int, int, int] | None:
    """The corners' colour when they agree and are opaque (a flattened image), else None."""
    corners = np.stack([pixels[0, 0], pixels[0, -1], pixels[-1, 0], pixels[-1, -1]])
    if (corners[:, 3] == 255).all() and np.ptp(corners[:, :3], axis=0).max() <= COLOUR_TOLERANCE:
        return tuple(int(c) for c in corners[0, :3])  # type: ignore[return-value]
    return None


def _colour_space(image: Image.Image, wanted: str) -> Violation | None:
    if image.mode not in SRGB_MODES:
        return Violation("colour-space", f"The image is {image.mode}, not {wanted}; export it as RGB.",
                         {"variant": "mode", "mode": image.mode, "wanted": wanted})
    icc = image.info.get("icc_profile")
    if icc:
        try:
            name = ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(icc))) or ""
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            name = "an unreadable profile"
        lowered = name.strip().lower()
        if not (lowered.startswith("srgb") or "iec61966-2" in lowered):
            return Violation("colour-space", f"The image carries the colour profile {name.strip()!r}, "
                                             f"not {wanted}.", {"profile": name.strip(), "wanted": wanted})
    return None


def _size(image: Image.Image, rules: Rules) -> list[Violation]:
    w, h = image.size
    found = []
    if rules.min_size is not None and min(w, h) < rules.min_size:
        found.append(Violation("too-small", f"The image is {w}×{h} px; this preset needs at least "
                                            f"{rules.min_size} px on the shorter side.",
                               {"variant": "short", "width": w, "height": h, "limit": rules.min_size}))
    if rules.min_long_side is not None and max(w, h) < rules.min_long_side:
        found.append(Violation("too-small", f"The image is {w}×{h} px; this preset needs at least "
                                            f"{rules.min_long_side} px on the longer side.",
                               {"width": w, "height": h, "limit": rules.min_long_side}))
    if rules.max_side is not None and max(w, h) > rules.max_side:
        found.append(Violation("too-large", f"The image is {w}×{h} px; this preset allows at most "
                                            f"{rules.max_side} px on the longer side.",
                               {"width": w, "height": h, "limit": rules.max_side}))
    if rules.max_pixels is not None and w * h > rules.max_pixels:
        found.append(Violation("too-large", f"The image has {w * h / 1e6:.1f} megapixels; this preset allows at most "
                                            f"{rules.max_pixels / 1e6:g}.",
                               {"variant": "pixels", "megapixels": round(w * h / 1e6, 1),
                                "limit": rules.max_pixels / 1e6}))
    if rules.aspects and not any(abs(w / h - a / b) <= ASPECT_TOLERANCE * a / b for a, b in rules.aspects):
        allowed = " or ".join(f"{a}:{b}" for a, b in rules.aspects)
        found.append(Violation("aspect", f"The image is {w}×{h} px; this preset asks for the shape {allowed}.",
                               {"width": w, "height": h, "shapes": [f"{a}:{b}" for a, b in rules.aspects]}))
    return found


def _file(image: Image.Image, rules: Rules, file_bytes: int | None) -> list[Violation]:
    """Rules on the file itself: its format (when ``image`` was opened from a file) and its size."""
    found = []
    written = FILE_FORMATS.get(image.format or "", (image.format or "").lower()) if image.format else None
    if rules.formats and written is not None and written not in rules.formats:
        found.append(Violation("format", f"The file is {written.upper()}; this preset accepts "
                                         f"{', '.join(f.upper() for f in rules.formats)}.",
                               {"format": written.upper(), "formats": ", ".join(f.upper() for f in rules.formats)}))
    if rules.max_bytes is not None and file_bytes is not None and file_bytes > rules.max_bytes:
        found.append(Violation("file-size", f"The file is {file_bytes / 1e6:.1f} MB; this preset allows at most "
                                            f"{rules.max_bytes / 1e6:g} MB.",
                               {"megabytes": round(file_bytes / 1e6, 1), "limit": rules.max_bytes / 1e6}))
    return found


def check(image: Image.Image, rules: Rules, file_bytes: int | None = None) -> list[Violation]:
    """Every rule ``image`` breaks (empty when it complies); ``file_bytes``: the written file's size."""
    problems: list[Violation | None] = [*_size(image, rules), *_file(image, rules, file_bytes)]
    if rules.colour_space is not None:
        problems.append(_colour_space(image, rules.colour_space))
    if rules.background is not None or rules.fill_range is not None or rules.opaque:
        pixels = _rgba(image)
        if rules.opaque and (pixels[..., 3] < 255).any():
            problems.append(Violation("transparent", "The image has transparent areas; this preset needs an "
                                                     "opaque image (flatten it onto a background)."))
        if rules.background is not None:
            problems.append(_background(pixels, rules.background))
        if rules.fill_range is not None:
            problems.append(_fill(pixels, rules))
    return [p for p in problems if p is not None]


def describe(rules: Rules) -> list[str]:
    """The rules ``check`` applies, in words (what the window lists as "checked on each file")."""
    return [words for words, _code, _params in _facts(rules)]


def describe_codes(rules: Rules) -> list[dict[str, Any]]:
    """``describe`` as ``{code, params}``, one per rule, for the window to say in its language."""
    return [{"code": code, "params": params} for _words, code, params in _facts(rules)]


def _facts(rules: Rules) -> list[tuple[str, str, dict[str, Any]]]:
    said: list[tuple[str, str, dict[str, Any]]] = []
    if rules.background is not None:
        colour = _colour_name(rules.background)
        said.append((f"{colour} background", "background", {"colour": colour}))
    if rules.opaque:
        said.append(("no transparency", "opaque", {}))
    if rules.fill_range is not None:
        low, high = rules.fill_range
        words = f"subject fills {low:.0%}" + (f"–{high:.0%}" if high < 1 else " or more") + " of the frame"
        said.append((words, "fill-range" if high < 1 else "fill", {"low": round(100 * low), "high": round(100 * high)}))
    for value, words, code in ((rules.min_size, "at least {} px on the shorter side", "min-short"),
                               (rules.min_long_side, "at least {} px on the longer side", "min-long"),
                               (rules.max_side, "at most {} px on the longer side", "max-long")):
        if value is not None:  # 10 000, never split
            said.append((words.format(f"{value:,}".replace(",", "\u00a0")), code, {"px": value}))
    if rules.max_pixels is not None:
        said.append((f"at most {rules.max_pixels / 1e6:g} megapixels", "max-pixels", {"limit": rules.max_pixels / 1e6}))
    if rules.aspects:
        shapes = [f"{a}:{b}" for a, b in rules.aspects]
        said.append(("shape " + " or ".join(shapes), "aspect", {"shapes": shapes}))
    if rules.formats:
        formats = "/".join(f.upper() for f in rules.formats)
        said.append((formats, "formats", {"formats": formats}))
    if rules.max_bytes is not None:
        said.append((f"at most {rules.max_bytes / 1e6:g} MB", "max-bytes", {"limit": rules.max_bytes / 1e6}))
    if rules.colour_space is not None:
        said.append((rules.colour_space, "colour-space", {"name": rules.colour_space}))
    return said
