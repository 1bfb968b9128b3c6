"""``knockout cut``: files, folders and globs through the batch pipeline into an output folder."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from app import __version__
from app.cli import cluster, controls, options
from app.cli.controls import Controls, ExportChoice
from app.cli.report import EXIT_FAILED, EXIT_OK, Reporter


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    cut = subparsers.add_parser("cut", help="cut out files, folders or globs", description="Cut out photos. "
                         "Folders are processed recursively and mirrored under the output folder.")
    cut.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders or glob patterns")
    cut.add_argument("-o", "--output", type=Path, default=Path("knockout-output"),
                     help="output folder (default: ./knockout-output)")
    options.add_export_options(cut)
    exists = cut.add_mutually_exclusive_group()
    exists.add_argument("--skip-existing", action="store_true", help="leave outputs that already exist")
    exists.add_argument("--overwrite", action="store_true", help="replace outputs that already exist")
    cut.add_argument("--json", action="store_true", help="print a machine-readable report on stdout")
    cut.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    options.add_engine_options(cut)
    controls.add_cut_options(cut)
    cluster.add_option(cut)
    cut.set_defaults(run=run)
    return cut


def run(args: argparse.Namespace, context: Controls) -> int:
    from app.batch import inputs
    from app.batch.pipeline import run_batch
    from app.core.source_quality import DEFAULT_CHECKS

    choice = options.export_choice(args, context)
    settings = choice.settings
    existing = "overwrite" if args.overwrite else "skip" if args.skip_existing else "refuse"
    sources, problems = inputs.collect(args.inputs)
    try:
        jobs, early = inputs.plan(sources, args.output, settings.extension, choice.template, existing,
                                  choice.planned())
    except ValueError as exc:
        raise options.UsageError(str(exc)) from None
    engine = options.engine_for(args)
    batch_journal = open_journal(args, choice, engine.spec.id) if sources else None
    if batch_journal is not None:
        jobs, early = batch_journal.resume(jobs, early)
    exports, provenance = controls.export_path(args, choice, engine, batch_journal)
    runner = cluster.runner_for(args, engine)  # None: here, on this machine
    reporter = Reporter(len(jobs), quiet=args.quiet)
    results = [*problems, *early]
    for result in results:
        reporter.report(result, counted=False)
    started = time.perf_counter()
    provider = None
    try:
        if jobs:
            provider = engine.description if runner is None else runner.prepare([job.source for job in jobs])
            reporter.start(provider, engine.spec.id)
            if runner is not None:
                cluster.follow(runner, reporter)
            on_start = batch_journal.started if batch_journal else None
            outputs = tuple((o.id, o.settings) for o in choice.outputs)  # a delivery set: every file from one mask
            checks = choice.preset.source_checks if choice.preset else DEFAULT_CHECKS
            batch = run_batch if runner is None else runner
            for result in batch(engine, jobs, settings, int(args.max_megapixels * 1e6), on_start=on_start,
                                outputs=outputs, checks=checks):
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
    cluster.node_summary(runner, args.quiet)
    controls.rules_summary(args, choice, results)
    if args.json:
        counts = Counter(r.status for r in results)
        print(json.dumps({
            "version": __version__,
            "model": engine.spec.id,
            "provider": provider,
            "output_dir": str(args.output),
            "files": [r.as_dict() for r in results],
            "summary": {"written": counts["written"], "skipped": counts["skipped"],
                        "failed": counts["failed"], "seconds": round(elapsed, 3)},
        }, indent=2))
    return EXIT_FAILED if any(r.status == "failed" for r in results) else EXIT_OK


def open_journal(args: argparse.Namespace, choice: ExportChoice, model: str) -> Any:
    """The output folder's journal (resume, stale temp files); a batch with other settings is a usage error."""
    from app.batch.journal import Journal, JournalError, header_for

    try:
        opened = Journal.open(args.output, header_for(choice.settings, model, choice.template, choice.named_outputs()),
                              restart=args.overwrite)
    except JournalError as exc:
        raise options.UsageError(str(exc)) from None
    except OSError as exc:
        raise options.UsageError(f"cannot use {args.output} as the output folder ({exc.strerror or exc})") from None
    if opened.stale_parts and not args.quiet:
        print(f"knockout: removed {opened.stale_parts} unfinished temporary file(s) left by an interrupted run",
              file=sys.stderr)
    return opened
