"""File-name templates such as ``{stem}-{preset}``: the one place that checks and renders them.

A template comes from a shared preset file, the user's settings, IT's policy, the page or
``--name``, so it is checked before anything is rendered: only the known fields, no
attribute or index access, no conversion, and a format spec only if it is bounded (an
alignment/fill, a width and a precision of at most ``MAX_NAME`` each, no type code). A
Python format spec is otherwise unbounded: ``{stem:>400000000}`` would build a 400 MB
string on every preset load. The template, and what it gives with one-letter field
values, must fit in a file name (``MAX_NAME`` bytes). ``{version}`` is special: it is not given but
found on disk (the next free ``v1``, ``v2``… for that name: ``app.core.versions``), so it appears at
most once and bare.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping

FIELDS = ("stem", "name", "ext", "parent", "preset", "version")
VERSION = "version"
MAX_NAME = 255  # bytes in a file name on every file system we write to
NOT_IN_NAMES = '/\\:*?"<>|'
_SPEC = re.compile(r"^(?:.?[<>^])?(?P<width>\d+)?(?:\.(?P<precision>\d+))?$", re.DOTALL)


def _problem(template: str, fields: Iterable[str]) -> str | None:
    if len(template.encode("utf-8")) > MAX_NAME:
        return f"it is longer than a file name ({MAX_NAME} bytes)"
    known = tuple(fields)
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        return str(exc)
    for _literal, field, spec, conversion in parts:
        if field is None:
            continue
        if field not in known:
            return f"{{{field}}} is not a field (use {', '.join('{' + f + '}' for f in known)})"
        if field == VERSION and (spec or sum(p[1] == VERSION for p in parts) > 1):
            return "write {version} once and without a format spec"
        if conversion is not None:
            return f"write {{{field}}} without !{conversion}"
        if spec:
            match = _SPEC.match(spec)
            if match is None:
                return f"{{{field}:{spec}}} may only align, pad and shorten the field"
            if any(int(n) > MAX_NAME for n in match.group("width", "precision") if n):
                return f"{{{field}:{spec}}} is wider than a file name (at most {MAX_NAME})"
    sample = template.format(**{name: "x" for name in known})  # bounded now
    if len(sample.encode("utf-8")) > MAX_NAME:
        return f"it gives names longer than a file name ({MAX_NAME} bytes)"
    if not sample.strip() or any(c in sample for c in NOT_IN_NAMES) or sample.strip() in (".", ".."):
        return "it must give a plain file name"
    return None


def check_template(template: str, fields: Iterable[str] = FIELDS) -> str:
    """``template`` if it makes plain, bounded file names from ``fields``, else ValueError saying why."""
    problem = _problem(template, fields)
    if problem is not None:
        raise ValueError(f"the file name template {template!r} does not work: {problem}")
    return template


def has_version(template: str) -> bool:
    """True if the template names ``{version}``: each export is a new version, never a replacement."""
    try:
        return any(field == VERSION for _literal, field, _spec, _conversion in string.Formatter().parse(template))
    except ValueError:
        return False


def render_name(template: str, values: Mapping[str, str]) -> str:
    """The file name (without extension) ``template`` gives for ``values``; ValueError for a bad
    template or a name that is not a plain file name."""
    check_template(template, values.keys())
    name = template.format(**values).strip()
    if not name or any(c in name for c in NOT_IN_NAMES) or name in (".", ".."):
        raise ValueError(f"the file name template {template!r} gives no usable name for {values.get('name', '')}")
    return name


def fill(template: str, values: Mapping[str, str]) -> str:
    """``template`` with the fields in ``values`` filled in and the others left for later, e.g.
    the preset id before the command line's renderer, which only knows the file's own fields."""
    check_template(template)
    out = []
    for literal, field, spec, _conversion in string.Formatter().parse(template):
        out.append(literal.replace("{", "{{").replace("}", "}}"))
        if field is None:
            continue
        if field in values:
            out.append(format(values[field], spec or "").replace("{", "{{").replace("}", "}}"))
        else:
            out.append("{" + field + (":" + spec if spec else "") + "}")
    return "".join(out)
