"""app.desktop.exporting: the preset as the desktop app exports with it (user settings and IT policy)."""

import dataclasses

import pytest

from app.batch.pipeline import MaskOptions
from app.desktop.exporting import app_preset, mask_options
from app.governance.policy import Policy, policy_from_dict
from app.governance.presets import get_preset


def _with(preset, **changes):
    return dataclasses.replace(preset, settings=dataclasses.replace(preset.settings, **changes))


@pytest.mark.parametrize(("in_preset", "in_settings", "expected"), [
    (True, True, True),
    (True, False, False),  # the user switched decontamination off
    (False, True, False),  # the preset keeps the photo's edge colours: the setting cannot add it
    (False, False, False),
])
def test_edges_are_decontaminated_only_when_both_the_preset_and_the_setting_allow_it(in_preset, in_settings,
                                                                                     expected):
    preset = _with(get_preset("png-master", Policy()), decontaminate=in_preset)
    result = app_preset(preset, {"decontaminate": in_settings})
    assert result.settings.decontaminate is expected
    assert (result.id, result.settings.format, result.settings.refine_edges) == ("png-master", "png", True)


def test_nothing_to_change_gives_the_preset_back_and_settings_without_the_key_keep_it():
    preset = get_preset("marketplace", Policy())
    assert app_preset(preset, {"decontaminate": True}) is preset
    assert app_preset(preset, {}) is preset


def test_it_metadata_policy_is_applied_with_the_users_setting():
    preset = _with(get_preset("png-master", Policy()), keep_exif=True)
    policy = Policy(keep_exif_fields=("Copyright",), source="test")
    result = app_preset(preset, {"decontaminate": False}, policy)
    assert (result.settings.keep_exif, result.settings.keep_exif_fields) == (False, ("Copyright",))
    assert result.settings.decontaminate is False
    assert preset.settings.keep_exif and preset.settings.decontaminate  # the original is untouched


def test_mask_options_come_from_the_apps_settings_not_the_preset():
    preset = _with(get_preset("png-master", Policy()), refine_edges=False)  # a preset asking for plain edges
    result = app_preset(preset, {"refine_edges": True, "remove_specks": False})
    assert (result.settings.refine_edges, result.settings.remove_specks) == (True, False)
    assert app_preset(preset, {"views": 2}).settings.views == 2


def test_the_apps_masks_use_two_views_unless_the_settings_say_one():
    assert mask_options({}).views == 2
    assert mask_options({"views": 1, "refine_edges": False}) == MaskOptions(refine_edges=False, views=1)


def test_the_apps_masks_recover_left_out_parts_unless_the_settings_say_not():
    assert mask_options({}).auto_recover_parts is True
    assert mask_options({"auto_recover_parts": False}).auto_recover_parts is False
    pinned = policy_from_dict({"lock": ["auto_recover_parts"], "settings": {"auto_recover_parts": False}}, "test")
    preset = app_preset(get_preset("png-master", Policy()), {"auto_recover_parts": True}, pinned)
    assert preset.settings.auto_recover_parts is False


@pytest.mark.parametrize("pinned", [True, False])
def test_a_policy_pinned_switch_beats_the_team_preset_and_the_users_setting(pinned):
    preset = _with(get_preset("png-master", Policy()), decontaminate=not pinned, remove_specks=not pinned)
    policy = Policy(lock=("decontaminate", "remove_specks"),
                    settings={"decontaminate": pinned, "remove_specks": pinned}, source="test")
    result = app_preset(preset, {"decontaminate": True, "remove_specks": not pinned}, policy)
    assert (result.settings.decontaminate, result.settings.remove_specks) == (pinned, pinned)
