"""Machine policy: what IT pins for everyone on a machine (see packaging/policy/README.md).

Read from ``knockout-policy.json`` in ``paths.machine_config_dir()``; on Windows also from
``HKLM\\SOFTWARE\\Policies\\Knockout`` and on macOS from the managed preferences
``app.knockout.desktop`` (an MDM profile). Those win over the file key by key (they are the
stronger, centrally managed channel). No file and no key means no policy.

``KNOCKOUT_POLICY_FILE`` (tests, staging) names a file to use *instead of the machine
policy file*, and only where that cannot weaken IT: when the machine has no policy at all,
or when its policy says ``"allow_policy_override": true``. Otherwise the variable is
ignored (``Policy.override_ignored`` says so, and ``knockout diagnose`` shows it): any
user can set an environment variable, so it must never drop a lock or the audit log.

Fail closed: a policy that exists but cannot be read or has a bad key raises
PolicyError naming the file (or registry value) and the problem. The app and the CLI
refuse to start on it (``knockout diagnose`` still runs and reports it), because
silently ignoring a broken policy would drop IT's locks without anybody noticing.

Locked settings (``Policy.locked_settings``), one rule per key:
- ``device``  when ``force_cpu`` is true (pinned to "cpu");
- ``audit``   when ``audit`` is set (true or false);
- ``model``   when ``allowed_models`` lists exactly one id;
- ``preset``  when ``lock_presets`` lists exactly one id;
- any key named in ``lock``, pinned to IT's value in ``settings`` (or
  ``default_output_dir`` for ``output_dir``), else to the built-in default.

Policy is the last word on export settings: ``Policy.apply`` runs after the preset and
after the person's choices (command-line flags, the app's settings), in the command
line, the window's export and the hot folder alike.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app import paths
from app.governance import settings_schema
from app.governance.policy_sources import (
    MANAGED_PREFS,
    REGISTRY_KEY,
    PolicyError,
    read_managed_prefs,
    read_policy_file,
    read_registry,
    registry_to_dict,
)
from app.governance.settings_schema import SettingsError, validate

if TYPE_CHECKING:
    from app.core.export import ExportSettings

POLICY_FILE = "knockout-policy.json"
ENV_FILE = "KNOCKOUT_POLICY_FILE"
SCHEMA = 1
FILE_KEYS = {"knockout_policy", "lock_presets", "force_cpu", "default_output_dir", "max_megapixels",
             "keep_exif_fields", "audit", "allowed_models", "lock", "settings", "allow_policy_override"}
# settings that are ExportSettings fields
EXPORT_SWITCHES = ("refine_edges", "decontaminate", "remove_specks", "auto_recover_parts", "views")


@dataclass(frozen=True)
class Policy:
    lock_presets: bool | tuple[str, ...] = False  # True: no import, all locked; ids: only these presets
    force_cpu: bool = False
    default_output_dir: str | None = None
    max_megapixels: float | None = None
    keep_exif_fields: tuple[str, ...] | None = None  # None: user decides; (): strip all
    audit: bool | None = None  # None: user decides
    allowed_models: tuple[str, ...] | None = None
    lock: tuple[str, ...] = ()  # settings keys pinned to IT's value
    settings: Mapping[str, Any] = field(default_factory=dict)  # IT's values for user settings
    allow_policy_override: bool = False  # KNOCKOUT_POLICY_FILE may replace the machine file
    source: str = "none"  # where it came from, for diagnose and error messages
    override_ignored: str | None = None  # a KNOCKOUT_POLICY_FILE this machine's policy did not allow

    @property
    def active(self) -> bool:
        return self.source != "none"

    def locked_settings(self) -> set[str]:
        """Which user settings keys the user cannot change (see the module docstring)."""
        return set(self._locks())

    def locked_by(self, key: str) -> str | None:
        """The policy key that locks setting ``key`` (for messages), None if it is not locked."""
        return self._locks().get(key)

    def _locks(self) -> dict[str, str]:
        """Locked setting -> the policy key locking it (a dedicated key rather than ``lock``)."""
        locks = {key: "lock" for key in self.lock}
        if self.force_cpu:
            locks["device"] = "force_cpu"
        if self.audit is not None:
            locks["audit"] = "audit"
        if self.allowed_models is not None and len(self.allowed_models) == 1:
            locks["model"] = "allowed_models"
        if isinstance(self.lock_presets, tuple) and len(self.lock_presets) == 1:
            locks["preset"] = "lock_presets"
        return locks

    def locked_values(self) -> dict[str, Any]:
        """Each locked setting with the value it is pinned to: IT's, else the built-in default."""
        locked = self.locked_settings()
        if not locked:
            return {}
        base, pinned = settings_schema.defaults(), self.pinned_values()
        return {key: pinned.get(key, base[key]) for key in locked}

    def pinned_values(self) -> dict[str, Any]:
        """Values the policy itself supplies (locked or as IT defaults)."""
        values = dict(self.settings)
        if self.default_output_dir is not None:
            values["output_dir"] = self.default_output_dir
        if self.force_cpu:
            values["device"] = "cpu"
        if self.audit is not None:
            values["audit"] = self.audit
        if self.allowed_models is not None and len(self.allowed_models) == 1:
            values["model"] = self.allowed_models[0]
        if isinstance(self.lock_presets, tuple) and len(self.lock_presets) == 1:
            values["preset"] = self.lock_presets[0]
        return values

    def apply(self, settings: ExportSettings, choices: Mapping[str, Any] | None = None) -> ExportSettings:
        """The export settings in force: ``settings`` (a preset's, or the command line's), then
        ``choices`` (what the person asked for: flags, the app's settings), then, last, what IT
        pins: the locked cutout switches and the metadata policy. The one merge every exporter
        uses, so a preset or a flag can never undo a lock."""
        merged = dataclasses.replace(settings, **choices) if choices else settings
        pins = {k: v for k, v in self.locked_values().items()
                if k in EXPORT_SWITCHES and getattr(merged, k) != v}
        if pins:
            merged = dataclasses.replace(merged, **pins)
        return self.apply_metadata(merged)

    def apply_metadata(self, settings: Any) -> Any:
        """ExportSettings with the metadata policy applied (unchanged when the user decides)."""
        if self.keep_exif_fields is None:
            return settings
        return dataclasses.replace(settings, keep_exif=False, keep_exif_fields=self.keep_exif_fields)

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe, for ``knockout diagnose`` and the desktop app."""
        return {"source": self.source,
                "lock_presets": list(self.lock_presets) if isinstance(self.lock_presets, tuple) else self.lock_presets,
                "force_cpu": self.force_cpu, "default_output_dir": self.default_output_dir,
                "max_megapixels": self.max_megapixels,
                "keep_exif_fields": None if self.keep_exif_fields is None else list(self.keep_exif_fields),
                "audit": self.audit,
                "allowed_models": None if self.allowed_models is None else list(self.allowed_models),
                "lock": list(self.lock), "settings": dict(self.settings),
                "allow_policy_override": self.allow_policy_override, "override_ignored": self.override_ignored,
                "locked_settings": sorted(self.locked_settings())}


NO_POLICY = Policy()


# ---------------------------------------------------------------- validation


def _strings(value: Any, key: str, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise PolicyError(f"{where}: {key} must be a list of names, not {value!r}")
    return tuple(v.strip() for v in value)


def policy_from_dict(data: Any, where: str) -> Policy:
    """Validate a parsed policy; PolicyError names ``where`` and the bad key."""
    if not isinstance(data, dict):
        raise PolicyError(f"{where}: the policy must be one JSON object")
    extra = sorted(set(data) - FILE_KEYS)
    if extra:
        raise PolicyError(f"{where}: unknown key(s) {', '.join(map(repr, extra))} "
                          f"(allowed: {', '.join(sorted(FILE_KEYS))})")
    schema = data.get("knockout_policy", SCHEMA)
    if schema != SCHEMA:
        raise PolicyError(f"{where}: policy format version {schema!r} is not supported (expected {SCHEMA})")
    values: dict[str, Any] = {}
    for key in ("force_cpu", "allow_policy_override"):
        if key in data:
            if not isinstance(data[key], bool):
                raise PolicyError(f"{where}: {key} must be true or false, not {data[key]!r}")
            values[key] = data[key]
    if data.get("audit") is not None:
        if not isinstance(data["audit"], bool):
            raise PolicyError(f"{where}: audit must be true, false or null, not {data['audit']!r}")
        values["audit"] = data["audit"]
    if "lock_presets" in data:
        lock = data["lock_presets"]
        values["lock_presets"] = lock if isinstance(lock, bool) else _strings(lock, "lock_presets", where)
    if data.get("default_output_dir") is not None:
        folder = data["default_output_dir"]
        if not isinstance(folder, str) or not folder.strip():
            raise PolicyError(f"{where}: default_output_dir must be a folder path, not {folder!r}")
        values["default_output_dir"] = os.path.expandvars(os.path.expanduser(folder.strip()))
    if data.get("max_megapixels") is not None:
        mp = data["max_megapixels"]
        if not isinstance(mp, (int, float)) or isinstance(mp, bool) or not 0 < mp <= 1000:
            raise PolicyError(f"{where}: max_megapixels must be a number between 0 and 1000, not {mp!r}")
        values["max_megapixels"] = float(mp)
    if data.get("keep_exif_fields") is not None:
        values["keep_exif_fields"] = _keep_fields(data["keep_exif_fields"], where)
    if data.get("allowed_models") is not None:
        models = _strings(data["allowed_models"], "allowed_models", where)
        if not models:
            raise PolicyError(f"{where}: allowed_models must name at least one model id (or be left out)")
        values["allowed_models"] = models
    if "lock" in data:
        lock_keys = _strings(data["lock"], "lock", where)
        bad = [k for k in lock_keys if k not in settings_schema.KEYS]
        if bad:
            raise PolicyError(f"{where}: lock names unknown setting(s) {', '.join(bad)} "
                              f"(settings: {', '.join(settings_schema.KEYS)})")
        values["lock"] = lock_keys
    if "settings" in data:
        values["settings"] = _settings(data["settings"], where)
    return Policy(**values, source=where)


def _keep_fields(value: Any, where: str) -> tuple[str, ...]:
    from PIL import ExifTags

    if value == []:
        return ()
    names = _strings(value, "keep_exif_fields", where)
    unknown = [n for n in names if not hasattr(ExifTags.Base, n)]
    if unknown:
        raise PolicyError(f"{where}: keep_exif_fields has unknown EXIF tag name(s) {', '.join(unknown)} "
                          "(use names like Copyright, Artist, DateTimeOriginal)")
    return names


def _settings(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PolicyError(f"{where}: settings must be an object of user settings")
    try:
        return validate(value)
    except SettingsError as exc:
        raise PolicyError(f"{where}: settings: {exc}") from None


# ---------------------------------------------------------------- sources


def policy_file() -> Path:
    """The machine policy file (always read; see the module docstring for KNOCKOUT_POLICY_FILE)."""
    return paths.machine_config_dir() / POLICY_FILE


def load_policy(registry_reader: Callable[[], dict[str, Any] | None] | None = None,
                managed_reader: Callable[[], dict[str, Any] | None] | None = None) -> Policy:
    """The policy in force: the machine file (or the KNOCKOUT_POLICY_FILE one, where the machine
    allows it), overridden key by key by the Windows registry or macOS managed preferences.
    PolicyError if any of them is broken."""
    layers: list[tuple[str, dict[str, Any]]] = []  # (where, file keys), weakest first
    path = policy_file()
    data = read_policy_file(path)
    if data is not None:
        policy_from_dict(data, str(path))  # validate on its own so errors name the file
        layers.append((str(path), data))
    if registry_reader is None and sys.platform.startswith("win"):
        registry_reader = read_registry
    registry = registry_reader() if registry_reader is not None else None
    if registry:
        where = "HKLM\\" + REGISTRY_KEY
        mapped = registry_to_dict(registry, where)
        policy_from_dict(mapped, where)
        layers.append((where, mapped))
    if managed_reader is None and sys.platform == "darwin":
        managed_reader = read_managed_prefs
    managed = managed_reader() if managed_reader is not None else None
    if managed:
        policy_from_dict(managed, str(MANAGED_PREFS))
        layers.append((str(MANAGED_PREFS), managed))
    ignored = None
    override = os.environ.get(ENV_FILE)
    if override and Path(override) != path:
        if not layers or _merged(layers).get("allow_policy_override") is True:
            layers = [(w, d) for w, d in layers if w != str(path)]  # the override takes the file's place
            staged = read_policy_file(Path(override))
            if staged is not None:
                policy_from_dict(staged, override)
                layers.insert(0, (override, staged))
        else:
            ignored = override
    if not layers:
        return Policy(override_ignored=ignored)
    return dataclasses.replace(policy_from_dict(_merged(layers), " + ".join(w for w, _ in layers)),
                               override_ignored=ignored)


def _merged(layers: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for _where, data in layers:
        merged.update(data)
    return merged
