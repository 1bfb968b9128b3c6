"""The ``knockout`` command line. Each command lives in its own module and registers itself
(``add_parser`` sets ``run``); ``main`` parses, applies the machine policy, runs the command
and turns what went wrong into a message and an exit code.

Exit codes: 0 every file done (written or skipped), 1 some files failed (the rest were
written), 2 usage error, 3 the machine policy is broken (Knockout refuses to run; the
message names the file and the problem), 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from app import __version__, allocator, evaluation
from app.cli import audit_log, controls, cut, models, presets, review_report, watch
from app.cli.options import UsageError
from app.cli.report import EXIT_FAILED, EXIT_POLICY, EXIT_USAGE
from app.core.errors import KnockoutError, explain
from app.governance import netguard
from app.support import diagnose, selftest

__all__ = ["EXIT_POLICY", "EXIT_USAGE", "build_parser", "main"]


def _add_app_parser(subparsers: Any) -> None:
    window = subparsers.add_parser("app", help="open the desktop window (optionally with photos)", add_help=False)
    window.add_argument("rest", nargs=argparse.REMAINDER, help="photos or folders; see `knockout app --help`")
    window.set_defaults(run=_run_app)


def _run_app(args: argparse.Namespace, context: controls.Controls) -> int:
    from app.desktop import window

    return window.main(args.rest)


# The commands in the order `knockout --help` lists them; each registers its parser and its run.
REGISTER = (cut.add_parser, watch.add_parser, review_report.add_parser, audit_log.add_parser, models.add_parsers,
            evaluation.add_parser, diagnose.add_parser, presets.add_parsers, selftest.add_parser, _add_app_parser)


def build_parser(parser_class: type[argparse.ArgumentParser] = argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The ``knockout`` parser; its sub-commands' parsers are of ``parser_class`` too (see
    ``controls.start``, which parses again to learn what the user really typed)."""
    parser = parser_class(prog="knockout", description="Remove image backgrounds, offline.")
    parser.add_argument("--version", action="version", version=f"knockout {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=parser_class)
    for register in REGISTER:
        register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    netguard.install()  # first: nothing below may reach the network
    allocator.return_large_buffers()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:  # machine policy (fail closed), crashed sessions' temp files, policy applied to args
        context = controls.start(args, sys.argv[1:] if argv is None else argv, build_parser)
    except controls.PolicyError as exc:
        print(f"knockout: {exc}", file=sys.stderr)
        print("knockout: refusing to run with a broken machine policy; ask IT to fix it", file=sys.stderr)
        return EXIT_POLICY
    except controls.ControlError as exc:
        parser.error(str(exc))
    try:
        code: int = args.run(args, context)
        return code
    except (UsageError, controls.ControlError) as exc:
        parser.error(str(exc))
    except KnockoutError as exc:  # a model that cannot be used, a preset file refused, ...
        print(f"knockout: {explain(exc).message}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("knockout: interrupted", file=sys.stderr)
        return 130
