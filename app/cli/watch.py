"""``knockout watch``: a hot folder, each complete image cut out once, until stopped."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from app.cli import cluster, controls, options
from app.cli.controls import Controls
from app.cli.cut import open_journal
from app.cli.report import EXIT_FAILED, EXIT_OK


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    watch = subparsers.add_parser("watch", help="hot folder: cut out images as they arrive in a folder",
                           description="Watch a folder (recursively) and cut out each image once it is "
                           "completely written; subfolders are mirrored under the output folder. "
                           "Ctrl+C finishes the current image and exits.")
    watch.add_argument("inbox", type=Path, metavar="INBOX", help="folder to watch")
    watch.add_argument("-o", "--output", type=Path, help="output folder (required unless the policy locks it)")
    options.add_export_options(watch)
    watch.add_argument("--overwrite", action="store_true",
                       help="start a fresh journal and replace outputs that already exist")
    watch.add_argument("--interval", type=float, default=2.0, help="seconds between polls (default 2)")
    watch.add_argument("--move-done", type=Path, metavar="DIR", help="move each source here once it is done")
    watch.add_argument("--once", action="store_true", help="process what is in the folder now, then exit")
    watch.add_argument("-q", "--quiet", action="store_true", help="no line per file")
    options.add_engine_options(watch)
    controls.add_cut_options(watch)
    cluster.add_option(watch)
    watch.set_defaults(run=run)
    return watch


def run(args: argparse.Namespace, context: Controls) -> int:
    from app.batch.watch import Watcher, stop_on_signals
    from app.core.source_quality import DEFAULT_CHECKS

    choice = options.export_choice(args, context)
    if args.output is None:
        raise options.UsageError("watch needs an output folder: -o/--output")
    if not args.inbox.is_dir():
        raise options.UsageError(f"{args.inbox} is not a folder")
    if args.interval <= 0:
        raise options.UsageError("--interval must be a positive number of seconds")
    try:
        watcher = Watcher(args.inbox, args.output, choice.settings, choice.template, args.interval,
                          move_done=args.move_done, once=args.once, overwrite=args.overwrite, quiet=args.quiet,
                          outputs=choice.named_outputs(),
                          checks=choice.preset.source_checks if choice.preset else DEFAULT_CHECKS)
    except ValueError as exc:
        raise options.UsageError(str(exc)) from None
    engine = options.engine_for(args)
    with open_journal(args, choice, engine.spec.id) as batch_journal, \
            stop_on_signals(watcher.stop, watcher.cancel):
        exports, provenance = controls.export_path(args, choice, engine, batch_journal)
        runner = cluster.runner_for(args, engine)  # None: here, on this machine
        failed = watcher.run(engine, batch_journal, int(args.max_megapixels * 1e6),
                             finish=lambda result: exports.finish(result, provenance), runner=runner)
    cluster.node_summary(runner, args.quiet)
    return EXIT_FAILED if failed and args.once else EXIT_OK
