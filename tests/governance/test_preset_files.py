"""Preset files: schema 2 (delivery sets, channel facts) written and read back; schema 1 files still import."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app import paths
from app.core.compliance import Rules
from app.governance.policy import Policy
from app.governance.preset_files import SCHEMA, preset_from_dict
from app.governance.presets import PresetError, builtin_presets, export_preset, get_preset, import_preset

NONE = Policy()
SCHEMA1 = Path(__file__).parent / "fixtures" / "team-preset-schema1.json"


@pytest.fixture(autouse=True)
def dirs(config_dirs: Path) -> Path:
    return config_dirs


def _set(**overrides) -> dict:
    data = {"knockout_preset": 2, "id": "shop-kit", "label": "Shop kit", "version": 1, "outputs": [
        {"id": "master", "template": "{stem}", "export": {"format": "png"}},
        {"id": "shop", "label": "Shop JPEG", "template": "{stem}-shop",
         "export": {"format": "jpg", "background": "white", "canvas": "1200x1200"},
         "rules": {"background": "white", "min_size": 1000, "formats": ["jpg"], "max_bytes": 5000000},
         "channel": {"name": "Our shop", "sources": [{"url": "https://shop.example/rules", "took": "sizes"}],
                     "read_on": "2026-11-30", "unchecked_rules": ["no text"], "note": "ask Sam"}}]}
    data.update(overrides)
    return data


def test_a_schema_1_team_file_still_imports_with_its_rules_and_settings():
    assert json.loads(SCHEMA1.read_text(encoding="utf-8"))["knockout_preset"] == 1 < SCHEMA
    preset = import_preset(SCHEMA1, NONE)
    assert (preset.id, preset.version, preset.is_set, preset.channel) == ("shop-white", 2, False, None)
    assert preset.settings.canvas == (1200, 1200) and preset.settings.keep_exif_fields == ("Copyright",)
    assert preset.rules == Rules(background=(255, 255, 255), fill_range=(0.8, 0.95), min_size=1000)
    saved = json.loads((paths.user_presets_dir() / "shop-white.json").read_text(encoding="utf-8"))
    assert saved["knockout_preset"] == SCHEMA  # normalised to the current schema on import
    assert get_preset("shop-white", NONE) == preset


def test_a_schema_1_file_cannot_use_rules_that_came_with_schema_2(tmp_path):
    data = json.loads(SCHEMA1.read_text(encoding="utf-8"))
    data["rules"]["max_bytes"] = 1000
    with pytest.raises(PresetError, match="unknown rules key 'max_bytes'"):
        preset_from_dict(data)


def test_a_delivery_set_file_round_trips_through_export_and_import(tmp_path):
    (tmp_path / "kit.json").write_text(json.dumps(_set()), encoding="utf-8")
    preset = import_preset(tmp_path / "kit.json", NONE)
    assert [o.id for o in preset.outputs] == ["master", "shop"] and preset.settings.format == "png"
    shop = preset.outputs[1]
    assert shop.label == "Shop JPEG" and shop.settings.canvas == (1200, 1200)
    assert shop.rules is not None and shop.rules.formats == ("jpg",) and shop.rules.max_bytes == 5_000_000
    assert shop.channel is not None and shop.channel.read_on == "2026-11-30"
    assert shop.channel.unchecked_rules == ("no text",) and shop.channel.confirmed
    export_preset(preset, tmp_path / "shared.json")
    (paths.user_presets_dir() / "shop-kit.json").unlink()
    assert import_preset(tmp_path / "shared.json", NONE) == preset


def test_every_builtin_round_trips_through_its_file_form():
    from app.governance.preset_files import preset_to_dict

    for preset in builtin_presets():
        assert preset_from_dict(json.loads(json.dumps(preset_to_dict(preset))), source="builtin") == preset


@pytest.mark.parametrize(("change", "words"), [
    ({"export": {"format": "png"}}, "move export into its outputs"),
    ({"outputs": []}, "a list of 1 to"),
    ({"outputs": [{"id": "a", "template": "{stem}", "export": {}}, {"id": "b", "template": "{stem}", "export": {}}]},
     "would write the same file"),
    ({"outputs": [{"id": "a", "export": {}}, {"id": "a", "template": "{stem}-2", "export": {}}]}, "same id"),
    ({"outputs": [{"id": "a", "template": "{stem}"}]}, "missing \"export\""),
    ({"outputs": [{"id": "a", "export": {}, "rules": {"formats": ["psd"]}}]}, "formats must be a list"),
    ({"outputs": [{"id": "a", "export": {}, "channel": {"name": "X", "read_on": "yesterday"}}]}, "read_on"),
    ({"outputs": [{"id": "a", "export": {}, "rules": {"aspects": [[4, 0]]}}]}, "ratios of whole numbers"),
])
def test_a_malformed_delivery_set_is_refused_saying_why(change, words):
    with pytest.raises(PresetError) as refused:
        preset_from_dict(_set(**change))
    assert words in str(refused.value)
