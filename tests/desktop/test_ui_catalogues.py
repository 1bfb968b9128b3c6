"""The window's message catalogues (ui/i18n/*.json): every language says every message English has,
with the same placeholders and every plural form its language needs, and no message goes unused."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from app.governance.settings_schema import LANGUAGES

UI = Path(__file__).resolve().parents[2] / "ui"
APP = UI.parent / "app"
CATALOGUES = UI / "i18n"
# Intl.PluralRules(lang).resolvedOptions().pluralCategories in Chromium (CLDR 44+): French, Spanish
# and Italian have "many" for round millions ("1 million de fichiers"), Polish one/few/many/other.
PLURALS = {"en": {"one", "other"}, "de": {"one", "other"}, "nl": {"one", "other"},
           "fr": {"one", "many", "other"}, "es": {"one", "many", "other"}, "it": {"one", "many", "other"},
           "pl": {"one", "few", "many", "other"}}
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def load(lang: str) -> dict[str, object]:
    return json.loads((CATALOGUES / f"{lang}.json").read_text(encoding="utf-8"))


def placeholders(value: object) -> set[str]:
    texts = value.values() if isinstance(value, dict) else [value]
    return {name for text in texts for name in PLACEHOLDER.findall(str(text))}


ENGLISH = load("en")
OTHERS = [lang for lang in LANGUAGES if lang not in ("auto", "en")]


def test_there_is_a_catalogue_for_every_language_the_setting_offers():
    assert sorted(p.stem for p in CATALOGUES.glob("*.json")) == sorted(lang for lang in LANGUAGES if lang != "auto")


@pytest.mark.parametrize("lang", OTHERS)
def test_every_english_message_is_translated_with_the_same_placeholders(lang):
    catalogue = load(lang)
    assert sorted(set(ENGLISH) - set(catalogue)) == [], "missing"
    assert sorted(set(catalogue) - set(ENGLISH)) == [], "not in en.json"
    for key, english in ENGLISH.items():
        value = catalogue[key]
        assert isinstance(value, dict) == isinstance(english, dict), key
        if isinstance(value, dict):
            # "one" may spell the number out ("Einmal exportiert"), but no form invents a placeholder
            for form, text in value.items():
                assert placeholders(text) <= placeholders(english), (key, form)
            assert placeholders(value) | {"count"} >= placeholders(english), key
        else:
            assert placeholders(value) == placeholders(english), key
            assert value.strip(), key


@pytest.mark.parametrize("lang", ["en", *OTHERS])
def test_plural_messages_have_every_form_the_language_needs(lang):
    for key, value in load(lang).items():
        if isinstance(value, dict):
            assert set(value) == PLURALS[lang], (lang, key)
            spelled_out = key.startswith("history.") or key == "flag.touches-edge"  # "Exported once", "the top edge"
            assert "{count}" in "".join(str(v) for v in value.values()) or spelled_out, key


def _js() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted((UI / "js").glob("*.js")))


def test_no_message_is_unused():
    html = (UI / "index.html").read_text(encoding="utf-8")
    js = _js()
    used = set(re.findall(r'data-i18n(?:-[a-z-]+)?="([^"]+)"', html))
    used |= {key for key in ENGLISH if f"'{key}'" in js}
    # keys made at run time: t(`state.${item.state}`) and the codes ui/js/messages.js words by prefix
    prefixes = set(re.findall(r"t\(`([a-z_]+\.)[a-z_]*\$\{", js))
    prefixes |= {"check.", "error.", "flag.", "rule.", "side.", "where."}
    unused = [key for key in ENGLISH if key not in used and not key.startswith(tuple(prefixes))]
    assert unused == []


def _python_codes() -> set[str]:
    """Every error code the window can be sent: KnockoutError codes, refusals by code, fixes' answers."""
    codes: set[str] = set()
    for path in APP.rglob("*.py"):
        if {"cli", "evaluation"} & set(path.parts):
            continue  # the command line stays English; the model evaluation is a developer's tool
        text = path.read_text(encoding="utf-8")
        codes |= set(re.findall(r'\bcode\s*=\s*"([\w-]+)"', text))
        codes |= set(re.findall(r'SettingsError\(.*, "(\w+)"\)$', text, re.M))
    inputs = (APP / "batch" / "inputs.py").read_text(encoding="utf-8")
    codes |= set(re.findall(r'return "([a-z_]+)", ', inputs))  # why a path is refused
    fixes = (APP / "desktop" / "mask_fixes.py").read_text(encoding="utf-8")
    codes |= set(re.findall(r'\(\s*"([\w-]+)", "', fixes))  # a fix that changes nothing
    return codes


