"""Is this photo worth cutting? Checks on the source file, before anyone blames the cutout.

A cutout is only as good as its photo. A picture forwarded through a messaging app (small,
recompressed hard, its camera metadata stripped), a photo the export has to enlarge to fill
its canvas, a soft or noisy outline, or a wide-gamut camera JPEG without its colour profile
all make a poor product image however good the mask is. Each check says so as a
:class:`~app.core.qa.Flag` in plain words, and together they give the source a 0–100 score.
Which checks run and their thresholds are a preset's (:class:`SourceChecks`), and so is
whether an enlargement is refused outright (:class:`UpscaleRefused`). Pure numpy + Pillow.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from PIL import ExifTags, Image

from app.core.errors import ImageError
from app.core.qa import Flag
from app.core.source_edges import EdgeMeasure, measure_edges

CHECKS = ("jpeg", "upscale", "edges", "profile")
CODES = frozenset({"recompressed", "upscaled", "soft-edge", "noisy", "no-profile"})

# The IJG (libjpeg) example tables at quality 50, in natural (row-major) order, as Pillow reports them.
IJG_LUMA = np.array([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99], dtype=np.float64)
IJG_CHROMA = np.array([
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99,
    24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99,
    *([99] * 32)], dtype=np.float64)
CAMERA_TAGS = (ExifTags.Base.Make, ExifTags.Base.Model, ExifTags.Base.DateTimeOriginal,
               ExifTags.Base.ExposureTime, ExifTags.Base.FNumber, ExifTags.Base.ISOSpeedRatings)
UNCALIBRATED = 0xFFFF  # EXIF ColorSpace: not sRGB (cameras set it for Adobe RGB)
ADOBE_RGB_INTEROP = "R03"  # EXIF InteroperabilityIndex of an Adobe RGB (DCF option) file
INTEROP_INDEX = 0x0001
# EXIF reading: Pillow raises these on damaged metadata; a photo must never fail on them here.
METADATA_DAMAGE = (SyntaxError, ValueError, KeyError, TypeError, IndexError, struct.error, OSError)


class UpscaleRefused(ImageError):
    """The preset refuses to enlarge a photo this much to fill its canvas."""

    code = "upscale_refused"


@dataclass(frozen=True)
class SourceChecks:
    """Which source checks run and when they speak (a preset's ``source_checks``)."""

    checks: tuple[str, ...] = CHECKS
    min_jpeg_quality: int = 60  # a JPEG estimated below this is flagged as recompressed hard
    messaging_side: int = 1600  # a messaging app's signature: long side at most this ...
    messaging_quality: int = 75  # ... a quality below this, and no camera metadata
    max_upscale: float = 1.25  # the export may enlarge the subject this much before it is flagged
    refuse_upscale: bool = False  # more than max_upscale is an error for that photo, not a flag
    # px across the outline at source_edges.EDGE_SIDE: a sharp edge measures 1.4-1.6, a Gaussian blur of
    # sigma 1 about 3, of 1.5 about 4.2, of 3 about 7.5 (synthetic edges, with or without grain)
    max_edge_width: float = 4.0
    max_noise: float = 6.0  # luminance grain (standard deviation, 0..255) on flat parts at EDGE_SIDE

    def __post_init__(self) -> None:
        unknown = sorted(set(self.checks) - set(CHECKS))
        if unknown:
            raise ValueError(f"unknown source check(s) {', '.join(unknown)} (known: {', '.join(CHECKS)})")
        for name, low, high in (("min_jpeg_quality", 1, 100), ("messaging_quality", 1, 100),
                                ("messaging_side", 1, 1_000_000)):
            if not low <= getattr(self, name) <= high:
                raise ValueError(f"{name} must be between {low} and {high}")
        if self.max_upscale < 1:
            raise ValueError("max_upscale must be at least 1 (1 = never enlarge)")
        if self.max_edge_width <= 0 or self.max_noise <= 0:
            raise ValueError("max_edge_width and max_noise must be above 0")

    def runs(self, check: str) -> bool:
        return check in self.checks

    @classmethod
    def from_dict(cls, raw: Any) -> SourceChecks:
        """A preset file's ``source_checks`` object; ValueError says what is wrong."""
        if not isinstance(raw, dict):
            raise ValueError("source_checks must be an object like {\"max_upscale\": 1.5, \"refuse_upscale\": true}")
        defaults = {f.name: f.default for f in fields(cls)}
        extra = sorted(set(raw) - set(defaults))
        if extra:
            raise ValueError(f"unknown source_checks key(s) {', '.join(extra)} (allowed: {', '.join(defaults)})")
        values: dict[str, Any] = {}
        for key, value in raw.items():
            default = defaults[key]
            if key == "checks":
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise ValueError(f"source_checks.checks must be a list drawn from {', '.join(CHECKS)}")
                values[key] = tuple(value)
            elif isinstance(default, bool):
                if not isinstance(value, bool):
                    raise ValueError(f"source_checks.{key} must be true or false")
                values[key] = value
            elif isinstance(value, bool) or not isinstance(value, (int, float)) or (
                    isinstance(default, int) and not isinstance(value, int)):
                kind = "whole number" if isinstance(default, int) else "number"
                raise ValueError(f"source_checks.{key} must be a {kind}, not {value!r}")
            else:
                values[key] = value
        try:
            return cls(**values)
        except ValueError as exc:
            raise ValueError(f"source_checks: {exc}") from None

    def as_dict(self) -> dict[str, Any]:
        return {f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v for f in fields(self)}


DEFAULT_CHECKS = SourceChecks()


@dataclass(frozen=True)
class SourceFacts:
    """What the file itself says about the photo, read from its header (no pixels)."""

    format: str
    size: tuple[int, int]
    jpeg_quality: int | None = None  # estimated from the quantisation tables
    camera_metadata: bool = False  # EXIF with camera fields (make, model, exposure...)
    icc_profile: bool = False
    colour_space: int | None = None  # EXIF ColorSpace (1 = sRGB, 0xFFFF = uncalibrated)
    interop_index: str | None = None  # EXIF InteroperabilityIndex ("R98" sRGB, "R03" Adobe RGB)


@dataclass(frozen=True)
class SourceReport:
    """The source's flags and its 0–100 score (100: nothing against it)."""

    flags: list[Flag]
    score: int


def ijg_table(base: np.ndarray, quality: int) -> np.ndarray:
    """libjpeg's ``jpeg_quality_scaling`` of an example table (baseline: values 1..255)."""
    scale = 5000 / quality if quality < 50 else 200 - 2 * quality
    return np.clip(np.floor((base * scale + 50) / 100), 1, 255)


_TABLES = {q: (np.log(ijg_table(IJG_LUMA, q)), np.log(ijg_table(IJG_CHROMA, q))) for q in range(1, 101)}


def estimate_quality(tables: dict[int, Any] | None) -> int | None:
    """The IJG quality (1..100) whose tables are nearest to ``tables`` (``Image.quantization``).

    libjpeg's scaling inverted by search: every quality's tables are made with its formula
    and compared in log terms (a step of 2 at quality 95 matters as much as 40 at 30), so a
    file from libjpeg gives back its exact setting and a camera's own tables the nearest one.
    """
    if not tables or 0 not in tables or len(tables[0]) != 64:
        return None
    luma = np.log(np.maximum(np.asarray(tables[0], np.float64), 1))
    chroma = np.log(np.maximum(np.asarray(tables[1], np.float64), 1)) if len(tables.get(1, ())) == 64 else None

    def error(quality: int) -> float:
        ref_luma, ref_chroma = _TABLES[quality]
        err = float(np.abs(luma - ref_luma).mean())
        return err if chroma is None else err + 0.5 * float(np.abs(chroma - ref_chroma).mean())

    return min(_TABLES, key=error)


def facts(opened: Image.Image, exif: Image.Exif | None = None) -> SourceFacts:
    """The source facts of a just-opened image (before its pixels are decoded)."""
    fmt = opened.format or "unknown"
    quality = estimate_quality(getattr(opened, "quantization", None)) if fmt in ("JPEG", "MPO") else None
    camera, space, interop = False, None, None
    try:
        exif = opened.getexif() if exif is None else exif
        sub = exif.get_ifd(ExifTags.IFD.Exif)
        camera = any(tag in exif or tag in sub for tag in CAMERA_TAGS)
        space = sub.get(ExifTags.Base.ColorSpace)
        index = exif.get_ifd(ExifTags.IFD.Interop).get(INTEROP_INDEX)
        interop = index.strip("\0 ") if isinstance(index, str) else None
    except METADATA_DAMAGE:
        pass
    return SourceFacts(fmt, opened.size, quality, camera, bool(opened.info.get("icc_profile")),
                       space if isinstance(space, int) else None, interop)


def refuse_upscale(factor: float, checks: SourceChecks, name: str, preset: str | None = None,
                   at_least: bool = False) -> None:
    """UpscaleRefused when the preset refuses an enlargement this large (``at_least``: a lower
    bound, judged from the whole photo before its subject is known)."""
    if checks.runs("upscale") and checks.refuse_upscale and factor > checks.max_upscale:
        by = f"the {preset} preset" if preset else "the preset"
        raise UpscaleRefused(f"not exported: {by} refuses to enlarge a photo more than "
                             f"{checks.max_upscale:g}× and this one would be upscaled {'at least ' * at_least}"
                             f"{factor:.1f}× to fill its canvas; use a larger original", name)


def _jpeg(source: SourceFacts, checks: SourceChecks) -> tuple[Flag | None, float]:
    quality = source.jpeg_quality
    if quality is None:
        return None, 0.0
    long_side = max(source.size)
    messaging = (long_side <= checks.messaging_side and quality < checks.messaging_quality
                 and not source.camera_metadata)
    penalty = min(35.0, max(0.0, (90 - quality) * 0.6)) + (10.0 if messaging else 0.0)
    if messaging:
        return Flag("recompressed", f"This looks like a photo sent through a messaging app: only {source.size[0]}×"
                                    f"{source.size[1]} px, recompressed hard (JPEG quality about {quality}) and "
                                    "without its camera metadata. Ask for the original file.",
                    params={"variant": "messaging", "width": source.size[0], "height": source.size[1],
                            "quality": quality}), penalty
    if quality < checks.min_jpeg_quality:
        return Flag("recompressed", f"This JPEG was recompressed hard (quality about {quality} of 100): blocky "
                                    "artefacts may show along the cutout's edge. Use the original if there is "
                                    "one.", params={"quality": quality}), penalty
    return None, penalty


def upscale(factor: float, subject: tuple[int, int] | None, checks: SourceChecks) -> Flag | None:
    """The "upscaled" flag when the export enlarges the subject more than ``checks`` allow."""
    if factor <= checks.max_upscale:
        return None
    size = f" (the subject is only {subject[0]}×{subject[1]} px)" if subject else ""
    return Flag("upscaled", f"Upscaled {factor:.1f}×: the export enlarges this photo to fill its canvas{size}, so "
                            "it will look soft. Use a larger original if there is one.",
                params={"factor": round(factor, 1), **({"variant": "subject", "width": subject[0],
                                                         "height": subject[1]} if subject else {})})


def _upscale(factor: float | None, subject: tuple[int, int] | None, checks: SourceChecks) -> tuple[Flag | None, float]:
    if factor is None or factor <= 1.0:
        return None, 0.0
    return upscale(factor, subject, checks), min(40.0, (factor - 1) * 30)


def _edges(measure: EdgeMeasure | None, checks: SourceChecks) -> tuple[list[Flag], float]:
    if measure is None:
        return [], 0.0
    flags = []
    width, noise = measure.width, measure.noise
    penalty = min(25.0, max(0.0, (noise - 2.0) * 3.0))
    if width is not None:
        penalty += min(30.0, max(0.0, (width - 2.5) * 8))
    if width is not None and width > checks.max_edge_width:
        flags.append(Flag("soft-edge", f"The subject's outline is blurred (about {width:.0f} px wide where a sharp "
                                       "edge is under 2): out of focus or moved. The cutout's edge will look soft.",
                          params={"width": round(width)}))
    if noise > checks.max_noise:
        flags.append(Flag("noisy", f"The photo is very grainy (about {noise:.0f} of 255 on its flattest parts): a "
                                   "dark or high-ISO shot, or a fine texture such as gravel. The cutout's edge may "
                                   "look ragged.", params={"noise": round(noise)}))
    return flags, penalty


def _profile(source: SourceFacts) -> tuple[Flag | None, float]:
    wide = source.colour_space == UNCALIBRATED or source.interop_index == ADOBE_RGB_INTEROP
    if source.format not in ("JPEG", "MPO") or source.icc_profile or not wide:
        return None, 0.0
    return Flag("no-profile", "The camera saved this photo in a wide colour space (Adobe RGB) but the file has no "
                              "colour profile, so its colours are read as sRGB and look dull. Export it again with "
                              "the profile embedded."), 10.0


def assess(source: SourceFacts | None, photo: Image.Image, alpha: Image.Image,
           checks: SourceChecks = DEFAULT_CHECKS, factor: float | None = None,
           subject: tuple[int, int] | None = None) -> SourceReport:
    """The source checks a preset asks for. ``photo``/``alpha``: the decoded photo and its final
    mask at full resolution; ``factor``: how much the export enlarges the subject (of ``subject``
    px), from app.core.export.enlargement; None when the export has no canvas."""
    results: list[tuple[Flag | None, float]] = []
    if source is not None and checks.runs("jpeg"):
        results.append(_jpeg(source, checks))
    if checks.runs("upscale"):
        results.append(_upscale(factor, subject, checks))
    if source is not None and checks.runs("profile"):
        results.append(_profile(source))
    flags = [flag for flag, _ in results if flag is not None]
    penalty = sum(p for _, p in results)
    if checks.runs("edges"):
        edge_flags, edge_penalty = _edges(measure_edges(photo, alpha), checks)
        flags += edge_flags
        penalty += edge_penalty
    return SourceReport(flags, max(0, min(100, math.floor(100.5 - penalty))))
