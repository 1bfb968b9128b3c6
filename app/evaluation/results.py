"""Per image × model rows, their means per model, and the CSV that carries them."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from app.core.metrics import Scores

CSV_FIELDS = ("image", "model", "status", "iou", "mae", "sad", "bf", "flatten_error",
              "width", "height", "seconds", "error")


@dataclass
class Row:
    """One photo scored for one model; ``scores`` is None when the pair failed (``error`` says why)."""

    image: str
    model: str
    scores: Scores | None = None
    width: int | None = None
    height: int | None = None
    seconds: float = 0.0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.scores is not None


@dataclass(frozen=True)
class Summary:
    """Means over the images a model scored; ``flatten_error`` over those with a foreground layer."""

    model: str
    images: int
    failed: int
    iou: float | None
    mae: float | None
    sad: float | None
    bf: float | None
    flatten_error: float | None
    seconds: float | None


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def summarise(rows: list[Row], model: str) -> Summary:
    mine = [r for r in rows if r.model == model]
    scored = [r.scores for r in mine if r.scores is not None]
    flats = [s.flatten_error for s in scored if s.flatten_error is not None]
    return Summary(
        model, len(scored), len(mine) - len(scored),
        _mean([s.iou for s in scored]), _mean([s.mae for s in scored]), _mean([s.sad for s in scored]),
        _mean([s.bf for s in scored]), _mean(flats), _mean([r.seconds for r in mine if r.ok]),
    )


def worst(rows: list[Row], model: str, count: int) -> list[Row]:
    """The ``count`` lowest-IoU images of ``model`` (ties: larger MAE first)."""
    scored = [r for r in rows if r.model == model and r.scores is not None]
    scored.sort(key=lambda r: (r.scores.iou, -r.scores.mae) if r.scores else (0.0, 0.0))
    return scored[:count]


def _cell(value: float | int | None, digits: int = 6) -> str:
    if value is None:
        return ""
    return str(round(value, digits)) if isinstance(value, float) else str(value)


def to_csv(rows: list[Row]) -> str:
    """One line per image × model, failures included with their reason."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for r in rows:
        s = r.scores
        writer.writerow([
            r.image, r.model, "ok" if s else "failed",
            *(_cell(getattr(s, name)) if s else "" for name in ("iou", "mae", "sad", "bf", "flatten_error")),
            _cell(r.width), _cell(r.height),
            _cell(r.seconds, 3), r.error or "",
        ])
    return out.getvalue()
