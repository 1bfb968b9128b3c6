"""Privacy and IT controls for the command line: the policy over the flags, the preset, the export path.

- ``start(args, argv, build_parser) -> Controls`` right after parsing: loads the machine policy
  (PolicyError: the CLI refuses to run, except ``diagnose`` which reports it), removes
  session folders left by crashed runs, and applies the policy (forced CPU, allowed
  models, maximum size, and for ``cut`` / ``watch`` every locked setting: its flag takes the
  pinned value, and a flag asking for another one is refused naming the policy key);
- ``export_choice(args, controls, settings) -> ExportChoice``: the ``--preset`` (explicit
  flags override it unless it is locked), then the policy, last (``Policy.apply``), and the
  file name template in force;
- ``export_path(args, choice, engine, journal)``: the one export path (app.batch.export_service)
  ``cut`` / ``watch`` hand each result to: the preset's rules check, the audit record, the journal;
- ``rules_summary(args, choice, results)`` after ``cut``: one line when files break the preset's rules.

What the controls decided travels in ``Controls`` and ``ExportChoice``, never as extra
attributes on the argparse namespace.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app import paths
from app.core import naming
from app.core.errors import KnockoutError
from app.core.export import ExportSettings
from app.governance import presets, retention
from app.governance.policy import ENV_FILE, NO_POLICY, Policy, PolicyError, load_policy

COMMANDS = ("presets", "cache")
# Every option of `cut` and `watch` (by dest) has a lock decision; a test holds the parsers to
# it. LOCKED_FLAGS: pinned by the user setting the policy can lock (`lock`, `force_cpu`,
# `audit`, `allowed_models`, `lock_presets`); a flag asking for another value is refused.
LOCKED_FLAGS = {"output": "output_dir", "name": "template", "model": "model", "device": "device",
                "preset": "preset", "audit": "audit", "sidecar": "sidecar", "refine_edges": "refine_edges",
                "decontaminate": "decontaminate", "keep_specks": "remove_specks", "views": "views",
                "auto_recover_parts": "auto_recover_parts"}
# EXPORT_DESTS: pinned by the preset when it is locked (`lock_presets`, an IT preset, or its own
# "locked"); keep_exif and keep_exif_field also by `keep_exif_fields`.
# FREE_FLAGS: never changed by a lock, and why.
FREE_FLAGS = {"inputs": "what to cut", "inbox": "the folder to watch", "json": "how the report is printed",
              "quiet": "how much is printed", "overwrite": "whether existing outputs are replaced, not what they hold",
              "skip_existing": "whether existing outputs are kept", "interval": "how often the folder is looked at",
              "once": "when watching stops", "move_done": "where finished sources go", "threads": "speed only",
              "cluster": "where the photos are cut, not what is written",
              "max_megapixels": "the policy's max_megapixels caps it (the smaller wins)"}
# How a refusal names a setting; for on/off ones, what the policy switched.
SETTING_LABELS = {"output_dir": "the output folder", "template": "the file name template", "model": "the model",
                  "device": "the device", "preset": "the preset", "audit": "the audit log",
                  "sidecar": "the audit sidecar", "refine_edges": "edge refinement",
                  "decontaminate": "edge decontamination", "remove_specks": "speck removal",
                  "views": "the number of views", "auto_recover_parts": "automatic recovery of left-out parts"}
# cut's option dest -> ExportSettings field (value taken from the flag-built settings)
EXPORT_DESTS = {"format": "format", "bg": "background", "mask_only": "mask_only", "crop": "crop",
                "margin": "margin", "canvas": "canvas", "fill": "fill", "resize": "max_size",
                "quality": "quality", "lossy": "lossless", "keep_exif": "keep_exif",
                "keep_exif_field": "keep_exif_fields", "decontaminate": "decontaminate",
                "refine_edges": "refine_edges", "keep_specks": "remove_specks", "punch_holes": "punch_holes",
                "recover_parts": "recover_parts", "auto_recover_parts": "auto_recover_parts", "views": "views"}
# cli.build_parser: the parser, its sub-commands' parsers made with the given class
ParserFactory = Callable[[type[argparse.ArgumentParser]], argparse.ArgumentParser]
CLI_FIELDS = tuple(f for f in naming.FIELDS if f != "preset")  # {preset} only with a preset


class ControlError(KnockoutError, ValueError):  # a ValueError too: cli.settings_from catches it as one
    """A command-line request the policy or the preset does not allow (a usage error)."""

    code = "usage_error"


def add_cut_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", metavar="ID", help="export with a preset (see `knockout presets list`); "
                   "other export flags override it unless it is locked")
    p.add_argument("--audit", action="store_true", help="append an audit record per export to the audit log")
    p.add_argument("--sidecar", action="store_true", help="also write the audit record beside each output "
                   "as <output>.json")


def add_exif_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--keep-exif-field", action="append", metavar="NAME",
                   help="keep only this EXIF field (repeatable), e.g. Copyright, Artist, DateTimeOriginal; "
                        "GPS only as GPSInfo")


# ---------------------------------------------------------------- start-up


class _TypedOnly(argparse.Namespace):
    """A namespace that answers for every public name, so argparse (which fills in a default only
    where the namespace lacks the name) fills in none: after a parse it holds what was typed."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # argparse's own bookkeeping must still be missing when absent
            raise AttributeError(name)
        return None  # what `append`/`count` options start from


