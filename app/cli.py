"""The ``knockout`` command line: ``cut``, ``watch``, ``eval``, ``sample``, ``models``, ``diagnose`` and ``self-test``.

Exit codes: 0 every file done (written or skipped), 1 some files failed (the rest were
written), 2 usage error, 3 the machine policy is broken (Knockout refuses to run; the
message names the file and the problem).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from app import __version__, allocator, controls, diagnose, evaluation, netguard, paths, selftest
from app.core.decode import DEFAULT_MAX_PIXELS
from app.core.export import FORMATS, ExportSettings, parse_colour
from app.inference.manifest import ManifestError
from app.inference.providers import DEVICES
from app.inference.session import ModelError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_POLICY = 0, 1, 2, 3


class UsageError(Exception):
    pass


def _size(text: str) -> tuple[int, int]:
    try:
        w, _, h = text.lower().partition("x")
        size = (int(w), int(h or w))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT like 2000x2000, not {text!r}") from None
    if min(size) < 1 or max(size) > 30000:
        raise argparse.ArgumentTypeError(f"size out of range: {text!r}")
    return size


def _margin(text: str) -> float:
    """'5%' -> 0.05 of the subject; '40px' or '40' -> 40 pixels; '0.05' -> 0.05 of the subject."""
    value = text.strip().lower()
    try:
        if value.endswith("%"):
            return float(value[:-1]) / 100
        if value.endswith("px"):
            return max(1.0, float(value[:-2]))
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"margin like 5% or 40px, not {text!r}") from None


def _fill(text: str) -> float:
    value = float(text.rstrip("%")) / (100 if text.endswith("%") else 1)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError("fill is a share of the canvas: 0.85 or 85%")
    return value


def _add_engine_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help="model id (see `knockout models list`); default: the bundled default")
    p.add_argument("--device", choices=DEVICES, default="auto",
                   help="auto picks DirectML/CoreML/CUDA when present, else CPU; cpu forces the CPU")
    p.add_argument("--threads", type=int, default=None, help="CPU inference threads (default: all cores)")


def _add_export_options(p: argparse.ArgumentParser) -> None:
    """What the written files look like; shared by ``cut`` and ``watch``."""
    p.add_argument("--format", choices=tuple(FORMATS), default="png", help="output format (default png)")
    p.add_argument("--bg", metavar="COLOUR", help="flatten onto a colour: white, #f0f0f0, 255,255,255")
    p.add_argument("--mask-only", action="store_true", help="write the 8-bit greyscale mask only")
    p.add_argument("--crop", action="store_true", help="crop to the subject")
    p.add_argument("--margin", type=_margin, default=0.0, help="margin around the subject with --crop: 5%% or 40px")
    p.add_argument("--canvas", type=_size, metavar="WxH", help="place the subject on a canvas, e.g. 2000x2000")
    p.add_argument("--fill", type=_fill, default=0.85, help="share of the canvas the subject fills (default 0.85)")
    p.add_argument("--resize", type=_size, metavar="WxH", help="shrink to fit inside WxH (keeps aspect ratio)")
    p.add_argument("--quality", type=int, default=92, help="JPEG / lossy WebP quality 1-100 (default 92)")
    p.add_argument("--lossy", action="store_true", help="lossy WebP (default is lossless)")
    p.add_argument("--keep-exif", action="store_true", help="copy the source's EXIF (default: stripped)")
    controls.add_exif_option(p)
    p.add_argument("--decontaminate", action=argparse.BooleanOptionalAction, default=True,
                   help="estimate the subject's own colour in soft edges, so a flatten shows no rim of the old "
                        "background (default: on)")
    p.add_argument("--refine-edges", action=argparse.BooleanOptionalAction, default=True,
                   help="full-resolution mask edges guided by the photo instead of a plain resize (default: on)")
    p.add_argument("--punch-holes", action="store_true",
                   help="make enclosed gaps that show the background transparent (inside a handle, between spokes)")
    p.add_argument("--recover-parts", action="store_true",
                   help="on a plain backdrop (a studio sweep, a coloured screen), bring back parts the model cut "
                        "away, e.g. hair or leaves (off by default: on a table a warm shadow would come back too)")
    p.add_argument("--keep-specks", action="store_true",
                   help="keep tiny stray islands and pinholes in the mask (default: cleaned up)")
    p.add_argument("--name", default="{stem}", metavar="TEMPLATE",
                   help="output file name without extension: {stem} {name} {ext} {parent}, and {preset} with --preset "
                        "(default {stem}; with --preset the preset's template)")
    p.add_argument("--max-megapixels", type=float, default=DEFAULT_MAX_PIXELS / 1e6,
                   help=f"refuse larger images before decoding (default {DEFAULT_MAX_PIXELS / 1e6:.0f})")


def build_parser(parser_class: type[argparse.ArgumentParser] = argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The ``knockout`` parser; its sub-commands' parsers are of ``parser_class`` too."""
    parser = parser_class(prog="knockout", description="Remove image backgrounds, offline.")
    parser.add_argument("--version", action="version", version=f"knockout {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    cut = sub.add_parser("cut", help="cut out files, folders or globs", description="Cut out photos. "
                         "Folders are processed recursively and mirrored under the output folder.")
    cut.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders or glob patterns")
    cut.add_argument("-o", "--output", type=Path, default=Path("knockout-output"),
                     help="output folder (default: ./knockout-output)")
    _add_export_options(cut)
    exists = cut.add_mutually_exclusive_group()
    exists.add_argument("--skip-existing", action="store_true", help="leave outputs that already exist")
    exists.add_argument("--overwrite", action="store_true", help="replace outputs that already exist")
    cut.add_argument("--json", action="store_true", help="print a machine-readable report on stdout")
    cut.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    _add_engine_options(cut)
    controls.add_cut_options(cut)

    watch = sub.add_parser("watch", help="hot folder: cut out images as they arrive in a folder",
                           description="Watch a folder (recursively) and cut out each image once it is "
                           "completely written; subfolders are mirrored under the output folder. "
                           "Ctrl+C finishes the current image and exits.")
    watch.add_argument("inbox", type=Path, metavar="INBOX", help="folder to watch")
    watch.add_argument("-o", "--output", type=Path, help="output folder (required unless the policy locks it)")
    _add_export_options(watch)
    watch.add_argument("--overwrite", action="store_true",
                       help="start a fresh journal and replace outputs that already exist")
    watch.add_argument("--interval", type=float, default=2.0, help="seconds between polls (default 2)")
    watch.add_argument("--move-done", type=Path, metavar="DIR", help="move each source here once it is done")
    watch.add_argument("--once", action="store_true", help="process what is in the folder now, then exit")
    watch.add_argument("-q", "--quiet", action="store_true", help="no line per file")
    _add_engine_options(watch)
    controls.add_cut_options(watch)

    sample = sub.add_parser("sample", help="cut out the bundled sample photo (a quick check)")
    sample.add_argument("-o", "--output", type=Path, default=Path("knockout-output"))
    _add_engine_options(sample)

    models = sub.add_parser("models", help="list or verify the installed models")
    models.add_argument("action", choices=("list", "verify"))
    evaluation.add_parser(sub)
    diagnose.add_parser(sub)
    controls.add_parsers(sub)
    selftest.add_parser(sub)
    window = sub.add_parser("app", help="open the desktop window (optionally with photos)", add_help=False)
    window.add_argument("rest", nargs=argparse.REMAINDER, help="photos or folders; see `knockout app --help`")
    return parser


