"""Judging one cut-out photo: the cutout's QA flags and its source's quality, in one place.

``cut``, ``watch`` (app.batch.pipeline), the window's cutouts (app.desktop.cutouts) and its
hot folder all call ``assess``; a preset that refuses to enlarge a photo says so through
``refuse_upscale``, in the batch before rendering and in ``ExportService.export``. A delivery
set's outputs each have their own canvas: the largest enlargement among them is the one judged,
and an output its preset refuses to enlarge fails on its own, like any output of a set.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image

from app.core import qa, source_quality
from app.core.decode import Decoded
from app.core.export import ExportSettings, canvas_enlargement, enlargement
from app.core.source_quality import DEFAULT_CHECKS, SourceChecks


@dataclass(frozen=True)
class Assessment:
    """What the checks found on one cut-out photo: flags with plain reasons, and its source's score."""

    flags: list[dict[str, str]]
    source_score: int


def largest_enlargement(alpha: Image.Image, targets: Sequence[ExportSettings]) -> tuple[float, tuple[int, int]] | None:
    """The largest enlargement of this mask's subject among ``targets`` (an export's settings, or
    each output's of a delivery set), with the subject's size; None when none has a canvas."""
    grown = [g for settings in targets if (g := enlargement(alpha, settings)) is not None]
    return max(grown, key=lambda g: g[0]) if grown else None


def assess(decoded: Decoded, alpha: Image.Image, checks: SourceChecks = DEFAULT_CHECKS,
           targets: Sequence[ExportSettings] = ()) -> Assessment:
    """The one place a cut-out photo is judged, for ``cut``, ``watch``, the window and its hot folder:
    the cutout's QA flags (app.core.qa), then the source's (app.core.source_quality) with ``checks``
    (a preset's). How much the export enlarges the photo is judged only when its settings
    (``targets``) are known (the window cuts before an export picks a preset: ``ExportService.export``
    judges it then)."""
    flags = qa.assess_images(decoded.image, alpha)
    grown = largest_enlargement(alpha, targets)
    factor, subject = grown if grown is not None else (None, None)
    source = source_quality.assess(decoded.source, decoded.image, alpha, checks, factor, subject)
    return Assessment([flag.as_dict() for flag in [*flags, *source.flags]], source.score)


def refuse_upscale(alpha: Image.Image, settings: ExportSettings, checks: SourceChecks, name: str,
                   preset: str | None = None) -> None:
    """UpscaleRefused (that photo fails, nothing is written) when ``checks`` (``preset``'s) refuse
    the enlargement the export would need for this mask."""
    grown = enlargement(alpha, settings)
    if grown is not None:
        source_quality.refuse_upscale(grown[0], checks, name, preset)


def refuse_upscale_early(size: tuple[int, int], settings: ExportSettings, checks: SourceChecks, name: str) -> None:
    """``refuse_upscale`` before the model runs: the subject is at most the whole photo, so if even
    the whole photo would be enlarged more than ``checks`` allow, the photo is refused now."""
    factor = canvas_enlargement(size, settings)
    if factor is not None:
        source_quality.refuse_upscale(factor, checks, name, at_least=True)


def upscale_flag(alpha: Image.Image, targets: Sequence[ExportSettings], checks: SourceChecks) -> dict[str, str] | None:
    """The "upscaled" flag for an export of a cutout whose mask already exists (the window's): its
    cut-out was judged before a preset was chosen, so the enlargement is judged at export."""
    grown = largest_enlargement(alpha, targets)
    if grown is None or not checks.runs("upscale"):
        return None
    flag = source_quality.upscale(grown[0], grown[1], checks)
    return flag.as_dict() if flag is not None else None
