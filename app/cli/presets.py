"""``knockout presets`` (list, show, import, export the team's export presets) and ``knockout cache clear``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from app import paths
from app.cli.controls import Controls
from app.cli.report import EXIT_FAILED, EXIT_OK
from app.governance import presets, retention
from app.governance.policy import Policy


def add_parsers(subparsers: Any) -> None:
    pr = subparsers.add_parser("presets", help="list, show, import or export export presets",
                        description="Presets are versioned JSON files a team shares; see packaging/policy/README.md.")
    actions = pr.add_subparsers(dest="presets_action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="list the presets")
    listing.add_argument("--json", action="store_true")
    actions.add_parser("show", help="print a preset as its JSON file").add_argument("id")
    imp = actions.add_parser("import", help="validate a preset file and add it to your presets")
    imp.add_argument("file", type=Path)
    exp = actions.add_parser("export", help="write a preset to a JSON file to share")
    exp.add_argument("id")
    exp.add_argument("file", type=Path)
    pr.set_defaults(run=run)
    cache = subparsers.add_parser("cache", help="clear Knockout's cache (temporary files of earlier sessions)")
    cache.add_argument("action", choices=("clear",))
    cache.set_defaults(run=run)


def run(args: argparse.Namespace, context: Controls) -> int:
    policy = context.policy
    try:
        if args.command == "cache":
            return _cache_clear()
        return _presets(args, policy)
    except presets.PresetError as exc:
        print(f"knockout: {exc}", file=sys.stderr)
        return EXIT_FAILED


def _presets(args: argparse.Namespace, policy: Policy) -> int:
    action = args.presets_action
    if action == "list":
        problems: list[str] = []
        found = presets.load_presets(policy, problems)
        if args.json:
            print(json.dumps([p.as_dict() for p in found], indent=2))
        else:
            rows = [("id", "format", "locked", "source", "label")]
            rows += [(p.id, _formats(p), "locked" if p.locked else "", p.source, p.label) for p in found]
            widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
            for row in rows:
                print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        for problem in problems:
            print(f"knockout: problem: {problem}", file=sys.stderr)
        return EXIT_OK
    if action == "show":
        preset = presets.get_preset(args.id, policy)
        print(json.dumps(presets.preset_to_dict(preset), indent=2))
        for line in _channel_notes(preset):  # stdout stays the file's JSON
            print(line, file=sys.stderr)
        return EXIT_OK
    if action == "import":
        preset = presets.import_preset(args.file, policy)
        print(f"Imported preset {preset.id} (version {preset.version}) into {paths.user_presets_dir()}")
        return EXIT_OK
    presets.export_preset(presets.get_preset(args.id, policy), args.file)
    print(f"Wrote preset {args.id} to {args.file}")
    return EXIT_OK


def _formats(preset: presets.Preset) -> str:
    """``jpg``, or a delivery set's formats: ``png+jpg+webp+png``."""
    return "+".join(o.settings.format for o in preset.outputs) if preset.is_set else preset.settings.format


def _channel_notes(preset: presets.Preset) -> list[str]:
    """What the channel rules of a preset (or of each output of a set) say in words: when they were
    read and where, which rules Knockout does not check, and that channels change them."""
    lines = []
    labelled = [(o.label, o.channel) for o in preset.outputs] or [(preset.label, preset.channel)]
    for label, channel in labelled:
        if channel is None:
            continue
        lines.append(f"{label}: rules of {channel.name}, read {channel.read_on}"
                     + ("" if channel.confirmed else " (NOT CONFIRMED: see the note)"))
        lines += [f"  source: {source.url} ({source.took})" for source in channel.sources]
        lines += [f"  not checked by Knockout, check by eye: {rule}" for rule in channel.unchecked_rules]
        lines.append(f"  note: {channel.note}")
    return lines


def _cache_clear() -> int:
    cache = paths.user_cache_dir()
    removed = retention.clear_cache(cache)
    print(f"Removed {len(removed)} item{'s' if len(removed) != 1 else ''} from {cache}")
    return EXIT_OK
