"""User settings: one JSON file in the user config dir, merged with defaults and policy.

Precedence: machine policy > user settings > defaults. Keys the policy locks
(``Policy.locked_settings``) always take the policy's value, and saving a different
value for one is refused with code "locked" (re-sending the locked value unchanged is
fine, so the UI can send the whole settings object back). Settings live here, in
Python, never in the browser's storage. A damaged user file does not stop the app: its
bad keys fall back to defaults and are listed in ``Effective.problems``.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from app import paths
from app.core.atomic import write_atomic
from app.governance.policy import Policy, load_policy
from app.governance.presets import PresetError, get_preset
from app.governance.settings_schema import SettingsError, defaults, validate

SETTINGS_FILE = "settings.json"
SCHEMA = 1
_save_lock = threading.Lock()  # bridge calls run on their own threads: no lost updates


@dataclass(frozen=True)
class Effective:
    """The settings in force and which keys IT locked."""

    values: dict[str, Any]
    locked: set[str]
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The bridge's ``{settings, locked}``."""
        return {"settings": dict(self.values), "locked": sorted(self.locked)}


def settings_file() -> Path:
    return paths.user_config_dir() / SETTINGS_FILE


def _stored(problems: list[str]) -> dict[str, Any]:
    path = settings_file()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        problems.append(f"{path}: ignored, cannot be read ({exc})")
        return {}
    if not isinstance(data, dict):
        problems.append(f"{path}: ignored, not a JSON object")
        return {}
    data.pop("knockout_settings", None)
    good = {}
    for key, value in data.items():
        try:
            good.update(validate({key: value}))
        except SettingsError as exc:
            problems.append(f"{path}: {exc}; using the default")
    return good


def _policy(policy: Policy | None) -> Policy:
    return load_policy() if policy is None else policy


def load_settings(policy: Policy | None = None) -> Effective:
    """Defaults, then IT's default values, then the user's file, then the policy's locked values.

    ``policy`` None reads the machine policy (so forgetting to pass it cannot drop IT's locks).
    """
    policy = _policy(policy)
    problems: list[str] = []
    base = defaults()
    pinned = policy.pinned_values()
    values = {**base, **pinned, **_stored(problems)}
    locked = policy.locked_settings()
    values.update(policy.locked_values())
    if policy.allowed_models is not None and values["model"] not in policy.allowed_models:
        values["model"] = policy.allowed_models[0]
    if isinstance(policy.lock_presets, tuple) and policy.lock_presets and values["preset"] not in policy.lock_presets:
        values["preset"] = policy.lock_presets[0]
    return Effective(values, locked, problems)


def save_settings(changes: dict[str, Any], policy: Policy | None = None) -> Effective:
    """Validate and store ``changes`` (merged into the user's file, atomically); the new Effective."""
    policy = _policy(policy)
    with _save_lock:
        return _save(changes, policy)


def _save(changes: dict[str, Any], policy: Policy) -> Effective:
    checked = validate(changes)
    current = load_settings(policy)
    for key, value in checked.items():
        if key in current.locked and value != current.values[key]:
            raise SettingsError(f"{key} is set by your organisation's policy and cannot be changed", "locked")
    if "model" in checked and policy.allowed_models is not None and checked["model"] not in policy.allowed_models:
        raise SettingsError(f"model {checked['model']!r} is not allowed by your organisation's policy "
                            f"(allowed: {', '.join(policy.allowed_models)})", "locked")
    if "preset" in checked:
        try:
            get_preset(checked["preset"], policy)
        except PresetError as exc:
            raise SettingsError(str(exc)[0].upper() + str(exc)[1:]) from None
    stored = _stored([])
    stored.update({k: v for k, v in checked.items() if k not in current.locked})
    payload = (json.dumps({"knockout_settings": SCHEMA, **stored}, indent=2) + "\n").encode("utf-8")

    def write(fh: BinaryIO) -> None:
        fh.write(payload)

    try:
        write_atomic(settings_file(), write)
    except OSError as exc:
        raise SettingsError(f"cannot save settings to {settings_file()} ({exc.strerror or exc})") from None
    return load_settings(policy)