class _TypedOnlyParser(argparse.ArgumentParser):
    """Parses into a fresh ``_TypedOnly``, sub-commands too (argparse parses each into its own)."""

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> tuple[Any, list[str]]:
        return super().parse_known_args(args, _TypedOnly() if namespace is None else namespace)


def _explicit(argv: list[str], build_parser: ParserFactory) -> set[str]:
    """Option dests the user really typed for this sub-command (no defaults)."""
    try:
        given, _ = build_parser(_TypedOnlyParser).parse_known_args(argv)
    except SystemExit:  # pragma: no cover - the first parse already accepted argv
        return set()
    return set(vars(given))


@dataclass(frozen=True)
class Controls:
    """What ``start`` found: the policy in force and which options the user really typed."""

    policy: Policy
    explicit: frozenset[str]


# Flags that change how a delivery set's shared mask is made or what metadata every file keeps: they
# apply to each output. The others (format, size, background...) are each output's own.
SET_WIDE_DESTS = ("refine_edges", "keep_specks", "views", "auto_recover_parts", "decontaminate", "keep_exif",
                  "keep_exif_field")


@dataclass(frozen=True)
class ExportChoice:
    """What ``cut`` / ``watch`` write: the settings in force, the preset they came from, the name template.
    For a delivery set, ``settings`` makes the shared mask and ``preset.outputs`` say what is written."""

    settings: ExportSettings
    preset: presets.Preset | None
    template: str

    @property
    def outputs(self) -> tuple[presets.Output, ...]:
        return self.preset.outputs if self.preset is not None else ()

    def named_outputs(self) -> tuple[tuple[str, str, ExportSettings], ...]:
        """A delivery set's outputs as (id, template with the preset id filled in, settings)."""
        if self.preset is None:
            return ()
        return tuple((o.id, naming.fill(o.template, {"preset": self.preset.id}), o.settings) for o in self.outputs)

    def planned(self) -> tuple[tuple[str, str, str], ...]:
        """The same with each output's file extension (what ``app.batch.inputs.plan`` names files by)."""
        return tuple((i, name, settings.extension) for i, name, settings in self.named_outputs())


