"""``knockout eval IMAGES MASKS``: run models over photos with ground truth and score them.

Exit codes as for ``cut``: 0 every pair scored, 1 some pairs failed (unreadable photo or
mask, size mismatch, model error; the rest are still scored and reported), 2 usage error
(folders missing, no photo has a mask).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from app.core import metrics
from app.core.atomic import write_atomic
from app.core.decode import DEFAULT_MAX_PIXELS, Decoded, open_image
from app.core.decontaminate import estimate_foreground
from app.core.errors import ImageError
from app.evaluation import report
from app.evaluation.pairs import Pair, SizeMismatch, load_mask, match
from app.evaluation.results import Row, Summary, summarise, to_csv, worst
from app.inference.providers import DEVICES

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
DEFAULT_WORST = 8


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``eval`` on the ``knockout`` sub-command parser."""
    p = subparsers.add_parser(
        "eval", help="benchmark models on your own photos with ground-truth masks",
        description="Score one or more models on photos with ground-truth masks (matched by file stem; "
        "8-bit masks, 255 = foreground, soft alpha allowed): IoU, MAE, SAD and boundary F per image "
        "and as a mean per model.")
    p.add_argument("images", type=Path, metavar="IMAGES", help="folder of photos")
    p.add_argument("masks", type=Path, metavar="MASKS", help="folder of ground-truth masks with the same stems")
    p.add_argument("--ignore", type=Path, metavar="DIR",
                   help="folder of masks whose 255 pixels are left out of IoU/MAE/SAD (e.g. a mixed-pixel band)")
    p.add_argument("--fg", type=Path, metavar="DIR",
                   help="folder of true foreground colour layers: adds the white-flatten error in the edge band")
    p.add_argument("--model", action="append", metavar="ID",
                   help="model id to score; repeat for several (default: the bundled default)")
    p.add_argument("--device", choices=DEVICES, default="auto", help="as for `knockout cut`")
    p.add_argument("--refine-edges", action=argparse.BooleanOptionalAction, default=True,
                   help="as for `knockout cut` (default: on)")
    p.add_argument("--decontaminate", action=argparse.BooleanOptionalAction, default=True,
                   help="as for `knockout cut`; the white-flatten error is of the colours cut would export")
    p.add_argument("--recover-parts", action="store_true", help="as for `knockout cut` (default: off)")
    p.add_argument("--auto-recover-parts", action=argparse.BooleanOptionalAction, default=True,
                   help="as for `knockout cut` (default: on)")
    p.add_argument("--views", type=int, choices=(1, 2), default=1, help="as for `knockout cut` (default 1)")
    p.add_argument("--threads", type=int, default=None, help="CPU inference threads (default: all cores)")
    p.add_argument("--csv", type=Path, metavar="FILE", help="write one row per image × model")
    p.add_argument("--html", type=Path, metavar="FILE", help="write a self-contained HTML report")
    p.add_argument("--worst", type=int, default=DEFAULT_WORST, metavar="N",
                   help=f"images per model shown in the HTML report, lowest IoU first (default {DEFAULT_WORST})")
    p.add_argument("--max-megapixels", type=float, default=DEFAULT_MAX_PIXELS / 1e6,
                   help="refuse larger photos before decoding")
    p.add_argument("-v", "--verbose", action="store_true", help="also print every image's scores")
    p.set_defaults(run=run)
    return p


def _engine(model_id: str | None, args: argparse.Namespace) -> Any:
    """The inference engine for one model (tests replace this with a fake)."""
    from app.inference.engine import Engine

    return Engine(model=model_id, device=args.device, threads=args.threads)


