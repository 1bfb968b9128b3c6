"""Preset files: the versioned JSON a team shares, checked key by key (unknown keys refused).

Schema 2 (written now) adds delivery sets and channel facts; schema 1 files (one output,
``export`` + ``rules``) still read, unchanged. A single-output preset::

    {"knockout_preset": 2, "id": "shop-white", "label": "Shop", "description": "...",
     "version": 3, "template": "{stem}-{preset}", "locked": false,
     "export": {"format": "jpg", "background": "white", "canvas": [2000, 2000], ...},
     "rules": {"background": "white", "fill_range": [0.8, 0.95], "min_size": 1000,
               "colour_space": "sRGB", "formats": ["jpg", "png"], "max_bytes": 10000000},
     "channel": {"name": "Our shop", "sources": [{"url": "https://...", "took": "sizes"}],
                 "read_on": "2026-12-05", "unchecked_rules": ["no props"], "note": "...",
                 "confirmed": true}}

A delivery set has ``outputs`` instead of ``template``/``export``/``rules``/``channel``: a list
of ``{"id", "label", "template", "export", "rules", "channel"}``, one per file, written from
the same mask.

Either may have ``source_checks`` (schema 2): which source quality checks run and when they
speak, e.g. ``{"max_upscale": 1.5, "refuse_upscale": true}`` (app.core.source_quality.SourceChecks:
its fields are the keys).
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

from PIL import ExifTags

from app.core.compliance import Rules
from app.core.export import FORMATS, ExportSettings, parse_colour
from app.core.naming import check_template
from app.core.source_quality import DEFAULT_CHECKS, SourceChecks
from app.governance.preset_model import Channel, Output, Preset, PresetError, Source

SCHEMA = 2
READABLE = (1, 2)
MAX_FILE_BYTES = 64 * 1024
MAX_OUTPUTS = 12
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
COMMON_KEYS = {"knockout_preset", "id", "label", "description", "version", "locked"}
SINGLE_KEYS = {"template", "export", "rules"}
TOP_KEYS = {1: COMMON_KEYS | SINGLE_KEYS, 2: COMMON_KEYS | SINGLE_KEYS | {"channel", "outputs", "source_checks"}}
OUTPUT_KEYS = {"id", "label", "template", "export", "rules", "channel"}
CHANNEL_KEYS = {"name", "sources", "read_on", "unchecked_rules", "note", "confirmed"}
EXPORT_KEYS = {f.name for f in dataclasses.fields(ExportSettings)}
RULE_KEYS = {f.name for f in dataclasses.fields(Rules)}
V1_RULE_KEYS = {"background", "fill_range", "min_size", "colour_space"}
WHOLE_RULES = ("min_size", "min_long_side", "max_side", "max_pixels", "max_bytes")
FILE_FORMATS = ("jpg", "png", "tif", "gif", "webp", "bmp")
COLOUR_SPACES = ("sRGB",)
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


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


def _text(data: dict[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = data.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise _fail(where, f"\"{key}\" must be a non-empty text")
    return value.strip()


def _whole(raw: dict[str, Any], key: str, where: str) -> int | None:
    value = raw.get(key)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
        raise _fail(where, f"{key} must be a whole number from 1, not {value!r}")
    return value


def _rules(raw: Any, where: str, allowed: set[str] = RULE_KEYS) -> Rules | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise _fail(where, "\"rules\" must be an object (or null)")
    _unknown(raw, allowed, where, "rules")
    background = raw.get("background")
    fill = raw.get("fill_range")
    fill_range = None if fill is None else _pair(fill, "fill_range", where, float)
    if fill_range is not None and not 0 < fill_range[0] <= fill_range[1] <= 1:
        raise _fail(where, "fill_range must be [low, high] with 0 < low <= high <= 1")
    space = raw.get("colour_space", "sRGB")
    if space is not None and space not in COLOUR_SPACES:
        raise _fail(where, f"colour_space must be one of {', '.join(COLOUR_SPACES)} or null, not {space!r}")
    aspects = raw.get("aspects")
    if aspects is not None:
        if not isinstance(aspects, list) or not aspects:
            raise _fail(where, "aspects must be a list of [width, height] ratios like [[1, 1], [4, 3]]")
        aspects = tuple(_pair(a, "aspects", where, int) for a in aspects)
        if any(min(a) < 1 for a in aspects):
            raise _fail(where, "aspects must be ratios of whole numbers from 1, like [4, 3]")
    formats = raw.get("formats")
    if formats is not None:
        if not isinstance(formats, list) or not formats or any(f not in FILE_FORMATS for f in formats):
            raise _fail(where, f"formats must be a list of {', '.join(FILE_FORMATS)}, not {formats!r}")
        formats = tuple(formats)
    opaque = raw.get("opaque", False)
    if not isinstance(opaque, bool):
        raise _fail(where, "opaque must be true or false")
    whole = {key: _whole(raw, key, where) for key in WHOLE_RULES}
    return Rules(background=None if background is None else _colour(background, "rules.background", where),
                 fill_range=fill_range, colour_space=space, aspects=aspects, formats=formats, opaque=opaque,
                 **whole)


def _channel(raw: Any, where: str) -> Channel | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise _fail(where, "\"channel\" must be an object (or null)")
    _unknown(raw, CHANNEL_KEYS, where, "channel")
    sources = raw.get("sources", [])
    if not isinstance(sources, list) or not all(
            isinstance(s, dict) and set(s) == {"url", "took"} and all(isinstance(v, str) for v in s.values())
            for s in sources):
        raise _fail(where, "channel sources must be a list of {\"url\": ..., \"took\": ...}")
    unchecked = raw.get("unchecked_rules", [])
    if not isinstance(unchecked, list) or not all(isinstance(u, str) and u.strip() for u in unchecked):
        raise _fail(where, "unchecked_rules must be a list of texts")
    read_on = raw.get("read_on", "")
    if not isinstance(read_on, str) or not DATE.match(read_on):
        raise _fail(where, f"channel read_on must be a date like \"2026-12-05\", not {read_on!r}")
    confirmed = raw.get("confirmed", True)
    if not isinstance(confirmed, bool):
        raise _fail(where, "channel confirmed must be true or false")
    return Channel(_text(raw, "name", where), tuple(Source(s["url"], s["took"]) for s in sources), read_on,
                   tuple(u.strip() for u in unchecked), str(raw.get("note", "")).strip(), confirmed)


def _template(data: dict[str, Any], where: str) -> str:
    template = _text(data, "template", where, "{stem}-{preset}")
    try:
        check_template(template)
    except ValueError as exc:
        raise _fail(where, str(exc)) from None
    return template


def _outputs(raw: Any, where: str) -> tuple[Output, ...]:
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_OUTPUTS:
        raise _fail(where, f"\"outputs\" must be a list of 1 to {MAX_OUTPUTS} outputs")
    outputs = []
    for n, item in enumerate(raw, 1):
        at = f"{where}: output {n}"
        if not isinstance(item, dict):
            raise _fail(at, "an output must be an object")
        _unknown(item, OUTPUT_KEYS, at, "output")
        output_id = item.get("id")
        if not isinstance(output_id, str) or not ID_PATTERN.match(output_id):
            raise _fail(at, f"\"id\" must be lower-case letters, digits, - or _, not {output_id!r}")
        if "export" not in item:
            raise _fail(at, "missing \"export\" (the output's settings)")
        outputs.append(Output(output_id, _text(item, "label", at, output_id), _export_settings(item["export"], at),
                              _template(item, at), _rules(item.get("rules"), at), _channel(item.get("channel"), at)))
    ids = [o.id for o in outputs]
    names = [(o.template, o.settings.extension) for o in outputs]
    if len(set(ids)) < len(ids):
        raise _fail(where, "two outputs have the same id")
    if len(set(names)) < len(names):
        raise _fail(where, "two outputs would write the same file: give each its own template")
    return tuple(outputs)


def preset_from_dict(data: Any, where: str = "preset", source: str = "team") -> Preset:
    """Validate a parsed preset file (schema 1 or 2); PresetError names the problem (and ``where``)."""
    if not isinstance(data, dict):
        raise _fail(where, "a preset file must hold one JSON object")
    if "knockout_preset" not in data:
        raise _fail(where, "not a Knockout preset (no \"knockout_preset\" version key)")
    schema = data["knockout_preset"]
    if schema not in READABLE or isinstance(schema, bool):
        raise _fail(where, f"preset format version {schema!r} is not supported "
                           f"(this Knockout reads versions {', '.join(map(str, READABLE))}); "
                           "update Knockout or re-export the preset")
    _unknown(data, TOP_KEYS[schema], where, "preset")
    preset_id = data.get("id")
    if not isinstance(preset_id, str) or not ID_PATTERN.match(preset_id):
        raise _fail(where, f"\"id\" must be lower-case letters, digits, - or _ (up to 64), not {preset_id!r}")
    version = data.get("version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise _fail(where, f"\"version\" must be a whole number from 1, not {version!r}")
    locked = data.get("locked", False)
    if not isinstance(locked, bool):
        raise _fail(where, "\"locked\" must be true or false")
    label, description = _text(data, "label", where), str(data.get("description", "")).strip()
    try:
        checks = SourceChecks.from_dict(data["source_checks"]) if "source_checks" in data else DEFAULT_CHECKS
    except ValueError as exc:
        raise _fail(where, str(exc)) from None
    if "outputs" in data:
        mixed = sorted(set(data) & (SINGLE_KEYS | {"channel"}))
        if mixed:
            raise _fail(where, f"a delivery set gives each output its own settings: move {', '.join(mixed)} "
                               "into its outputs")
        outputs = _outputs(data["outputs"], where)
        return Preset(preset_id, label, description, outputs[0].settings, outputs[0].template, None, locked,
                      version, source, outputs, source_checks=checks)
    if "export" not in data:
        raise _fail(where, "missing \"export\" (the export settings) or \"outputs\" (a delivery set)")
    rules = _rules(data.get("rules"), where, RULE_KEYS if schema > 1 else V1_RULE_KEYS)
    return Preset(preset_id, label, description, _export_settings(data["export"], where), _template(data, where),
                  rules, locked, version, source, channel=_channel(data.get("channel"), where),
                  source_checks=checks)


def _settings_dict(settings: ExportSettings) -> dict[str, Any]:
    return {f.name: list(v) if isinstance(v := getattr(settings, f.name), tuple) else v
            for f in dataclasses.fields(ExportSettings)}


def _rules_dict(rules: Rules) -> dict[str, Any]:
    return json.loads(json.dumps(dataclasses.asdict(rules)))  # tuples -> lists, nested too


def _single(template: str, settings: ExportSettings, rules: Rules | None, channel: Channel | None) -> dict[str, Any]:
    out: dict[str, Any] = {"template": template, "export": _settings_dict(settings)}
    if rules is not None:
        out["rules"] = _rules_dict(rules)
    if channel is not None:
        out["channel"] = channel.as_dict()
    return out


def preset_to_dict(preset: Preset) -> dict[str, Any]:
    """The file form of a preset (what ``export_preset`` writes and ``import_preset`` reads)."""
    out: dict[str, Any] = {"knockout_preset": SCHEMA, "id": preset.id, "label": preset.label,
                           "description": preset.description, "version": preset.version, "locked": preset.locked}
    if preset.outputs:
        out["outputs"] = [{"id": o.id, "label": o.label, **_single(o.template, o.settings, o.rules, o.channel)}
                          for o in preset.outputs]
    else:
        out.update(_single(preset.template, preset.settings, preset.rules, preset.channel))
    if preset.source_checks != DEFAULT_CHECKS:
        out["source_checks"] = preset.source_checks.as_dict()
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