def settings_from(args: argparse.Namespace) -> ExportSettings:
    try:
        background = parse_colour(args.bg) if args.bg else None
        return controls.export_settings(args, ExportSettings(  # --preset and the metadata policy
            format=args.format, background=background, mask_only=args.mask_only, crop=args.crop,
            margin=args.margin, canvas=args.canvas, fill=args.fill, max_size=args.resize,
            quality=args.quality, lossless=not args.lossy, keep_exif=args.keep_exif,
            refine_edges=args.refine_edges, decontaminate=args.decontaminate,
            remove_specks=not args.keep_specks, punch_holes=args.punch_holes, recover_parts=args.recover_parts,
            keep_exif_fields=tuple(getattr(args, "keep_exif_field", None) or ()),
        ))
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def main(argv: list[str] | None = None) -> int:
    netguard.install()  # first: nothing below may reach the network
    allocator.return_large_buffers()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:  # machine policy (fail closed), crashed sessions' temp files, policy applied to args
        controls.start(args, sys.argv[1:] if argv is None else argv, build_parser)
    except controls.PolicyError as exc:
        print(f"knockout: {exc}", file=sys.stderr)
        print("knockout: refusing to run with a broken machine policy; ask IT to fix it", file=sys.stderr)
        return EXIT_POLICY
    except controls.ControlError as exc:
        parser.error(str(exc))
    try:
        if args.command in controls.COMMANDS:
            return controls.run(args)
        if args.command == "cut":
            return cmd_cut(args)
        if args.command == "watch":
            return cmd_watch(args)
        if args.command == "sample":
            return cmd_sample(args)
        if args.command == "eval":
            return evaluation.run(args)
        if args.command == "diagnose":
            return diagnose.run(args)
        if args.command == "self-test":
            return selftest.run(args)
        if args.command == "app":
            from app import window

            return window.main(args.rest)
        return cmd_models(args)
    except UsageError as exc:
        parser.error(str(exc))
    except (ModelError, ManifestError) as exc:
        print(f"knockout: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("knockout: interrupted", file=sys.stderr)
        return 130
    return EXIT_OK


def _engine(args: argparse.Namespace) -> Any:
    from app.inference.engine import Engine

    return Engine(model=args.model, device=args.device, threads=args.threads)


def cmd_cut(args: argparse.Namespace) -> int:
    from app import inputs
    from app.pipeline import run_batch

    settings = settings_from(args)
    existing = "overwrite" if args.overwrite else "skip" if args.skip_existing else "refuse"
    sources, problems = inputs.collect(args.inputs)
    try:
        jobs, early = inputs.plan(sources, args.output, settings.extension, args.name, existing)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    engine = _engine(args)
    batch_journal = _open_journal(args, settings, engine.spec.id) if sources else None
    if batch_journal is not None:
        jobs, early = batch_journal.resume(jobs, early)
    exports, provenance = controls.export_path(args, settings, engine, batch_journal)
    reporter = Reporter(len(jobs), quiet=args.quiet)
    results = [*problems, *early]
    for result in results:
        reporter.report(result, counted=False)
    started = time.perf_counter()
    try:
        if jobs:
            engine.load()
            reporter.start(engine.description, engine.spec.id)
            on_start = batch_journal.started if batch_journal else None
            for result in run_batch(engine, jobs, settings, int(args.max_megapixels * 1e6), on_start=on_start):
                exports.finish(result, provenance)  # the preset's rules, the audit record, the journal line
                results.append(result)
                reporter.report(result)
        if batch_journal is not None:
            batch_journal.finish()
    finally:
        if batch_journal is not None:
            batch_journal.close()
    elapsed = time.perf_counter() - started
    reporter.close(results, elapsed, args.output)
    controls.rules_summary(args, results)
    if args.json:
        loaded = engine.load() if jobs else None
        counts = Counter(r.status for r in results)
        print(json.dumps({
            "version": __version__,
            "model": engine.spec.id,
            "provider": loaded.description if loaded else None,
            "output_dir": str(args.output),
            "files": [r.as_dict() for r in results],
            "summary": {"written": counts["written"], "skipped": counts["skipped"],
                        "failed": counts["failed"], "seconds": round(elapsed, 3)},
        }, indent=2))
    return EXIT_FAILED if any(r.status == "failed" for r in results) else EXIT_OK


def _open_journal(args: argparse.Namespace, settings: ExportSettings, model: str) -> Any:
    """The output folder's journal (resume, stale temp files); a batch with other settings is a usage error."""
    from app.journal import Journal, JournalError, header_for

    try:
        opened = Journal.open(args.output, header_for(settings, model, args.name), restart=args.overwrite)
    except JournalError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"cannot use {args.output} as the output folder ({exc.strerror or exc})") from None
    if opened.stale_parts and not args.quiet:
        print(f"knockout: removed {opened.stale_parts} unfinished temporary file(s) left by an interrupted run",
              file=sys.stderr)
    return opened


