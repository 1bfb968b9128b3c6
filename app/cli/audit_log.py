"""``knockout audit find`` (what made this file?) and ``knockout audit export --csv`` (the log for a DAM/PIM)."""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path
from typing import Any, BinaryIO

from app.cli.controls import Controls
from app.cli.report import EXIT_FAILED, EXIT_OK
from app.core.atomic import write_atomic
from app.governance import audit, audit_query


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("audit", help="search the audit log or export it as CSV",
                                   description="The audit log records every export made with --audit (or the "
                                               "audit setting): source, output, model, preset, version, review.")
    actions = parser.add_subparsers(dest="audit_action", metavar="ACTION", required=True)
    find = actions.add_parser("find", help="every export matching a name, a sha256 or a file",
                              description="Match TEXT against source names, output paths and sha256 hashes; "
                                          "if TEXT is a file (say, a bad published image), match its sha256.")
    find.add_argument("text", metavar="TEXT")
    find.add_argument("--json", action="store_true", help="print the matching records as JSON")
    export = actions.add_parser("export", help="write every export as CSV (for a DAM or PIM)")
    export.add_argument("--csv", action="store_true", required=True, help="CSV, one row per export")
    export.add_argument("-o", "--output", type=Path, help="write to this file (default: standard output)")
    for action in (find, export):
        action.add_argument("--log", type=Path, help=f"the audit log (default: {audit.default_log_path()})")
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace, context: Controls) -> int:
    log = args.log if args.log is not None else audit.default_log_path()
    try:
        records = audit_query.read_records(log)
    except OSError as exc:
        print(f"knockout: cannot read the audit log {log} ({exc.strerror or exc})", file=sys.stderr)
        return EXIT_FAILED
    if records.skipped:
        print(f"knockout: skipped {records.skipped} damaged line(s) in {log}", file=sys.stderr)
    if args.audit_action == "find":
        return _find(args.text, records, log, args.json)
    return _export(records, args.output)


def _short(sha: Any) -> str:
    return str(sha)[:12] if sha else "no hash"


def describe(record: dict[str, Any]) -> str:
    """One export as two lines a person reads."""
    source, output, model = record.get("source") or {}, record.get("output") or {}, record.get("model") or {}
    time = str(record.get("time") or "?").replace("T", " ")[:19]
    review = record.get("review") if isinstance(record.get("review"), dict) else None
    by = f" by {review.get('reviewer')}" if review and review.get("reviewer") else ""
    return (f"{time}  {source.get('name')} ({_short(source.get('sha256'))}) -> {output.get('path')} "
            f"({_short(output.get('sha256'))})\n"
            f"    model {model.get('id')}  preset {record.get('preset') or '-'}  version {record.get('version') or '-'}"
            f"  {audit_query.decision(record)}{by}")


def _find(text: str, records: audit_query.Records, log: Path, as_json: bool) -> int:
    found = audit_query.matching(records, text)
    if not found:
        where = f"the audit log {log}" if log.exists() else f"the audit log ({log} does not exist yet)"
        print(f"knockout: no export in {where} matches {text!r}", file=sys.stderr)
        return EXIT_FAILED
    if as_json:
        print(json.dumps(found, indent=2, sort_keys=True))
    else:
        print("\n".join(describe(record) for record in found))
        print(f"{len(found)} export{'s' if len(found) != 1 else ''} found")
    return EXIT_OK


def _export(records: audit_query.Records, output: Path | None) -> int:
    text = io.StringIO()
    count = audit_query.write_csv(audit_query.exports(records), text)
    if output is None:
        sys.stdout.write(text.getvalue())
        return EXIT_OK
    data = text.getvalue().encode("utf-8")

    def write(fh: BinaryIO) -> None:
        fh.write(data)

    write_atomic(output, write)
    print(f"Wrote {count} export{'s' if count != 1 else ''} to {output}", file=sys.stderr)
    return EXIT_OK
