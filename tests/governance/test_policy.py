"""Machine policy: the JSON file, the Windows registry mapping, and failing closed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app import paths
from app.governance.policy import NO_POLICY, Policy, PolicyError, load_policy
from app.governance.policy_sources import registry_to_dict


@pytest.fixture
def machine_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The machine config folder under tmp (empty: no machine policy until a test writes one)."""
    folder = tmp_path / "machine"
    folder.mkdir()
    monkeypatch.setattr(paths, "machine_config_dir", lambda: folder)
    return folder


@pytest.fixture
def policy_file(machine_dir: Path) -> Path:
    return machine_dir / "knockout-policy.json"


def write(path: Path, data) -> Path:
    path.write_text(json.dumps(data) if not isinstance(data, str) else data, encoding="utf-8")
    return path


def test_no_file_and_no_registry_means_no_policy(policy_file):
    assert load_policy(registry_reader=lambda: None) == NO_POLICY
    assert not NO_POLICY.active and NO_POLICY.locked_settings() == set()


def test_machine_config_dir_is_the_fixed_it_location_on_linux():
    assert paths.machine_config_dir() == Path("/etc/knockout")


def test_every_file_key_is_read_and_pins_the_documented_settings(policy_file):
    write(policy_file, {
        "knockout_policy": 1, "lock_presets": ["marketplace"], "force_cpu": True,
        "default_output_dir": "/srv/cutouts", "max_megapixels": 40, "keep_exif_fields": ["Copyright"],
        "audit": True, "allowed_models": ["isnet-medium"], "lock": ["output_dir", "theme"],
        "settings": {"theme": "dark"},
    })
    policy = load_policy(registry_reader=lambda: None)
    assert policy.source == str(policy_file)
    assert policy.lock_presets == ("marketplace",) and policy.force_cpu and policy.max_megapixels == 40.0
    assert policy.keep_exif_fields == ("Copyright",) and policy.audit is True
    assert policy.allowed_models == ("isnet-medium",) and policy.default_output_dir == "/srv/cutouts"
    assert policy.locked_settings() == {"device", "audit", "model", "preset", "output_dir", "theme"}
    assert policy.pinned_values() == {"theme": "dark", "output_dir": "/srv/cutouts", "device": "cpu",
                                      "audit": True, "model": "isnet-medium", "preset": "marketplace"}


def test_empty_keep_exif_fields_means_strip_everything(policy_file):
    write(policy_file, {"keep_exif_fields": []})
    assert load_policy(registry_reader=lambda: None).keep_exif_fields == ()


def test_output_dir_from_policy_is_only_a_default_unless_locked():
    assert "output_dir" not in Policy(default_output_dir="/srv").locked_settings()
    assert "output_dir" in Policy(default_output_dir="/srv", lock=("output_dir",)).locked_settings()


@pytest.mark.parametrize(("content", "expected"), [
    ("{\"force_cpu\": true,", "not valid JSON (line 1"),
    ("[]", "must be one JSON object"),
    ({"force_cpu": "yes"}, "force_cpu must be true or false"),
    ({"lock_presets": "all"}, "lock_presets must be a list"),
    ({"forse_cpu": True}, "unknown key(s) 'forse_cpu'"),
    ({"max_megapixels": -1}, "max_megapixels must be a number"),
    ({"keep_exif_fields": ["GPSLatitudeX"]}, "unknown EXIF tag name(s) GPSLatitudeX"),
    ({"lock": ["colour"]}, "lock names unknown setting(s) colour"),
    ({"settings": {"theme": "neon"}}, "theme must be one of"),
    ({"allowed_models": []}, "allowed_models must name at least one"),
    ({"knockout_policy": 9}, "version 9 is not supported"),
])
def test_a_broken_policy_fails_closed_naming_the_file_and_the_problem(policy_file, content, expected):
    write(policy_file, content)
    with pytest.raises(PolicyError) as caught:
        load_policy(registry_reader=lambda: None)
    assert str(policy_file) in str(caught.value) and expected in str(caught.value)


