"""User settings: defaults, the user's file, and policy precedence and locks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.governance.policy import Policy, PolicyError, load_policy, policy_from_dict
from app.governance.policy_sources import registry_to_dict
from app.governance.settings import load_settings, save_settings, settings_file
from app.governance.settings_schema import DEFAULTS, KEYS, SettingsError

NONE = Policy()


@pytest.fixture(autouse=True)
def dirs(config_dirs: Path) -> Path:
    return config_dirs


def test_defaults_cover_the_desktop_contract_and_the_bundled_default_model():
    effective = load_settings(NONE)
    assert effective.values == DEFAULTS and effective.locked == set()
    assert DEFAULTS["model"] == "isnet-medium-int8" and DEFAULTS["preset"] == "png-master"
    assert DEFAULTS["template"] == "{stem}-{preset}" and DEFAULTS["output_dir"].endswith("Knockout")
    assert {"model", "device", "output_dir", "theme", "preset", "template"} <= set(DEFAULTS)


def test_saved_settings_survive_a_reload_and_are_written_atomically_as_json(dirs):
    saved = save_settings({"theme": "dark", "output_dir": str(dirs / "out"), "preset": "marketplace"}, NONE)
    assert saved.values["theme"] == "dark" and saved.values["preset"] == "marketplace"
    assert load_settings(NONE).values == saved.values
    stored = json.loads(settings_file().read_text(encoding="utf-8"))
    assert stored["theme"] == "dark" and "model" not in stored  # only what the user changed
    assert [p.name for p in settings_file().parent.iterdir()] == ["settings.json"]  # no temp file left


@pytest.mark.parametrize(("changes", "code", "expected"), [
    ({"colour": "red"}, "unknown", "unknown setting(s) colour"),
    ({"theme": "neon"}, "invalid", "theme must be one of system, light, dark"),
    ({"device": "gpu"}, "invalid", "device must be one of auto, cpu"),
    ({"audit": "yes"}, "invalid", "audit must be true or false"),
    ({"refine_edges": "off"}, "invalid", "refine_edges must be true or false"),
    ({"decontaminate": 0}, "invalid", "decontaminate must be true or false"),
    ({"remove_specks": None}, "invalid", "remove_specks must be true or false"),
    ({"template": "{sku}"}, "invalid", "does not work"),
    ({"preset": "nope"}, "invalid", "Unknown preset 'nope'"),
])
def test_bad_changes_are_refused_with_a_clear_message_and_nothing_is_saved(changes, code, expected):
    with pytest.raises(SettingsError) as caught:
        save_settings(changes, NONE)
    assert caught.value.code == code and expected in str(caught.value)
    assert not settings_file().exists()


def test_policy_beats_user_settings_beats_defaults(dirs):
    save_settings({"device": "cpu", "theme": "light", "output_dir": str(dirs / "mine")}, NONE)
    policy = Policy(force_cpu=False, default_output_dir=str(dirs / "it"), settings={"theme": "dark"},
                    audit=True, lock=("theme",), source="test")
    values = load_settings(policy).values
    assert values["theme"] == "dark"  # locked: policy wins over the user
    assert values["output_dir"] == str(dirs / "mine")  # IT's default, not locked: the user's choice wins
    assert values["audit"] is True  # set by policy: locked
    assert values["device"] == "cpu"  # user over default
    assert load_settings(Policy(default_output_dir=str(dirs / "it"))).values["output_dir"] == str(dirs / "mine")


def test_policy_default_output_dir_replaces_the_builtin_default(dirs):
    assert load_settings(Policy(default_output_dir=str(dirs / "it"))).values["output_dir"] == str(dirs / "it")


def test_locked_keys_are_reported_and_cannot_be_changed(dirs):
    policy = Policy(force_cpu=True, audit=False, default_output_dir=str(dirs / "it"), lock=("output_dir",),
                    source="test")
    effective = load_settings(policy)
    assert effective.locked == {"device", "audit", "output_dir"}
    assert effective.values["device"] == "cpu" and effective.values["output_dir"] == str(dirs / "it")
    assert effective.as_dict()["locked"] == ["audit", "device", "output_dir"]
    with pytest.raises(SettingsError, match="device is set by your organisation's policy") as caught:
        save_settings({"device": "auto"}, policy)
    assert caught.value.code == "locked" and not settings_file().exists()
    resent = save_settings({**effective.values, "theme": "dark"}, policy)  # the UI sends everything back
    assert resent.values["theme"] == "dark" and resent.values["device"] == "cpu"


def test_allowed_models_and_presets_constrain_choices(dirs):
    policy = Policy(allowed_models=("isnet-small", "isnet-medium-int8"), lock_presets=("marketplace", "mask"))
    values = load_settings(policy).values
    assert values["model"] == "isnet-medium-int8" and values["preset"] == "marketplace"
    with pytest.raises(SettingsError, match="model 'u2net' is not allowed") as caught:
        save_settings({"model": "u2net"}, policy)
    assert caught.value.code == "locked"
    with pytest.raises(SettingsError, match="not allowed by your organisation's policy"):
        save_settings({"preset": "png-master"}, policy)


def test_a_damaged_settings_file_falls_back_to_defaults_and_says_so():
    settings_file().parent.mkdir(parents=True)
    settings_file().write_text(json.dumps({"theme": "neon", "device": "cpu", "colour": 1}), encoding="utf-8")
    effective = load_settings(NONE)
    assert effective.values["theme"] == "system" and effective.values["device"] == "cpu"
    assert len(effective.problems) == 2


def test_no_policy_argument_reads_the_machine_policy(dirs):
    policy_path = dirs / "machine" / "knockout-policy.json"
    policy_path.parent.mkdir()
    policy_path.write_text(json.dumps({"force_cpu": True}), encoding="utf-8")
    assert load_settings().values["device"] == "cpu" and "device" in load_settings().locked


def test_concurrent_saves_from_bridge_threads_lose_no_change():
    import threading

    keys = [{"theme": "dark"}, {"device": "cpu"}, {"sidecar": True}, {"audit": True}, {"template": "{stem}-x"}]
    threads = [threading.Thread(target=save_settings, args=(change, NONE)) for change in keys]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    values = load_settings(NONE).values
    assert (values["theme"], values["device"], values["sidecar"], values["audit"], values["template"]) == \
        ("dark", "cpu", True, True, "{stem}-x")


def test_cutout_quality_switches_are_on_by_default_and_saved_as_booleans():
    values = load_settings(NONE).values
    assert (values["refine_edges"], values["decontaminate"], values["remove_specks"]) == (True, True, True)
    saved = save_settings({"refine_edges": False, "decontaminate": False, "remove_specks": False}, NONE)
    assert (saved.values["refine_edges"], saved.values["decontaminate"], saved.values["remove_specks"]) == \
        (False, False, False)
    stored = json.loads(settings_file().read_text(encoding="utf-8"))
    assert stored["decontaminate"] is False and stored["refine_edges"] is False
    assert save_settings({"decontaminate": True}, NONE).values["decontaminate"] is True


def test_left_out_parts_are_recovered_by_default_and_the_switch_takes_only_true_or_false():
    assert load_settings(NONE).values["auto_recover_parts"] is True
    assert save_settings({"auto_recover_parts": False}, NONE).values["auto_recover_parts"] is False
    with pytest.raises(SettingsError, match="auto_recover_parts must be true or false"):
        save_settings({"auto_recover_parts": "no"}, NONE)


def test_two_views_are_the_windows_default_and_views_must_be_one_or_two():
    assert load_settings(NONE).values["views"] == 2
    assert save_settings({"views": 1}, NONE).values["views"] == 1
    for bad in (3, True, "2"):
        with pytest.raises(SettingsError, match="views must be 1 or 2"):
            save_settings({"views": bad}, NONE)


def test_every_user_setting_can_be_locked_by_policy():
    assert policy_from_dict({"lock": list(KEYS)}, "test").locked_settings() == set(DEFAULTS)


def test_policy_locks_the_cutout_quality_switches_like_any_other_key(dirs):
    save_settings({"decontaminate": True, "remove_specks": False, "refine_edges": False}, NONE)
    policy = Policy(lock=("decontaminate", "remove_specks"), settings={"decontaminate": False}, source="test")
    effective = load_settings(policy)
    assert effective.locked == {"decontaminate", "remove_specks"}
    assert effective.values["decontaminate"] is False  # IT's value beats the user's
    assert effective.values["remove_specks"] is True  # locked without a value: the built-in default
    assert effective.values["refine_edges"] is False  # not locked: the user's choice
    with pytest.raises(SettingsError, match="decontaminate is set by your organisation's policy") as caught:
        save_settings({"decontaminate": True}, policy)
    assert caught.value.code == "locked"
    resent = save_settings({**effective.values, "refine_edges": True}, policy)  # the dialog sends them back
    assert resent.values["refine_edges"] is True and resent.values["decontaminate"] is False


def test_cutout_quality_locks_from_the_policy_file_and_the_registry(dirs):
    policy_path = dirs / "machine" / "knockout-policy.json"
    policy_path.parent.mkdir()
    policy_path.write_text(json.dumps({"lock": ["refine_edges"], "settings": {"refine_edges": False,
                                                                            "decontaminate": False}}),
                           encoding="utf-8")
    registry = registry_to_dict({"Lock": "decontaminate;remove_specks"})
    policy = load_policy(registry_reader=lambda: {"Lock": "decontaminate;remove_specks"})
    assert registry == {"lock": ["decontaminate", "remove_specks"]}
    # The registry's Lock replaces the file's lock key; the file's values still pin what is locked.
    effective = load_settings(policy)
    assert effective.locked == {"decontaminate", "remove_specks"}
    assert effective.values["decontaminate"] is False and effective.values["remove_specks"] is True
    assert effective.values["refine_edges"] is False  # the file's value, now an IT default the user may change
    policy_path.write_text(json.dumps({"settings": {"decontaminate": "no"}}), encoding="utf-8")
    with pytest.raises(PolicyError, match="decontaminate must be true or false"):
        load_policy()
