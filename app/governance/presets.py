"""Export presets: built-in ones plus team presets shared as versioned JSON files.

A preset is export settings + a file-name template + optional compliance rules, so a
team keeps the same output all season. Three sources, in order:

- ``builtin``: shipped with the app;
- ``policy``: JSON files IT puts in ``paths.machine_presets_dir()``; always locked, and
  they may replace a built-in of the same id;
- ``team``: files the user imported (``import_preset``) into ``paths.user_presets_dir()``;
  they can never shadow a built-in or an IT preset.

The machine policy can lock presets (no import, every preset shown locked) or allow only
a list of ids. File format (every key checked, unknown keys refused)::

    {"knockout_preset": 1, "id": "shop-white", "label": "Shop", "description": "...",
     "version": 3, "template": "{stem}-{preset}", "locked": false,
     "export": {"format": "jpg", "background": "white", "canvas": [2000, 2000], ...},
     "rules": {"background": "white", "fill_range": [0.8, 0.95], "min_size": 1000,
               "colour_space": "sRGB"}}
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from PIL import ExifTags

from app import paths
from app.core.atomic import write_atomic
from app.core.compliance import Rules
from app.core.errors import KnockoutError
from app.core.export import FORMATS, WHITE, ExportSettings, parse_colour
from app.core.naming import check_template
from app.governance.policy import NO_POLICY, Policy, load_policy

SCHEMA = 1
MAX_FILE_BYTES = 64 * 1024
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
TOP_KEYS = {"knockout_preset", "id", "label", "description", "version", "template", "locked", "export", "rules"}
EXPORT_KEYS = {f.name for f in dataclasses.fields(ExportSettings)}
RULE_KEYS = {"background", "fill_range", "min_size", "colour_space"}
COLOUR_SPACES = ("sRGB",)
CHECK_RULES = "Check your marketplace's current rules: they change."


class PresetError(KnockoutError):
    """A preset that does not exist, is not allowed, or a preset file we refuse (with why)."""

    code = "preset_error"


@dataclass(frozen=True)
class Preset:
    id: str
    label: str
    description: str
    settings: ExportSettings
    template: str = "{stem}-{preset}"
    rules: Rules | None = None
    locked: bool = False
    version: int = 1
    source: str = "builtin"  # builtin | team | policy

    def as_dict(self) -> dict[str, Any]:
        """The desktop contract's Preset (plus template, version, source)."""
        return {"id": self.id, "label": self.label, "description": self.description,
                "format": self.settings.format, "locked": self.locked, "template": self.template,
                "version": self.version, "source": self.source}


def builtin_presets() -> list[Preset]:
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


# ---------------------------------------------------------------- parsing


def _fail(where: str, message: str) -> PresetError:
    return PresetError(f"{where}: {message}")


def _pair(value: Any, key: str, where: str, kind: type) -> tuple[Any, Any]:
    if isinstance(value, str) and kind is int:
        w, _, h = value.lower().partition("x")
        try:
            value = [int(w), int(h)]
        except ValueError:
            raise _fail(where, f"{key} must be like [2000, 2000] or \"2000x2000\", not {value!r}") from None
    ok = isinstance(value, list) and len(value) == 2 and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and (kind is float or isinstance(v, int))
        for v in value)
    if not ok:
        example = "[2000, 2000]" if kind is int else "[0.8, 0.95]"
        raise _fail(where, f"{key} must be a pair of numbers like {example}, not {value!r}")
    return (kind(value[0]), kind(value[1]))


def _colour(value: Any, key: str, where: str) -> tuple[int, int, int]:
    if isinstance(value, list) and len(value) == 3 and all(isinstance(c, int) and 0 <= c <= 255 for c in value):
        return (value[0], value[1], value[2])
    if isinstance(value, str):
        try:
            return parse_colour(value)
        except ValueError as exc:
            raise _fail(where, f"{key}: {exc}") from None
    raise _fail(where, f"{key} must be a colour like \"white\", \"#ffffff\" or [255, 255, 255], not {value!r}")


def _unknown(data: dict[str, Any], allowed: set[str], where: str, section: str) -> None:
    extra = sorted(set(data) - allowed)
    if extra:
        raise _fail(where, f"unknown {section} key{'s' if len(extra) > 1 else ''} {', '.join(map(repr, extra))} "
                           f"(allowed: {', '.join(sorted(allowed))})")


