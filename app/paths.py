"""The one module that knows where things live.

Bundled resources (models, UI, sample photo) sit beside the source tree in a checkout
and under ``sys._MEIPASS`` in a PyInstaller bundle; user data goes where platformdirs
says. Nothing is ever written beside the executable.
"""

from __future__ import annotations

import sys
from pathlib import Path

import platformdirs

APP_NAME = "Knockout"
APP_AUTHOR = "Knockout"


def resource_root() -> Path:
    """Folder holding ``models/`` and ``ui/``: the bundle in a frozen app, the checkout otherwise."""
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        return Path(frozen)
    return Path(__file__).resolve().parent.parent


def bundled_models_dir() -> Path:
    return resource_root() / "models"


def ui_dir() -> Path:
    """The editor's static files (HTML/CSS/JS), served by the app's loopback server."""
    return resource_root() / "ui"


def assets_dir() -> Path:
    return Path(__file__).resolve().parent / "assets"


def sample_photo() -> Path:
    return assets_dir() / "sample-coffee.jpg"


def default_output_dir() -> Path:
    """The user's Pictures/Knockout folder: where exports go unless the user or IT chose another."""
    return Path(platformdirs.user_pictures_dir()) / APP_NAME


def user_data_dir() -> Path:
    """Per-user data (models IT or the user added); reported by ``knockout diagnose``."""
    return Path(platformdirs.user_data_dir(APP_NAME, APP_AUTHOR))


def variant_picks_file() -> Path:
    """Which variant of the default model was fastest on each CPU this user ran (app.inference.variants)."""
    return user_data_dir() / "fastest-variants.json"


def user_models_dir() -> Path:
    """Where a user (or IT, per user) can drop extra models with a manifest."""
    return user_data_dir() / "models"


def machine_models_dir() -> Path:
    """Machine-wide model folder (ProgramData, /Library/Application Support, /usr/share...)."""
    return Path(platformdirs.site_data_dir(APP_NAME, APP_AUTHOR)) / "models"


def user_cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir(APP_NAME, APP_AUTHOR))


def user_log_dir() -> Path:
    """Where logs go (never beside the executable); IT collects them from here."""
    return Path(platformdirs.user_log_dir(APP_NAME, APP_AUTHOR))


def user_config_dir() -> Path:
    """Per-user settings and imported team presets (roaming on Windows)."""
    return Path(platformdirs.user_config_dir(APP_NAME, APP_AUTHOR, roaming=True))


def user_presets_dir() -> Path:
    """Team presets the user imported (``knockout presets import``)."""
    return user_config_dir() / "presets"


def machine_config_dir() -> Path:
    """Machine-wide config IT manages: the policy file and IT-deployed presets.

    /etc/knockout on Linux, %ProgramData%\\Knockout on Windows,
    /Library/Application Support/Knockout on macOS. Fixed, not XDG-relative: IT
    must know the one place to put a policy file.
    """
    if sys.platform.startswith("win"):
        import os

        return Path(os.environ.get("PROGRAMDATA", r"C:\ProgramData")) / APP_NAME
    if sys.platform == "darwin":
        return Path("/Library/Application Support") / APP_NAME
    return Path("/etc/knockout")


def machine_presets_dir() -> Path:
    """Presets IT deploys for everyone on the machine (read-only for users, shown locked)."""
    return machine_config_dir() / "presets"
