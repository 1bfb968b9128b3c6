"""``knockout report OUTDIR``: the batch's review sheet, one self-contained HTML page (app.batch.review_sheet)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from app.cli.controls import Controls
from app.cli.report import EXIT_FAILED, EXIT_OK

SHEET_NAME = "review-sheet.html"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("report", help="write a batch's review sheet (HTML, prints to PDF)",
                                   description="Read the batch journal and review decisions in OUTDIR, judge each "
                                               "cutout again and write one HTML page to read, print or mail.")
    parser.add_argument("out_dir", metavar="OUTDIR", type=Path, help="the output folder of `knockout cut`/`watch`")
    parser.add_argument("-o", "--output", type=Path, help=f"where to write the page (default: OUTDIR/{SHEET_NAME})")
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace, context: Controls) -> int:
    from app.batch.review_sheet import write_review_sheet
    from app.batch.sheet_entries import folder_review

    try:
        review = folder_review(args.out_dir)
    except OSError as exc:  # the journal refused (a link planted in its place) or unreadable
        print(f"knockout: cannot read the batch in {args.out_dir} ({exc.strerror or exc})", file=sys.stderr)
        return EXIT_FAILED
    target = args.output if args.output is not None else args.out_dir / SHEET_NAME
    try:
        write_review_sheet(review.entries, target, f"Review sheet: {args.out_dir.resolve().name}")
    except OSError as exc:
        print(f"knockout: cannot write {target} ({exc.strerror or exc})", file=sys.stderr)
        return EXIT_FAILED
    for problem in review.problems:
        print(f"knockout: note: {problem}", file=sys.stderr)
    count = len(review.entries)
    print(f"Wrote the review sheet for {count} photo{'s' if count != 1 else ''} to {target}")
    return EXIT_OK