def _export_settings(raw: Any, where: str) -> ExportSettings:
    if not isinstance(raw, dict):
        raise _fail(where, "\"export\" must be an object of export settings")
    _unknown(raw, EXPORT_KEYS, where, "export")
    types = {f.name: f.default for f in dataclasses.fields(ExportSettings)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "background":
            values[key] = None if value is None else _colour(value, key, where)
        elif key in ("canvas", "max_size"):
            values[key] = None if value is None else _pair(value, key, where, int)
        elif key == "keep_exif_fields":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise _fail(where, "keep_exif_fields must be a list of EXIF tag names like [\"Copyright\"]")
            unknown = [v for v in value if not hasattr(ExifTags.Base, v)]
            if unknown:
                raise _fail(where, f"unknown EXIF tag name(s) {', '.join(unknown)} in keep_exif_fields")
            values[key] = tuple(value)
        elif key == "format":
            if value not in FORMATS:
                raise _fail(where, f"format must be one of {', '.join(FORMATS)}, not {value!r}")
            values[key] = value
        else:
            default = types[key]
            if isinstance(default, bool):
                ok = isinstance(value, bool)
            elif isinstance(default, int):
                ok = isinstance(value, int) and not isinstance(value, bool)
            else:
                ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            if not ok:
                raise _fail(where, f"{key} must be a {type(default).__name__}, not {value!r}")
            values[key] = float(value) if isinstance(default, float) else value
    try:
        return ExportSettings(**values)
    except ValueError as exc:
        raise _fail(where, str(exc)) from None


def _rules(raw: Any, where: str) -> Rules | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise _fail(where, "\"rules\" must be an object (or null)")
    _unknown(raw, RULE_KEYS, where, "rules")
    background = raw.get("background")
    fill = raw.get("fill_range")
    fill_range = None if fill is None else _pair(fill, "fill_range", where, float)
    if fill_range is not None and not 0 < fill_range[0] <= fill_range[1] <= 1:
        raise _fail(where, "fill_range must be [low, high] with 0 < low <= high <= 1")
    min_size = raw.get("min_size")
    if min_size is not None and (not isinstance(min_size, int) or isinstance(min_size, bool) or min_size < 1):
        raise _fail(where, f"min_size must be a whole number of pixels, not {min_size!r}")
    space = raw.get("colour_space", "sRGB")
    if space is not None and space not in COLOUR_SPACES:
        raise _fail(where, f"colour_space must be one of {', '.join(COLOUR_SPACES)} or null, not {space!r}")
    return Rules(None if background is None else _colour(background, "rules.background", where),
                 fill_range, min_size, space)


def _text(data: dict[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = data.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise _fail(where, f"\"{key}\" must be a non-empty text")
    return value.strip()


def preset_from_dict(data: Any, where: str = "preset", source: str = "team") -> Preset:
    """Validate a parsed preset file; PresetError names the problem (and ``where``)."""
    if not isinstance(data, dict):
        raise _fail(where, "a preset file must hold one JSON object")
    if "knockout_preset" not in data:
        raise _fail(where, "not a Knockout preset (no \"knockout_preset\" version key)")
    if data["knockout_preset"] != SCHEMA:
        raise _fail(where, f"preset format version {data['knockout_preset']!r} is not supported "
                           f"(this Knockout reads version {SCHEMA}); update Knockout or re-export the preset")
    _unknown(data, TOP_KEYS, where, "preset")
    preset_id = data.get("id")
    if not isinstance(preset_id, str) or not ID_PATTERN.match(preset_id):
        raise _fail(where, f"\"id\" must be lower-case letters, digits, - or _ (up to 64), not {preset_id!r}")
    version = data.get("version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise _fail(where, f"\"version\" must be a whole number from 1, not {version!r}")
    locked = data.get("locked", False)
    if not isinstance(locked, bool):
        raise _fail(where, "\"locked\" must be true or false")
    if "export" not in data:
        raise _fail(where, "missing \"export\" (the export settings)")
    template = _text(data, "template", where, "{stem}-{preset}")
    try:
        check_template(template)
    except ValueError as exc:
        raise _fail(where, str(exc)) from None
    return Preset(preset_id, _text(data, "label", where), str(data.get("description", "")).strip(),
                  _export_settings(data["export"], where), template, _rules(data.get("rules"), where),
                  locked, version, source)


def preset_to_dict(preset: Preset) -> dict[str, Any]:
    """The file form of a preset (what ``export_preset`` writes and ``import_preset`` reads)."""
    export: dict[str, Any] = {}
    for f in dataclasses.fields(ExportSettings):
        value = getattr(preset.settings, f.name)
        export[f.name] = list(value) if isinstance(value, tuple) else value
    out: dict[str, Any] = {"knockout_preset": SCHEMA, "id": preset.id, "label": preset.label,
                           "description": preset.description, "version": preset.version,
                           "template": preset.template, "locked": preset.locked, "export": export}
    if preset.rules is not None:
        out["rules"] = {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(preset.rules).items()}
    return out


def read_preset_file(path: Path, source: str = "team") -> Preset:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise _fail(str(path), f"too large for a preset file (over {MAX_FILE_BYTES // 1024} KiB)")
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise _fail(str(path), f"cannot read it ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise _fail(str(path), "not a text (UTF-8 JSON) file") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _fail(str(path), f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    return preset_from_dict(data, str(path), source)


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
        pinned = policy.apply(preset.settings)  # every exporter (CLI, desktop) gets IT's pins
        if pinned is not preset.settings:
            preset = dataclasses.replace(preset, settings=pinned)
        result.append(preset)
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