def cmd_watch(args: argparse.Namespace) -> int:
    from app.watch import Watcher, stop_on_signals

    settings = settings_from(args)
    if args.output is None:
        raise UsageError("watch needs an output folder: -o/--output")
    if not args.inbox.is_dir():
        raise UsageError(f"{args.inbox} is not a folder")
    if args.interval <= 0:
        raise UsageError("--interval must be a positive number of seconds")
    try:
        watcher = Watcher(args.inbox, args.output, settings, args.name, args.interval, move_done=args.move_done,
                          once=args.once, overwrite=args.overwrite, quiet=args.quiet)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    engine = _engine(args)
    with _open_journal(args, settings, engine.spec.id) as batch_journal, \
            stop_on_signals(watcher.stop, watcher.cancel):
        exports, provenance = controls.export_path(args, settings, engine, batch_journal)
        failed = watcher.run(engine, batch_journal, int(args.max_megapixels * 1e6),
                             finish=lambda result: exports.finish(result, provenance))
    return EXIT_FAILED if failed and args.once else EXIT_OK


class Reporter:
    """Progress bar (on a terminal), failure lines and the closing summary, all on stderr."""

    def __init__(self, total: int, quiet: bool) -> None:
        self.total = total
        self.quiet = quiet
        self.bar: Any = None

    def start(self, provider: str, model: str) -> None:
        if self.quiet:
            return
        offline = " · offline" if netguard.is_installed() else ""
        print(f"knockout: {self.total} image{'s' if self.total != 1 else ''} · model {model} · {provider}{offline}",
              file=sys.stderr)
        if sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=self.total, unit="img", file=sys.stderr, dynamic_ncols=True)

    def _write(self, line: str) -> None:
        if self.bar is not None:
            self.bar.write(line, file=sys.stderr)
        else:
            print(line, file=sys.stderr)

    def report(self, result: Any, counted: bool = True) -> None:
        if result.status == "failed":
            self._write(f"FAILED {result.label}: {result.message}")
        elif result.status == "skipped" and result.code:  # refused unread (app.inputs.refusal): say why
            self._write(f"skipped {result.label}: {result.message}")
        elif not self.quiet and result.warnings:
            self._write(f"note   {result.label}: {'; '.join(result.warnings)}")
        if counted and self.bar is not None:
            self.bar.update(1)

    def close(self, results: list[Any], elapsed: float, out_dir: Path) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.quiet:
            return
        counts = Counter(r.status for r in results)
        written = counts["written"]
        rate = f", {elapsed / written:.2f} s/image" if written else ""
        print(f"knockout: {written} written, {counts['skipped']} skipped, {counts['failed']} failed "
              f"in {elapsed:.1f} s{rate} → {out_dir}", file=sys.stderr)
        if review := flagged_summary(results):
            print(f"knockout: {review}", file=sys.stderr)