def start(args: argparse.Namespace, argv: list[str], build_parser: ParserFactory) -> Controls:
    """Load and apply the policy to ``args``; PolicyError if it is broken, ControlError if it forbids args."""
    explicit = frozenset(_explicit(argv, build_parser))
    try:
        policy = load_policy()
    except PolicyError:
        if args.command != "diagnose":
            raise
        policy = NO_POLICY  # diagnose reports the broken policy itself
    if policy.override_ignored and args.command != "diagnose":
        print(f"knockout: ignoring {ENV_FILE}={policy.override_ignored}: the machine policy ({policy.source}) "
              "does not set allow_policy_override", file=sys.stderr)
    with contextlib.suppress(OSError):  # a read-only or missing cache folder must not stop the CLI
        retention.cleanup_stale()
    if policy.max_megapixels and getattr(args, "max_megapixels", None) is not None:
        args.max_megapixels = min(args.max_megapixels, policy.max_megapixels)
    if policy.allowed_models is not None and hasattr(args, "model"):
        from app.inference.manifest import bundled_default

        if args.model is None:
            default = bundled_default()
            args.model = default if default in policy.allowed_models else policy.allowed_models[0]
        elif args.model not in policy.allowed_models:
            raise ControlError(f"model {args.model!r} is not allowed by your organisation's policy "
                               f"(allowed: {', '.join(policy.allowed_models)}; policy key: allowed_models)")
    if args.command in ("cut", "watch"):
        _pin_locked_flags(args, policy, explicit)
    if policy.force_cpu and hasattr(args, "device"):
        args.device = "cpu"
    return Controls(policy, explicit)


def _pin_locked_flags(args: argparse.Namespace, policy: Policy, explicit: frozenset[str]) -> None:
    """Locked settings replace their flags; a flag asking for another value is refused, naming
    the policy key. Audit and sidecar, when not locked, are on if the flag or the setting says so."""
    from app.governance.settings import load_settings

    effective = load_settings(policy)
    for dest, key in LOCKED_FLAGS.items():
        value = getattr(args, dest)
        if key not in effective.locked:
            if key in ("audit", "sidecar"):
                setattr(args, dest, bool(value or effective.values.get(key)))
            continue
        pinned = effective.values[key]
        if dest in explicit and _as_setting(dest, value) != _as_setting(dest, _as_arg(dest, pinned)):
            raise ControlError(_refusal(dest, value, key, pinned, policy.locked_by(key)))
        setattr(args, dest, _as_arg(dest, pinned))


def _as_arg(dest: str, setting: Any) -> Any:
    if dest == "output":
        return Path(setting).expanduser()
    return not setting if dest == "keep_specks" else setting


def _as_setting(dest: str, value: Any) -> Any:
    """A flag's value in the setting's terms, comparable with the pinned one."""
    if dest == "output":
        return Path(value).expanduser().resolve()
    return not value if dest == "keep_specks" else value


def _refusal(dest: str, value: Any, key: str, pinned: Any, policy_key: str | None) -> str:
    label, where = SETTING_LABELS[key], f"(policy key: {policy_key})"
    if isinstance(pinned, bool):
        flag = "--" + ("no-" if value is False else "") + dest.replace("_", "-")
        state = "on" if pinned else "off"
        return f"{flag} is refused: {label} is switched {state} by your organisation's policy {where}"
    flag = "-o/--output" if dest == "output" else "--" + dest.replace("_", "-")
    return f"{flag} {str(value)!r} is refused: your organisation's policy sets {label} to {str(pinned)!r} {where}"


# ---------------------------------------------------------------- export settings


def export_choice(args: argparse.Namespace, controls: Controls, settings: ExportSettings) -> ExportChoice:
    """What ``cut`` / ``watch`` write: the preset's settings with the user's explicit flags over
    them (refused if the preset is locked), then the policy, last (``Policy.apply``); and the
    file name template: a locked one, else ``--name``, else the preset's."""
    policy, explicit = controls.policy, controls.explicit
    preset_id = args.preset  # a locked preset is already pinned by start()
    if policy.keep_exif_fields is not None and {"keep_exif", "keep_exif_field"} & explicit:
        kept = ", ".join(policy.keep_exif_fields) or "none"
        raise ControlError(f"metadata is set by your organisation's policy (EXIF fields kept: {kept}; "
                           "policy key: keep_exif_fields)")
    if preset_id is None and isinstance(policy.lock_presets, tuple):
        raise ControlError(f"your organisation's policy allows only these presets: "
                           f"{', '.join(policy.lock_presets)}; choose one with --preset (policy key: lock_presets)")
    choices: dict[str, Any] = {}
    preset, template = None, args.name
    if preset_id is not None:
        try:
            preset = presets.get_preset(preset_id, policy)
        except presets.PresetError as exc:
            raise ControlError(str(exc)) from None
        locked = policy.locked_settings()  # flags of locked settings already hold the pinned value
        given = sorted(d for d in explicit & EXPORT_DESTS.keys() if LOCKED_FLAGS.get(d) not in locked)
        choices = {EXPORT_DESTS[d]: getattr(settings, EXPORT_DESTS[d]) for d in given}
        if choices and preset.locked:
            flags = ", ".join("--" + d.replace("_", "-") for d in given)
            raise ControlError(f"preset {preset.id!r} is locked{_preset_lock(preset, policy)}; "
                               f"it cannot be changed with {flags}")
        if preset.is_set:
            return _set_choice(preset, policy, explicit, choices)
        settings = preset.settings
        if "name" not in explicit and "template" not in locked:
            template = preset.template
    return ExportChoice(policy.apply(settings, choices), preset, _name(template, preset, policy))