def test_every_error_code_the_window_can_show_has_a_message():
    codes = _python_codes() | {"out_of_memory", "io_error", "internal_error", "output_failed", "bridge", "paste"}
    assert {"unreadable", "not-found", "no-backdrop", "no-holes", "locked", "symlink_loop"} <= codes
    missing = sorted(code for code in codes if f"error.{code}" not in ENGLISH)
    assert missing == []


def test_every_quality_flag_and_its_variants_have_a_message():
    sources = [(APP / "core" / name).read_text(encoding="utf-8") for name in ("qa.py", "source_quality.py")]
    codes = {code for text in sources for code in re.findall(r'Flag\("([\w-]+)"', text)}
    assert {"halo", "filled-hole", "touches-edge", "recompressed", "no-profile"} <= codes
    assert sorted(code for code in codes if f"flag.{code}" not in ENGLISH) == []
    variants = {v for text in sources for v in re.findall(r'"variant": "(\w+)"', text)}
    assert variants == {"empty", "messaging", "subject"}
    assert {key.rsplit(".", 1)[1] for key in ENGLISH if key.startswith("flag.") and key.count(".") == 2} == variants


def test_every_rule_a_file_can_break_has_a_message():
    text = (APP / "core" / "compliance.py").read_text(encoding="utf-8")
    codes = set(re.findall(r'Violation\("([\w-]+)"', text))
    assert {"background", "fill", "too-small", "format", "transparent"} <= codes
    worded = {key.split(".")[1] for key in ENGLISH if key.startswith("rule.")}  # rule.fill.low words "fill"
    assert sorted(codes - worded) == []
    variants = {v for v in re.findall(r'"variant": "(\w+)"', text)}
    assert sorted(v for v in variants if not any(k.endswith(f".{v}") for k in ENGLISH if k.startswith("rule."))) == []


def test_every_reason_to_reject_has_a_message():
    from app.governance.review import REASONS

    assert sorted(f"reason.{key}" for key in REASONS) == sorted(k for k in ENGLISH if k.startswith("reason."))


def test_the_shipped_presets_english_words_are_the_presets_own():
    from app.governance.presets import builtin_presets

    for preset in builtin_presets():
        assert ENGLISH[f"preset.{preset.id}.label"] == preset.label
        if preset.channel is not None:  # the page adds when its rules were read, from the channel
            tail = ENGLISH["preset.rules_read"].replace("{date}", preset.channel.read_on)
            confirm = "" if preset.channel.confirmed else " " + str(ENGLISH["preset.to_confirm"])
            assert f"{ENGLISH[f'preset.{preset.id}.summary']} {tail}{confirm}" == preset.description
        else:
            assert ENGLISH[f"preset.{preset.id}.description"] == preset.description
        for output in preset.outputs:
            assert ENGLISH[f"output.{preset.id}.{output.id}"] == output.label


def test_every_rule_knockout_checks_on_a_file_has_words():
    from app.core.compliance import Rules, describe_codes

    every = Rules(background=(255, 255, 255), opaque=True, fill_range=(0.75, 0.9), min_size=500, min_long_side=1000,
                  max_side=9000, max_pixels=64_000_000, aspects=((1, 1),), formats=("jpg",), max_bytes=10_000_000)
    codes = {c["code"] for rules in (every, Rules(fill_range=(0.85, 1.0))) for c in describe_codes(rules)}
    assert len(codes) == 12
    assert sorted(code for code in codes if f"check.{code}" not in ENGLISH) == []
