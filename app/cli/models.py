"""``knockout models`` (list or verify the installed models) and ``knockout sample`` (a quick check)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from app import paths
from app.cli import options
from app.cli.controls import Controls
from app.cli.report import EXIT_FAILED, EXIT_OK
from app.core.export import ExportSettings


def add_parsers(subparsers: Any) -> None:
    sample = subparsers.add_parser("sample", help="cut out the bundled sample photo (a quick check)")
    sample.add_argument("-o", "--output", type=Path, default=Path("knockout-output"))
    options.add_engine_options(sample)
    sample.set_defaults(run=run_sample)
    models = subparsers.add_parser("models", help="list or verify the installed models")
    models.add_argument("action", choices=("list", "verify"))
    models.set_defaults(run=run_models)


def run_sample(args: argparse.Namespace, context: Controls) -> int:
    from app.batch.pipeline import cut_image
    from app.core.decode import open_image
    from app.core.export import save

    engine = options.engine_for(args)
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


def run_models(args: argparse.Namespace, context: Controls) -> int:
    from app.inference.manifest import discover, legal_facts
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
    if catalogue.models:
        print("\nLicences and training data")
        for spec in catalogue.models.values():
            print(f"  {spec.id}: {legal_facts(spec.license, spec.training_data)}")
    return EXIT_FAILED if bad and args.action == "verify" else EXIT_OK
