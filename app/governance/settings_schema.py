"""What a user setting is: its key, its built-in default and the check its value must pass.

Below both ``app.governance.settings`` (which stores the user's values and merges in the policy) and
``app.governance.policy`` (which pins values IT chose and checks them with the same rules), so the two
depend on this module and never on each other's internals.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app import paths
from app.core.errors import KnockoutError
from app.core.naming import check_template
from app.inference.manifest import bundled_default
from app.inference.providers import DEVICES

THEMES = ("system", "light", "dark")
# The window's language: "auto" follows the computer's; the others have a catalogue in ui/i18n/.
LANGUAGES = ("auto", "en", "de", "fr", "es", "it", "nl", "pl")
# True/false settings. The cutout quality steps (refine_edges, remove_specks, auto_recover_parts:
# the mask a photo gets when it is opened; decontaminate: its export) are on by default, like the CLI's.
FLAGS = ("audit", "sidecar", "refine_edges", "decontaminate", "remove_specks", "auto_recover_parts")
# How many views of a photo the model answers for (app.inference.views): two in the window,
# where one photo at a time is looked at closely; the command line's batch default is one.
VIEWS = (1, 2)
WINDOW_VIEWS = 2


class SettingsError(KnockoutError):
    """A setting we refuse; ``code`` is "unknown", "invalid" or "locked" (for the bridge's envelope)."""

    code = "invalid"

    def __init__(self, message: str, code: str = "invalid") -> None:
        super().__init__(message, code=code)


def defaults() -> dict[str, Any]:
    """Every setting with its built-in value (the machine policy and the user's file come on top)."""
    return {"model": bundled_default(), "device": "auto", "output_dir": str(paths.default_output_dir()),
            "theme": "system", "language": "auto", "preset": "png-master", "template": "{stem}-{preset}",
            "audit": False, "sidecar": False, "refine_edges": True, "decontaminate": True, "remove_specks": True,
            "auto_recover_parts": True, "views": WINDOW_VIEWS}


DEFAULTS = defaults()
KEYS = tuple(DEFAULTS)


def _check(key: str, value: Any) -> Any:
    if key in FLAGS:
        if not isinstance(value, bool):
            raise SettingsError(f"{key} must be true or false, not {value!r}")
        return value
    if key == "views":
        if isinstance(value, bool) or value not in VIEWS:
            raise SettingsError(f"views must be 1 or 2, not {value!r}")
        return value
    if not isinstance(value, str) or not value.strip():
        raise SettingsError(f"{key} must be a non-empty text, not {value!r}")
    value = value.strip()
    if key == "device" and value not in DEVICES:
        raise SettingsError(f"device must be one of {', '.join(DEVICES)}, not {value!r}")
    if key == "theme" and value not in THEMES:
        raise SettingsError(f"theme must be one of {', '.join(THEMES)}, not {value!r}")
    if key == "language" and value not in LANGUAGES:
        raise SettingsError(f"language must be one of {', '.join(LANGUAGES)}, not {value!r}")
    if key == "template":
        try:
            check_template(value)
        except ValueError as exc:
            raise SettingsError(str(exc)[0].upper() + str(exc)[1:]) from None
    if key == "output_dir":
        value = str(Path(value).expanduser())
    return value


def validate(changes: Any) -> dict[str, Any]:
    """Checked copies of ``changes``; SettingsError for an unknown key or a bad value."""
    if not isinstance(changes, dict):
        raise SettingsError("settings must be an object of key: value")
    unknown = sorted(set(changes) - set(KEYS))
    if unknown:
        raise SettingsError(f"unknown setting(s) {', '.join(unknown)} (known: {', '.join(KEYS)})", "unknown")
    return {key: _check(key, value) for key, value in changes.items()}
