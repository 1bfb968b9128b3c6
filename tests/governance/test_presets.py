"""Presets: built-ins, sharing as versioned JSON, and what machine policy does to them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app import paths
from app.core.source_quality import SourceChecks
from app.governance.policy import Policy
from app.governance.presets import (
    PresetError,
    Rules,
    builtin_presets,
    export_preset,
    get_preset,
    import_preset,
    load_presets,
    preset_to_dict,
)

NONE = Policy()


@pytest.fixture(autouse=True)
def dirs(config_dirs: Path) -> Path:
    """User and machine config dirs in tmp, no machine policy file (see conftest)."""
    return config_dirs


def team_file(path: Path, **overrides) -> Path:
    data = {"knockout_preset": 1, "id": "shop", "label": "Shop", "description": "Our shop", "version": 1,
            "template": "{stem}-shop", "export": {"format": "jpg", "background": "white", "canvas": [1200, 1200]},
            "rules": {"background": [255, 255, 255], "fill_range": [0.8, 0.9], "min_size": 1000}}
    data.update(overrides)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_builtins_cover_master_marketplace_web_and_mask_and_match_the_desktop_contract():
    presets = {p.id: p for p in builtin_presets()}
    assert list(presets)[:4] == ["png-master", "marketplace", "web-webp", "mask"]
    market = presets["marketplace"]
    assert market.settings.format == "jpg" and market.settings.background == (255, 255, 255)
    assert market.settings.canvas == (2000, 2000) and market.settings.fill == 0.85
    assert "check your marketplace's current rules" in market.description.lower()
    assert market.rules == Rules(background=(255, 255, 255), fill_range=(0.80, 0.95), min_size=1000)
    assert presets["web-webp"].settings.lossless is False and presets["web-webp"].settings.max_size == (2000, 2000)
    assert presets["mask"].settings.mask_only
    assert {"id", "label", "description", "format", "locked"} <= set(market.as_dict())


def test_exported_preset_imports_back_identical_except_its_source(dirs):
    original = import_preset(team_file(dirs / "shop.json"), NONE)
    export_preset(original, dirs / "shared.json")
    (paths.user_presets_dir() / "shop.json").unlink()
    again = import_preset(dirs / "shared.json", NONE)
    assert again == original and again.source == "team"
    assert again.settings.canvas == (1200, 1200) and again.rules is not None
    assert again.rules.fill_range == (0.8, 0.9)
    assert get_preset("shop", NONE) == again


def _file(**extra) -> str:
    return json.dumps({"knockout_preset": 1, "id": "x", "label": "x", "export": {}, **extra})


@pytest.mark.parametrize(("content", "expected"), [
    ("{not json", "not valid JSON (line 1"),
    (json.dumps({"id": "x"}), "not a Knockout preset"),
    (_file(knockout_preset=3), "version 3 is not supported"),
    (_file(colour=1), "unknown preset key 'colour'"),
    (_file(export={"formt": "png"}), "unknown export key 'formt'"),
    (_file(export={"quality": 400}), "quality must be between"),
    (_file(export={"crop": "yes"}), "crop must be a bool"),
    (_file(export={"keep_exif_fields": ["Nope"]}), "unknown EXIF tag name(s) Nope"),
    (_file(id="../evil"), "\"id\" must be lower-case"),
    (_file(template="{stem}/{x}"), "template"),
    (_file(rules={"fill_range": [0.9, 0.2]}), "fill_range must be [low, high]"),
    (_file(rules={"size": 3}), "unknown rules key 'size'"),
    (_file(knockout_preset=2, source_checks={"max_upscale": 0.5}), "source_checks: max_upscale must be at least 1"),
    (_file(knockout_preset=2, source_checks={"checks": ["blur"]}), "unknown source check(s) blur"),
])
def test_malformed_preset_file_gets_a_clear_error_and_changes_nothing(dirs, content, expected):
    existing = import_preset(team_file(dirs / "shop.json"), NONE)
    before = (paths.user_presets_dir() / "shop.json").read_bytes()
    bad = dirs / "bad.json"
    bad.write_text(content, encoding="utf-8")
    with pytest.raises(PresetError, match=None) as caught:
        import_preset(bad, NONE)
    assert expected in str(caught.value) and str(bad) in str(caught.value)
    assert sorted(p.name for p in paths.user_presets_dir().iterdir()) == ["shop.json"]
    assert (paths.user_presets_dir() / "shop.json").read_bytes() == before
    assert [p for p in load_presets(NONE) if p.source == "team"] == [existing]


def test_import_refuses_a_builtin_id_and_an_older_version(dirs):
    with pytest.raises(PresetError, match="builtin preset already has the id 'marketplace'"):
        import_preset(team_file(dirs / "a.json", id="marketplace"), NONE)
    import_preset(team_file(dirs / "v3.json", version=3), NONE)
    with pytest.raises(PresetError, match="older than the imported version 3"):
        import_preset(team_file(dirs / "v2.json", version=2, label="Old"), NONE)
    newer = import_preset(team_file(dirs / "v4.json", version=4, label="New"), NONE)
    assert get_preset("shop", NONE).label == "New" == newer.label


def test_policy_lock_true_locks_every_preset_and_refuses_import(dirs):
    locked = Policy(lock_presets=True, source="test policy")
    assert all(p.locked for p in load_presets(locked))
    with pytest.raises(PresetError, match="locked by your organisation's policy"):
        import_preset(team_file(dirs / "shop.json"), locked)
    assert not paths.user_presets_dir().exists()


def test_policy_list_allows_only_those_presets(dirs):
    policy = Policy(lock_presets=("marketplace", "mask"), source="test")
    assert [p.id for p in load_presets(policy)] == ["marketplace", "mask"]
    with pytest.raises(PresetError, match="'png-master' is not allowed by your organisation's policy"):
        get_preset("png-master", policy)


def test_unknown_preset_error_lists_what_exists():
    with pytest.raises(PresetError, match=r"unknown preset 'nope' \(available: png-master, marketplace"):
        get_preset("nope", NONE)


def test_it_deployed_presets_are_locked_and_may_replace_a_builtin(dirs):
    machine = paths.machine_presets_dir()
    machine.mkdir(parents=True)
    team_file(machine / "marketplace.json", id="marketplace", label="ACME marketplace")
    preset = get_preset("marketplace", NONE)
    assert (preset.label, preset.source, preset.locked) == ("ACME marketplace", "policy", True)


def test_a_broken_team_file_is_skipped_and_reported(dirs):
    folder = paths.user_presets_dir()
    folder.mkdir(parents=True)
    (folder / "broken.json").write_text("{", encoding="utf-8")
    problems: list[str] = []
    assert [p.id for p in load_presets(NONE, problems)] == [p.id for p in builtin_presets()]
    assert len(problems) == 1 and "broken.json" in problems[0]


def test_builtin_exports_as_a_file_format_that_round_trips():
    for preset in builtin_presets():
        data = json.loads(json.dumps(preset_to_dict(preset)))
        from app.governance.presets import preset_from_dict

        assert preset_from_dict(data, source="builtin") == preset


def test_the_metadata_policy_is_applied_to_every_preset(dirs):
    import_preset(team_file(dirs / "shop.json", export={"format": "jpg", "keep_exif": True}), NONE)
    strict = Policy(keep_exif_fields=("Copyright",))
    for preset in load_presets(strict):
        assert (preset.settings.keep_exif, preset.settings.keep_exif_fields) == (False, ("Copyright",))
    assert get_preset("shop", NONE).settings.keep_exif is True


# ---------------------------------------------------------------- bounded file-name templates


@pytest.mark.parametrize("template", [
    "{stem:>100000}",  # a width no file name has
    "{stem:.100000}",
    "{stem:{name}}",  # a nested field in the format spec
    "{stem.__class__}",  # attribute access
    "{stem[0]}",  # indexing
    "{stem!r}",  # a conversion
    "{stem:d}",  # a type code
    "x" * 300,  # longer than a file name
    "{stem:>200}{name:>200}",  # each width fine, together longer than a file name
])
def test_a_template_beyond_a_plain_bounded_file_name_is_refused_on_import(dirs, template):
    with pytest.raises(PresetError, match="template") as caught:
        import_preset(team_file(dirs / "shop.json", template=template), NONE)
    assert str(dirs / "shop.json") in str(caught.value)
    assert not paths.user_presets_dir().exists()


def test_a_huge_template_width_in_the_presets_folder_costs_nothing_to_load(dirs):
    import tracemalloc

    folder = paths.user_presets_dir()
    folder.mkdir(parents=True)
    team_file(folder / "shop.json", template="{stem:>40000000}")
    problems: list[str] = []
    tracemalloc.start()
    try:
        found = load_presets(NONE, problems)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "shop" not in [p.id for p in found] and "template" in problems[0]
    assert peak < 2_000_000  # not a 40 MB file name


def test_bounded_format_specs_are_file_names_too(dirs):
    from app.core.naming import render_name

    preset = import_preset(team_file(dirs / "shop.json", template="{stem:.8}-{preset:_>6}"), NONE)
    fields = {"stem": "a-very-long-product-name", "name": "x.jpg", "ext": "jpg", "parent": "in", "preset": "shop"}
    assert render_name(preset.template, fields) == "a-very-l-__shop"


def test_a_team_preset_carries_its_source_checks_and_shares_them(dirs):
    checks = {"checks": ["jpeg", "upscale"], "max_upscale": 1.5, "refuse_upscale": True}
    shop = import_preset(team_file(dirs / "shop.json", knockout_preset=2, source_checks=checks), NONE)
    assert shop.source_checks == SourceChecks(("jpeg", "upscale"), max_upscale=1.5, refuse_upscale=True)
    export_preset(shop, dirs / "shared.json")
    assert json.loads((dirs / "shared.json").read_text())["source_checks"]["refuse_upscale"] is True
    plain = import_preset(team_file(dirs / "plain.json", id="plain"), NONE)
    assert plain.source_checks == SourceChecks() and "source_checks" not in preset_to_dict(plain)
