"""Export presets: built-in ones plus team presets shared as versioned JSON files.

A preset is export settings + a file-name template + optional compliance rules, so a
team keeps the same output all season. Three sources, in order:

- ``builtin``: shipped with the app;
- ``policy``: JSON files IT puts in ``paths.machine_presets_dir()``; always locked, and
  they may replace a built-in of the same id;
- ``team``: files the user imported (``import_preset``) into ``paths.user_presets_dir()``;
  they can never shadow a built-in or an IT preset.

The machine policy can lock presets (no import, every preset shown locked) or allow only
a list of ids. A preset may be a delivery set (several outputs from one mask) and may carry
a sales channel's published rules (``app.governance.channels``); the file format is
``app.governance.preset_files``, the shapes ``app.governance.preset_model`` (both re-exported here).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, BinaryIO

from app import paths
from app.core.atomic import write_atomic
from app.core.compliance import Rules
from app.core.export import WHITE, ExportSettings
from app.governance import channels
from app.governance.policy import NO_POLICY, Policy, load_policy
from app.governance.preset_files import SCHEMA, preset_from_dict, preset_to_dict, read_preset_file
from app.governance.preset_model import Channel, Output, Preset, PresetError, Source

__all__ = ["SCHEMA", "Channel", "Output", "Preset", "PresetError", "Rules", "Source", "builtin_presets",
           "export_preset", "get_preset", "import_preset", "load_presets", "preset_from_dict", "preset_to_dict",
           "read_preset_file"]
CHECK_RULES = "Check your marketplace's current rules: they change."


def basic_presets() -> list[Preset]:
    """The four everyday presets (the delivery sets reuse their settings)."""
    return [
        Preset("png-master", "Transparent PNG (master)",
               "Full-size cutout with transparency, lossless. Keep it as the master to make other versions from.",
               ExportSettings(format="png")),
        Preset("marketplace", "Marketplace (white background)",
               "JPEG on pure white, subject centred on a 2000×2000 square filling 85 %; gaps inside the "
               "product that show the background are made white too. " + CHECK_RULES,
               # Punching holes is safe here: a region wrongly punched is background-coloured and
               # the export is flattened onto white anyway.
               ExportSettings(format="jpg", background=WHITE, canvas=(2000, 2000), fill=0.85, quality=92,
                              punch_holes=True),
               rules=Rules(background=WHITE, fill_range=(0.80, 0.95), min_size=1000, colour_space="sRGB")),
        Preset("web-webp", "Web (WebP)",
               "Smaller lossy WebP with transparency, fitted within 2000×2000 for web pages.",
               ExportSettings(format="webp", lossless=False, quality=85, max_size=(2000, 2000))),
        Preset("mask", "Mask only", "The 8-bit greyscale mask as PNG (white = subject), for compositing.",
               ExportSettings(format="png", mask_only=True)),
    ]


def builtin_presets() -> list[Preset]:
    """The everyday presets, then one per sales channel, then the delivery sets."""
    basics = basic_presets()
    return [*basics, *channels.channel_presets(), *channels.delivery_sets({p.id: p for p in basics})]


# ---------------------------------------------------------------- loading and sharing


def _folder(folder: Path, source: str, problems: list[str] | None) -> list[Preset]:
    found = []
    try:
        files = sorted(folder.glob("*.json"))
    except OSError:
        return []
    for file in files:
        try:
            found.append(read_preset_file(file, source))
        except PresetError as exc:
            if problems is not None:
                problems.append(str(exc))
    return found


def load_presets(policy: Policy | None = None, problems: list[str] | None = None) -> list[Preset]:
    """Built-ins, then IT presets (locked, may replace a built-in), then the user's team presets.

    Files that do not parse are skipped and described in ``problems`` when given. With
    ``policy.lock_presets`` True every preset is locked; with a list, only those ids are
    returned (locked). What the policy pins (``Policy.apply``: its EXIF fields, a locked
    cutout switch) replaces what a preset says.
    """
    policy = _machine_policy(policy)
    presets: dict[str, Preset] = {p.id: p for p in builtin_presets()}
    for preset in _folder(paths.machine_presets_dir(), "policy", problems):
        presets[preset.id] = dataclasses.replace(preset, locked=True)
    for preset in _folder(paths.user_presets_dir(), "team", problems):
        if preset.id in presets:
            if problems is not None:
                problems.append(f"team preset {preset.id!r} ignored: a {presets[preset.id].source} preset has that id")
            continue
        presets[preset.id] = preset
    allowed = _allowed_ids(policy)
    result = []
    for preset in presets.values():
        if allowed is not None and preset.id not in allowed:
            continue
        if policy.lock_presets:
            preset = dataclasses.replace(preset, locked=True)
        result.append(preset.with_settings(policy.apply))  # every exporter (CLI, desktop), every output: IT's pins
    return result


def _machine_policy(policy: Policy | None) -> Policy:
    """None means "the machine's policy": forgetting to pass it must not drop IT's locks."""
    return load_policy() if policy is None else policy