def test_registry_values_map_onto_policy_keys():
    mapped = registry_to_dict({
        "LockPresets": 1, "ForceCPU": 1, "DefaultOutputDir": r"D:\Cutouts", "MaxMegapixels": 50,
        "KeepExifFields": "Copyright; Artist", "Audit": 0, "AllowedModels": ["isnet-medium", "isnet-small"],
        "Lock": "theme;output_dir",
    })
    assert mapped == {"lock_presets": True, "force_cpu": True, "default_output_dir": r"D:\Cutouts",
                      "max_megapixels": 50.0, "keep_exif_fields": ["Copyright", "Artist"], "audit": False,
                      "allowed_models": ["isnet-medium", "isnet-small"], "lock": ["theme", "output_dir"]}


def test_registry_allowed_presets_beat_lock_presets_and_empty_exif_means_strip_all():
    mapped = registry_to_dict({"LockPresets": 1, "AllowedPresets": "marketplace;mask", "KeepExifFields": ""})
    assert mapped == {"lock_presets": ["marketplace", "mask"], "keep_exif_fields": []}


def test_registry_overrides_the_file_key_by_key(policy_file):
    write(policy_file, {"force_cpu": False, "audit": True, "max_megapixels": 20})
    policy = load_policy(registry_reader=lambda: {"ForceCPU": 1, "MaxMegapixels": "64"})
    assert policy.force_cpu and policy.audit is True and policy.max_megapixels == 64.0
    assert str(policy_file) in policy.source and "HKLM" in policy.source


@pytest.mark.parametrize(("values", "expected"), [
    ({"ForceCpu2": 1}, "unknown value(s) ForceCpu2"),
    ({"ForceCPU": 2}, "ForceCPU: must be a DWORD 0 or 1"),
    ({"MaxMegapixels": "lots"}, "MaxMegapixels: must be a number"),
])
def test_a_bad_registry_value_fails_closed_naming_it(policy_file, values, expected):
    with pytest.raises(PolicyError, match="HKLM") as caught:
        load_policy(registry_reader=lambda: values)
    assert expected in str(caught.value)


def test_the_admx_template_writes_exactly_the_registry_values_we_read():
    import re

    from app.governance.policy_sources import REGISTRY_VALUES

    admx = (Path(__file__).resolve().parents[2] / "packaging" / "policy" / "knockout.admx").read_text()
    assert set(re.findall(r'valueName="(\w+)"', admx)) == set(REGISTRY_VALUES)


def test_metadata_policy_overrides_what_a_preset_keeps():
    from app.core.export import ExportSettings

    keeps_all = ExportSettings(keep_exif=True, keep_exif_fields=("GPSInfo",))
    assert Policy().apply_metadata(keeps_all) is keeps_all
    applied = Policy(keep_exif_fields=("Copyright",)).apply_metadata(keeps_all)
    assert (applied.keep_exif, applied.keep_exif_fields) == (False, ("Copyright",))


def test_macos_managed_preferences_use_the_file_keys_and_override_the_file(policy_file, tmp_path):
    import plistlib

    from app.governance.policy_sources import read_managed_prefs

    write(policy_file, {"force_cpu": False, "max_megapixels": 20})
    plist = tmp_path / "app.knockout.desktop.plist"
    plist.write_bytes(plistlib.dumps({"force_cpu": True, "allowed_models": ["isnet-medium"]}))
    policy = load_policy(registry_reader=lambda: None, managed_reader=lambda: read_managed_prefs(plist))
    assert policy.force_cpu and policy.max_megapixels == 20.0 and policy.allowed_models == ("isnet-medium",)
    plist.write_bytes(b"not a plist")
    with pytest.raises(PolicyError, match="managed preferences cannot be read"):
        read_managed_prefs(plist)
    assert read_managed_prefs(tmp_path / "absent.plist") is None


def test_registry_names_are_case_insensitive_and_string_flags_work():
    assert registry_to_dict({"forcecpu": "1", "AUDIT": 0}) == {"force_cpu": True, "audit": False}


# ---------------------------------------------------------------- KNOCKOUT_POLICY_FILE