def _usage(message: str) -> int:
    print(f"knockout eval: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _check_folders(args: argparse.Namespace) -> str | None:
    for label, folder in (("IMAGES", args.images), ("MASKS", args.masks), ("--ignore", args.ignore),
                          ("--fg", args.fg)):
        if folder is not None and not folder.is_dir():
            return f"{label}: {folder} is not a folder"
    if args.worst < 0:
        return "--worst must be 0 or more"
    return None


def run(args: argparse.Namespace, context: object = None) -> int:
    """Score every matched pair with every model; print the table, write CSV/HTML if asked."""
    from app.inference.manifest import ManifestError
    from app.inference.session import ModelError

    problem = _check_folders(args)
    if problem:
        return _usage(problem)
    matching = match(args.images, args.masks, args.ignore, args.fg)
    if matching.duplicates:
        print(f"knockout eval: same stem twice, kept the first: {', '.join(matching.duplicates)}", file=sys.stderr)
    if matching.unmatched:
        print(f"knockout eval: {len(matching.unmatched)} photo(s) without a mask, skipped: "
              f"{', '.join(matching.unmatched[:10])}{' …' if len(matching.unmatched) > 10 else ''}",
              file=sys.stderr)
    if not matching.pairs:
        return _usage(f"no photo in {args.images} has a mask with the same stem in {args.masks}")
    try:
        engines = {}
        for model_id in dict.fromkeys(args.model or [None]):
            engine = _engine(model_id, args)
            engine.load()  # fail fast on a missing or tampered model, before any photo
            engines[engine.spec.id] = engine
    except (ModelError, ManifestError) as exc:
        print(f"knockout eval: {exc}", file=sys.stderr)
        return EXIT_FAILED
    models = list(engines)
    count = len(matching.pairs)
    print(f"knockout eval: {count} pair{'s' if count != 1 else ''} · "
          + ", ".join(f"{m} on {e.description}" for m, e in engines.items()), file=sys.stderr)

    from app.batch.pipeline import MaskOptions

    mask_options = MaskOptions(args.refine_edges, recover_parts=args.recover_parts, views=args.views,
                               auto_recover_parts=args.auto_recover_parts)
    evaluation = Evaluation(engines, int(args.max_megapixels * 1e6), thumbnails=args.worst > 0 and bool(args.html),
                            mask_options=mask_options, decontaminate=args.decontaminate)
    rows: list[Row] = []
    for pair in _progress(matching.pairs):
        for row in evaluation.score_pair(pair):
            rows.append(row)
            if not row.ok:
                print(f"FAILED {row.image} ({row.model}): {row.error}", file=sys.stderr)

    summaries = [summarise(rows, m) for m in models]
    print(format_table(summaries, rows if args.verbose else []))
    try:
        if args.csv:
            _write_text(args.csv, to_csv(rows))
        if args.html:
            page = report.render(
                f"Knockout eval · {_folder_label(args.images)}", summaries, rows,
                {m: worst(rows, m, args.worst) for m in models}, evaluation.pair_thumbs, evaluation.pred_thumbs)
            _write_text(args.html, page)
    except OSError as exc:
        print(f"knockout eval: cannot write {exc.filename or 'the report'} ({exc.strerror or exc})", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_FAILED if any(not r.ok for r in rows) else EXIT_OK


def _folder_label(folder: Path) -> str:
    """'grabcut/images' rather than just 'images': enough to tell reports apart."""
    resolved = folder.resolve()
    return f"{resolved.parent.name}/{resolved.name}" if resolved.parent.name else resolved.name


def _write_text(path: Path, text: str) -> None:
    def write(fh: BinaryIO) -> None:
        fh.write(text.encode("utf-8"))

    write_atomic(path, write)


def _progress(pairs: list[Pair]) -> Iterable[Pair]:
    if not sys.stderr.isatty():
        return pairs
    from tqdm import tqdm

    return tqdm(pairs, unit="img", file=sys.stderr, dynamic_ncols=True, leave=False)


class Evaluation:
    """Scores pairs one at a time, keeping only small thumbnails for the report."""

    def __init__(self, engines: dict[str, Any], max_pixels: int, thumbnails: bool,
                 mask_options: Any = None, decontaminate: bool = True) -> None:
        self.engines = engines
        self.mask_options = mask_options  # app.batch.pipeline.MaskOptions; None: its defaults
        self.decontaminate = decontaminate
        self.max_pixels = max_pixels
        self.thumbnails = thumbnails
        self.pair_thumbs: dict[str, tuple[str, str]] = {}
        self.pred_thumbs: dict[tuple[str, str], tuple[str, str]] = {}

    def score_pair(self, pair: Pair) -> list[Row]:
        """One row per model; every model's row carries the error when the truth cannot be read."""
        try:
            decoded = open_image(pair.image, self.max_pixels, pair.name)
            gt, valid, true_fg = self._truth(pair, decoded.size)
        except ImageError as exc:
            where = f" [{exc.path}]" if exc.path and exc.path != pair.name else ""  # mask/ignore/fg layer
            return [Row(pair.name, m, error=f"{exc.code}: {exc.message}{where}") for m in self.engines]
        except MemoryError:
            return [Row(pair.name, m, error="out_of_memory: not enough memory for this image") for m in self.engines]
        width, height = decoded.size
        photo = np.asarray(decoded.image) if true_fg is not None else None
        if self.thumbnails:
            self.pair_thumbs[pair.name] = (report.photo_uri(decoded.image), report.alpha_uri(gt))
        rows = []
        for model_id, engine in self.engines.items():
            started = time.perf_counter()
            try:
                alpha = _matte(engine, decoded, self.mask_options)
                colours = photo
                if photo is not None and self.decontaminate:
                    colours = np.asarray(estimate_foreground(decoded.image, alpha))
                pred = metrics.as_alpha(alpha)
                scores = metrics.score(pred, gt, valid, colours, true_fg)
            except Exception as exc:  # a failing model or photo is reported; the set goes on
                rows.append(Row(pair.name, model_id, width=width, height=height,
                                error=f"{type(exc).__name__}: {exc}"))
                continue
            rows.append(Row(pair.name, model_id, scores, width, height, time.perf_counter() - started))
            if self.thumbnails:
                self.pred_thumbs[(model_id, pair.name)] = (report.alpha_uri(pred), report.error_uri(pred, gt, valid))
        return rows

    def _truth(
        self, pair: Pair, size: tuple[int, int]
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """Ground-truth alpha (0..1), the valid-pixel mask and the true foreground colours, if given."""
        gt = metrics.as_alpha(load_mask(pair.mask, size))
        valid = load_mask(pair.ignore, size) < 255 if pair.ignore else None
        true_fg = None
        if pair.fg:
            fg = open_image(pair.fg, self.max_pixels, str(pair.fg))
            if fg.size != size:
                raise SizeMismatch(f"{pair.fg.name} is {fg.size[0]}×{fg.size[1]}, the photo {size[0]}×{size[1]}",
                                   str(pair.fg))
            true_fg = np.asarray(fg.image)
        return gt, valid, true_fg


def _matte(engine: Any, decoded: Decoded, options: Any) -> Any:
    from app.batch.pipeline import MaskOptions, matte

    return matte(engine, decoded, options or MaskOptions())


def format_table(summaries: list[Summary], rows: list[Row]) -> str:
    """Per-image lines (when given) then the per-model means, as aligned plain text."""
    with_flatten = any(s.flatten_error is not None for s in summaries)
    header = ["model", "image", "IoU", "MAE", "SAD", "BF"] + (["flatten"] if with_flatten else []) + ["s/img"]
    lines: list[list[str]] = [header]

    def num(value: float | None, digits: int) -> str:
        return "-" if value is None else f"{value:.{digits}f}"

    for r in rows:
        s = r.scores
        cells = [r.model, r.image]
        if s is None:
            cells += ["failed", "", "", ""] + ([""] if with_flatten else []) + [""]
        else:
            cells += [num(s.iou, 3), num(s.mae, 4), num(s.sad, 2), num(s.bf, 3)]
            cells += [num(s.flatten_error, 2)] if with_flatten else []
            cells.append(num(r.seconds, 2))
        lines.append(cells)
    for m in summaries:
        label = f"mean of {m.images}" + (f" ({m.failed} failed)" if m.failed else "")
        cells = [m.model, label, num(m.iou, 3), num(m.mae, 4), num(m.sad, 2), num(m.bf, 3)]
        cells += [num(m.flatten_error, 2)] if with_flatten else []
        cells.append(num(m.seconds, 2))
        lines.append(cells)
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in
                               enumerate(zip(line, widths, strict=True))).rstrip() for line in lines)