def _allowed_ids(policy: Policy) -> set[str] | None:
    if isinstance(policy.lock_presets, bool):
        return None
    return set(policy.lock_presets)


def get_preset(preset_id: str, policy: Policy | None = None) -> Preset:
    """The preset with this id, or PresetError saying which ids exist."""
    policy = _machine_policy(policy)
    presets = load_presets(policy)
    for preset in presets:
        if preset.id == preset_id:
            return preset
    if preset_id in {p.id for p in load_presets(NO_POLICY)}:
        raise PresetError(f"preset {preset_id!r} is not allowed by your organisation's policy "
                          f"(allowed: {', '.join(p.id for p in presets)})")
    raise PresetError(f"unknown preset {preset_id!r} (available: {', '.join(p.id for p in presets) or 'none'})")


def _write_json(path: Path, data: dict[str, Any]) -> None:
    payload = (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")

    def write(fh: BinaryIO) -> None:
        fh.write(payload)

    write_atomic(path, write)


def import_preset(path: Path, policy: Policy | None = None) -> Preset:
    """Validate a preset file and copy it (normalised) into the user's presets folder.

    Anything wrong -> PresetError with the reason, and nothing is changed. A preset with
    the id of a built-in or IT preset is refused; an older version than the one already
    imported is refused (re-importing the same or a newer version replaces it).
    """
    policy = _machine_policy(policy)
    if policy.lock_presets:
        raise PresetError(f"presets are locked by your organisation's policy ({policy.source}); "
                          "ask IT to deploy the preset instead")
    preset = read_preset_file(Path(path), "team")
    reserved = {p.id: p for p in builtin_presets()}
    reserved.update({p.id: p for p in _folder(paths.machine_presets_dir(), "policy", None)})
    if preset.id in reserved:
        raise PresetError(f"{path}: a {reserved[preset.id].source} preset already has the id {preset.id!r}; "
                          "change the \"id\" in the file")
    target = paths.user_presets_dir() / f"{preset.id}.json"
    if target.exists():
        try:
            current = read_preset_file(target)
        except PresetError:
            current = None  # a damaged copy: replacing it is the fix
        if current is not None and current.version > preset.version:
            raise PresetError(f"{path}: version {preset.version} of {preset.id!r} is older than the imported "
                              f"version {current.version}; raise \"version\" to replace it")
    try:
        _write_json(target, preset_to_dict(preset))
    except OSError as exc:
        raise PresetError(f"cannot save the preset into {target.parent} ({exc.strerror or exc})") from None
    return preset


def export_preset(preset: Preset, path: Path) -> None:
    """Write ``preset`` as a versioned JSON file a colleague can import."""
    try:
        _write_json(Path(path), preset_to_dict(preset))
    except OSError as exc:
        raise PresetError(f"cannot write {path} ({exc.strerror or exc})") from None