def _set_choice(preset: presets.Preset, policy: Policy, explicit: frozenset[str],
                choices: dict[str, Any]) -> ExportChoice:
    """A delivery set: the flags that concern every output apply to each, then the policy; a flag
    that would make the outputs alike (a format, a size, a name) is refused, saying why."""
    own = sorted(d for d in explicit if (d in EXPORT_DESTS and d not in SET_WIDE_DESTS) or d == "name")
    if own:
        flags = ", ".join("--" + d.replace("_", "-") for d in own)
        raise ControlError(f"preset {preset.id!r} is a delivery set of {len(preset.outputs)} files, each with its own "
                           f"format, size and name; {flags} cannot change them (choose a single-output preset, "
                           "or make a team preset with the outputs you need)")
    adjusted = preset.with_settings(lambda s: policy.apply(s, choices))
    return ExportChoice(adjusted.settings, adjusted, naming.fill(adjusted.template, {"preset": preset.id}))


def _preset_lock(preset: presets.Preset, policy: Policy) -> str:
    if policy.lock_presets:
        return " by your organisation's policy (policy key: lock_presets)"
    if preset.source == "policy":
        return f" (deployed by your organisation in {paths.machine_presets_dir()})"
    return ""


def _name(template: str, preset: presets.Preset | None, policy: Policy) -> str:
    """The checked ``--name`` template with the preset id filled in (the file's own fields are
    filled per file); {preset} without a preset is a usage error that says so."""
    if preset is not None:
        return naming.fill(template, {"preset": preset.id})
    try:
        return naming.check_template(template, CLI_FIELDS)
    except ValueError:
        naming.check_template(template)  # a template that is wrong anyway says why
        locked = policy.locked_by("template")
        source = f" (your organisation's policy, policy key: {locked})" if locked else ""
        raise ControlError(f"the file name template {template!r}{source} names {{preset}}: add --preset ID") from None


# ---------------------------------------------------------------- the export path and after the batch


def export_path(args: argparse.Namespace, choice: ExportChoice, engine: Any, journal: Any) -> tuple[Any, Any]:
    """The one export path (app.batch.export_service) for ``cut`` / ``watch`` as the flags ask for it
    (the preset's rules, the audit record and sidecar, the journal), and what makes the files:
    the engine's model and the mask options of the settings."""
    from app.batch.export_service import ExportService
    from app.batch.pipeline import MaskOptions, Provenance

    service = ExportService(choice.settings, choice.preset, bool(args.audit), bool(args.sidecar), journal)
    mask = MaskOptions.of(choice.settings)
    return service, Provenance(engine.spec, mask.without_fixes() if choice.outputs else mask)


def rules_summary(args: argparse.Namespace, choice: ExportChoice, results: list[Any]) -> None:
    """One closing line when files break their preset's rules (each file's reasons were noted above)."""
    broken = [r for r in results if r.violations]
    if choice.preset is not None and broken and not args.quiet:
        print(f"knockout: {len(broken)} file{'s' if len(broken) != 1 else ''} break the {choice.preset.id} "
              "preset's rules (see the notes above)", file=sys.stderr)
