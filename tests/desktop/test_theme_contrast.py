"""The colour variables of ui/css meet WCAG 2.1 AA contrast in the light and the dark theme.

axe checks the text it sees on the states the UI tests picture; this reads every pairing the
stylesheets use (flags, badges, messages on their tints, the focus ring) in both themes, so a
colour changed for one theme cannot quietly fail in the other.
"""

from __future__ import annotations

import re

import pytest

from app import paths

TEXT = 4.5  # body text (WCAG 1.4.3)
UI = 3.0  # focus indicators and the parts of a control that identify it (WCAG 1.4.11)

# (foreground, background, minimum) as the stylesheets pair them.
PAIRS = [
    *[(fg, bg, TEXT) for fg in ("text", "muted") for bg in ("bg", "panel", "panel-2", "accent-soft")],
    *[(fg, bg, TEXT) for fg in ("accent", "danger", "warn", "ok") for bg in ("panel", "panel-2")],
    ("warn", "accent-soft", TEXT),  # a flagged row, selected
    ("danger", "accent-soft", TEXT),  # a failed row, selected
    ("warn", "warn-soft", TEXT),
    ("danger", "danger-soft", TEXT),
    ("ok", "ok-soft", TEXT),
    ("accent-text", "accent", TEXT),
    *[("focus", bg, UI) for bg in ("bg", "panel", "panel-2", "stage", "accent-soft")],
    *[("control-border", bg, UI) for bg in ("panel", "panel-2")],
]


def _variables(block_head: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for name in ("app.css", "review.css"):
        css = (paths.ui_dir() / "css" / name).read_text(encoding="utf-8")
        for match in re.finditer(re.escape(block_head) + r"\s*\{([^}]*)\}", css):
            found.update(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})\s*;", match.group(1)))
    return found


def _themes() -> dict[str, dict[str, str]]:
    light = _variables(":root")
    return {"light": light, "dark": {**light, **_variables(':root[data-theme="dark"]')}}


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_contrast_formula_matches_the_wcag_reference_values():
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)


def test_the_dark_theme_for_the_os_setting_and_the_pinned_one_are_the_same_colours():
    css = (paths.ui_dir() / "css" / "app.css").read_text(encoding="utf-8")
    media = re.search(r':root:not\(\[data-theme="light"\]\)\s*\{([^}]*)\}', css)
    pinned = re.search(r':root\[data-theme="dark"\]\s*\{([^}]*)\}', css)
    assert media and pinned
    assert dict(re.findall(r"--([\w-]+):\s*([^;]+);", media.group(1))) == dict(
        re.findall(r"--([\w-]+):\s*([^;]+);", pinned.group(1)))


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_every_colour_pairing_meets_wcag_aa_contrast(theme):
    colours = _themes()[theme]
    failing = [f"--{fg} on --{bg}: {contrast(colours[fg], colours[bg]):.2f} < {need}"
               for fg, bg, need in PAIRS if contrast(colours[fg], colours[bg]) < need]
    assert not failing, f"{theme} theme: " + "; ".join(failing)
