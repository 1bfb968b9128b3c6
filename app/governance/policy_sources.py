"""Where a machine policy is read from, as raw keys: the policy file, the Windows registry
(``HKLM\\SOFTWARE\\Policies\\Knockout``) and macOS managed preferences (an MDM profile).
``app.governance.policy`` checks and merges what these return; a source that exists but cannot be
read raises :class:`PolicyError` naming it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from app.core.errors import KnockoutError

REGISTRY_KEY = r"SOFTWARE\Policies\Knockout"


class PolicyError(KnockoutError):
    """A machine policy exists but is broken: Knockout refuses to run without it."""

    code = "policy_error"


def read_policy_file(path: Path) -> dict[str, Any] | None:
    """The file's object, None if there is no file; PolicyError if it exists but is unreadable."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise PolicyError(f"{path}: the policy file cannot be read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise PolicyError(f"{path}: the policy file is not UTF-8 text") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PolicyError(f"{path}: the policy file is not valid JSON (line {exc.lineno}, "
                          f"column {exc.colno}: {exc.msg})") from None
    if not isinstance(data, dict):
        raise PolicyError(f"{path}: the policy must be one JSON object")
    return data


# Registry value name -> (file key, kind). Lists are REG_MULTI_SZ or ';'-separated REG_SZ.
REGISTRY_VALUES: dict[str, tuple[str, str]] = {
    "LockPresets": ("lock_presets", "bool"),
    "AllowedPresets": ("lock_presets", "list"),
    "ForceCPU": ("force_cpu", "bool"),
    "DefaultOutputDir": ("default_output_dir", "text"),
    "MaxMegapixels": ("max_megapixels", "number"),
    "KeepExifFields": ("keep_exif_fields", "list"),
    "Audit": ("audit", "bool"),
    "AllowedModels": ("allowed_models", "list"),
    "Lock": ("lock", "list"),
}


def registry_to_dict(values: Mapping[str, Any], where: str = "HKLM\\" + REGISTRY_KEY) -> dict[str, Any]:
    """Map registry values (name -> DWORD / string / list of strings) onto policy file keys.

    Unknown value names are refused like unknown file keys. ``AllowedPresets`` beats
    ``LockPresets``. An empty ``KeepExifFields`` string means "strip all".
    """
    canonical = {name.lower(): name for name in REGISTRY_VALUES}  # registry names are case-insensitive
    unknown = sorted(name for name in values if name.lower() not in canonical)
    if unknown:
        raise PolicyError(f"{where}: unknown value(s) {', '.join(unknown)} "
                          f"(known: {', '.join(REGISTRY_VALUES)})")
    named = {canonical[name.lower()]: raw for name, raw in values.items()}
    out: dict[str, Any] = {}
    for name, raw in named.items():
        key, kind = REGISTRY_VALUES[name]
        if kind == "bool":
            if raw not in (0, 1, "0", "1"):
                raise PolicyError(f"{where}\\{name}: must be a DWORD 0 or 1, not {raw!r}")
            value: Any = raw in (1, "1")
        elif kind == "list":
            items = raw if isinstance(raw, list) else str(raw).split(";")
            value = [str(i).strip() for i in items if str(i).strip()]
        elif kind == "number":
            try:
                value = float(raw)
            except (TypeError, ValueError):
                raise PolicyError(f"{where}\\{name}: must be a number, not {raw!r}") from None
        else:
            value = str(raw)
        if name == "LockPresets" and "AllowedPresets" in named:
            continue
        out[key] = value
    return out


def read_registry() -> dict[str, Any] | None:  # pragma: no cover - Windows only
    """HKLM\\SOFTWARE\\Policies\\Knockout as {value name: data}, None when the key is absent."""
    if sys.platform != "win32":  # also tells mypy on other systems to skip winreg
        return None
    import winreg

    try:
        key = winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, REGISTRY_KEY)
    except FileNotFoundError:
        return None
    values: dict[str, Any] = {}
    with key:
        index = 0
        while True:
            try:
                name, data, kind = winreg.EnumValue(key, index)
            except OSError:
                break
            if kind == winreg.REG_EXPAND_SZ:
                data = winreg.ExpandEnvironmentStrings(data)
            values[name] = data
            index += 1
    return values


MANAGED_PREFS = Path("/Library/Managed Preferences/app.knockout.desktop.plist")


def read_managed_prefs(path: Path = MANAGED_PREFS) -> dict[str, Any] | None:
    """macOS managed preferences (an MDM configuration profile for ``app.knockout.desktop``) with
    the policy file's keys; None when absent, PolicyError when unreadable."""
    import plistlib

    try:
        with open(path, "rb") as fh:
            data = plistlib.load(fh)
    except FileNotFoundError:
        return None
    except (OSError, plistlib.InvalidFileException, ValueError) as exc:
        raise PolicyError(f"{path}: the managed preferences cannot be read ({exc})") from None
    if not isinstance(data, dict):
        raise PolicyError(f"{path}: the managed preferences must be a dictionary")
    return {k: v for k, v in data.items() if not k.startswith("Payload")}  # profile bookkeeping keys