REVIEW_NAMES = 10  # flagged files named in the summary; --json has them all


def flagged_summary(results: list[Any]) -> str | None:
    """'3 flagged for review: a.jpg (halo), …' for the files with QA flags (app.core.qa), or None."""
    flagged = [r for r in results if getattr(r, "flags", None)]
    if not flagged:
        return None
    names = [f"{r.label} ({', '.join(f['code'] for f in r.flags)})" for r in flagged[:REVIEW_NAMES]]
    more = f" and {len(flagged) - REVIEW_NAMES} more" if len(flagged) > REVIEW_NAMES else ""
    return f"{len(flagged)} flagged for review: {', '.join(names)}{more} (reasons: --json)"


def cmd_sample(args: argparse.Namespace) -> int:
    from app.core.decode import open_image
    from app.core.export import save
    from app.pipeline import cut_image

    engine = _engine(args)
    source = paths.sample_photo()
    settings = ExportSettings(format="png")
    started = time.perf_counter()
    decoded = open_image(source)
    image = cut_image(engine, decoded, settings)
    out = args.output / f"{source.stem}.png"
    save(image, out, settings)
    print(f"Cut out the bundled sample photo in {time.perf_counter() - started:.1f} s "
          f"with {engine.spec.id} on {engine.description}.")
    print(f"Result: {out.resolve()}")
    return EXIT_OK


def cmd_models(args: argparse.Namespace) -> int:
    from app.inference.manifest import discover
    from app.inference.session import file_status

    catalogue = discover()
    bad = 0
    for manifest_problem in catalogue.problems:
        print(f"problem: {manifest_problem}", file=sys.stderr)
    rows = [("id", "family", "size", "licence", "hash", "source", "file")]
    for spec in catalogue.models.values():
        status, problem = file_status(spec)
        if problem:
            bad += 1
            if args.action == "verify":
                print(problem, file=sys.stderr)
        size = f"{spec.file.stat().st_size / 1e6:.0f} MB" if spec.file.exists() else "-"
        default = "*" if spec.id == catalogue.default else ""
        rows.append((spec.id + default, spec.family, size, spec.license, status, spec.source, str(spec.file)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return EXIT_FAILED if bad and args.action == "verify" else EXIT_OK