@pytest.fixture
def override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A policy file named by KNOCKOUT_POLICY_FILE (absent until written)."""
    path = tmp_path / "staging-policy.json"
    monkeypatch.setenv("KNOCKOUT_POLICY_FILE", str(path))
    return path


def test_the_environment_cannot_replace_the_machine_policy_with_none(policy_file, monkeypatch):
    write(policy_file, {"audit": True, "force_cpu": True, "lock": ["decontaminate"]})
    monkeypatch.setenv("KNOCKOUT_POLICY_FILE", "/nonexistent/knockout-policy.json")
    policy = load_policy(registry_reader=lambda: None)
    assert policy.audit is True and policy.force_cpu and "decontaminate" in policy.locked_settings()
    assert policy.source == str(policy_file)
    assert policy.override_ignored == "/nonexistent/knockout-policy.json"


def test_the_environment_cannot_loosen_the_machine_policy(policy_file, override):
    write(policy_file, {"audit": True, "lock": ["output_dir"]})
    write(override, {"audit": False})
    policy = load_policy(registry_reader=lambda: None)
    assert policy.audit is True and policy.lock == ("output_dir",) and policy.override_ignored == str(override)


def test_a_registry_policy_alone_also_keeps_the_environment_file_out(machine_dir, override):
    write(override, {"audit": False})
    policy = load_policy(registry_reader=lambda: {"ForceCPU": 1})
    assert policy.force_cpu and policy.audit is None and "HKLM" in policy.source
    assert str(override) not in policy.source


def test_without_a_machine_policy_the_environment_file_is_the_policy(machine_dir, override):
    write(override, {"force_cpu": True})
    policy = load_policy(registry_reader=lambda: None)
    assert policy.force_cpu and policy.source == str(override) and policy.override_ignored is None


def test_a_machine_policy_that_allows_an_override_is_replaced_by_the_environment_file(policy_file, override):
    write(policy_file, {"allow_policy_override": True, "audit": True})
    write(override, {"force_cpu": True})
    policy = load_policy(registry_reader=lambda: None)
    assert policy.force_cpu and policy.audit is None and policy.source == str(override)
    assert policy.as_dict()["allow_policy_override"] is False  # the staging file did not allow one itself


def test_allow_policy_override_must_be_true_or_false(policy_file):
    write(policy_file, {"allow_policy_override": "yes"})
    with pytest.raises(PolicyError, match="allow_policy_override must be true or false"):
        load_policy(registry_reader=lambda: None)


def test_a_broken_environment_file_that_is_honoured_fails_closed(machine_dir, override):
    write(override, "{")
    with pytest.raises(PolicyError, match="not valid JSON") as caught:
        load_policy(registry_reader=lambda: None)
    assert str(override) in str(caught.value)


def test_diagnose_says_when_the_environment_file_was_ignored(policy_file, override):
    from app.support import diagnose

    write(policy_file, {"force_cpu": True})
    line = diagnose._policy_line(diagnose._policy([]))
    assert f"KNOCKOUT_POLICY_FILE={override} ignored" in line


# ---------------------------------------------------------------- the last word on export settings


def test_apply_pins_locked_cutout_switches_over_a_presets_and_a_persons_choice():
    from app.core.export import ExportSettings

    policy = Policy(lock=("decontaminate", "remove_specks"), settings={"decontaminate": True}, source="test")
    team = ExportSettings(decontaminate=False, remove_specks=False, refine_edges=False)
    applied = policy.apply(team, {"decontaminate": False, "refine_edges": True})
    assert (applied.decontaminate, applied.remove_specks, applied.refine_edges) == (True, True, True)
    assert Policy().apply(team) is team


def test_locked_by_names_the_policy_key_that_pins_a_setting():
    policy = Policy(force_cpu=True, audit=True, allowed_models=("isnet-medium",), lock_presets=("mask",),
                    lock=("device", "template"), source="test")
    assert [policy.locked_by(k) for k in ("device", "audit", "model", "preset", "template", "theme")] == [
        "force_cpu", "audit", "allowed_models", "lock_presets", "lock", None]
