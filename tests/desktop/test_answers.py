"""The bridge contract as docs/desktop-bridge.md writes it: every public method of the js_api
object is in the doc's method table (the page can call each one), and each answers the keys the
table lists, as its TypedDict (app.desktop.answers) says. A new method, or a new key, without its line
in the doc fails here."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest

from app.desktop import answers
from app.desktop.bridge import Api
from app.desktop.jobs import STATES

DOC = Path(__file__).resolve().parents[2] / "docs" / "desktop-bridge.md"


def _section(title: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:] if end < 0 else text[start:end]


def documented_methods() -> dict[str, set[str]]:
    """Method name -> the answer keys its row lists (backquoted names; "—" for none)."""
    rows: dict[str, set[str]] = {}
    for line in _section("js_api methods").splitlines():
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]]
        match = re.fullmatch(r"`(\w+)\(.*\)`", cells[0]) if cells else None
        if match:
            assert match[1] not in rows, f"{match[1]} has two rows"
            rows[match[1]] = set(re.findall(r"`(\w+)`", cells[1]))
    return rows


def documented_shape(name: str) -> set[str]:
    """The keys of a shape written under the table, e.g. ``Item    = {id, name, ...}``."""
    match = re.search(rf"^{name}\s*=\s*\{{([^}}]*)\}}", _section("js_api methods"), re.MULTILINE)
    assert match, f"the doc has no {name} shape"
    return {key.strip() for key in match[1].split(",")}


def public_methods() -> dict[str, typing.Any]:
    """Every public name of an Api object (what pywebview exposes to the page) -> its answer type."""
    api = Api(None, "tok", None)  # type: ignore[arg-type]  # only its surface is looked at
    found = {}
    for name in dir(api):
        if not name.startswith("_"):
            assert callable(getattr(api, name)), f"{name} is a public attribute: the page could reach it"
            found[name] = typing.get_type_hints(getattr(Api, name))["return"]
    return found


def _keys(shape: typing.Any) -> set[str]:
    assert typing.is_typeddict(shape), f"{shape} is not a TypedDict"
    return set(shape.__required_keys__ | shape.__optional_keys__)


def test_every_public_api_method_has_its_row_in_the_doc_and_every_row_a_method():
    documented = documented_methods()
    assert len(documented) > 20  # the table was found and read
    assert set(public_methods()) == set(documented)


@pytest.mark.parametrize("method", sorted(documented_methods()))
def test_each_method_answers_the_keys_its_row_lists(method):
    assert _keys(public_methods()[method]) == documented_methods()[method]


def test_the_item_and_summary_shapes_are_the_documented_ones():
    assert _keys(answers.Item) == documented_shape("Item")
    assert {"total", *STATES} == documented_shape("summary")
