"""The CLI under IT controls: presets, policy, audit, compliance warnings, metadata, cache."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from PIL import Image

from app import cli, paths
from app.cli import controls
from app.governance import audit
from app.governance.settings_schema import KEYS
from tests.fakes import photo
from tests.imaging_fixtures import GPS_IFD, camera_exif


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """User and machine folders under tmp; the policy file is home/policy.json (absent until written)."""
    for name in ("user_config_dir", "user_data_dir", "user_cache_dir", "machine_config_dir"):
        monkeypatch.setattr(paths, name, lambda name=name: tmp_path / "home" / name)
    monkeypatch.setenv("KNOCKOUT_POLICY_FILE", str(tmp_path / "home" / "policy.json"))
    (tmp_path / "home").mkdir()
    return tmp_path / "home"


def set_policy(home: Path, **keys) -> None:
    (home / "policy.json").write_text(json.dumps(keys), encoding="utf-8")


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_preset_supplies_settings_and_name_and_a_compliant_export_has_no_warnings(tmp_path, home, fake_engine,
                                                                                  capsys):
    photo(tmp_path / "a.jpg")
    assert cli.main(["cut", str(tmp_path / "a.jpg"), "-o", str(tmp_path / "out"), "--preset", "marketplace",
                     "--json"]) == 0
    with Image.open(tmp_path / "out" / "a-marketplace.jpg") as img:
        assert img.format == "JPEG" and img.size == (2000, 2000) and img.getpixel((3, 3)) == (255, 255, 255)
    report = json.loads(capsys.readouterr().out)
    assert "warnings" not in report["files"][0] and "violations" not in report["files"][0]


def test_explicit_flags_override_the_preset_and_broken_rules_are_reported(tmp_path, home, fake_engine, capsys):
    photo(tmp_path / "a.jpg")
    assert cli.main(["cut", str(tmp_path / "a.jpg"), "-o", str(tmp_path / "out"), "--preset", "marketplace",
                     "--fill", "0.5", "--json"]) == 0
    captured = capsys.readouterr()
    entry = json.loads(captured.out)["files"][0]
    assert [v["code"] for v in entry["violations"]] == ["fill"]
    assert entry["warnings"][0].startswith("marketplace rules: The subject fills ")
    assert "this preset asks for at least 80%" in entry["warnings"][0]
    assert "1 file break the marketplace preset's rules" in captured.err


def test_a_locked_preset_refuses_overriding_flags(tmp_path, home, fake_engine, capsys):
    set_policy(home, lock_presets=True)
    photo(tmp_path / "a.jpg")
    with pytest.raises(SystemExit) as exited:
        cli.main(["cut", str(tmp_path / "a.jpg"), "-o", str(tmp_path / "out"), "--preset", "marketplace",
                  "--format", "png"])
    assert exited.value.code == 2 and "preset 'marketplace' is locked" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_broken_policy_file_stops_the_cli_naming_the_file(tmp_path, home, fake_engine, capsys):
    (home / "policy.json").write_text("{\"force_cpu\": yes}", encoding="utf-8")
    photo(tmp_path / "a.jpg")
    assert cli.main(["cut", str(tmp_path / "a.jpg"), "-o", str(tmp_path / "out")]) == cli.EXIT_POLICY
    err = capsys.readouterr().err
    assert str(home / "policy.json") in err and "not valid JSON" in err and "refusing to run" in err
    assert not (tmp_path / "out").exists()


def test_policy_forces_cpu_caps_megapixels_and_restricts_models(tmp_path, home, fake_engine, monkeypatch, capsys):
    seen = []

    def engine(args):
        seen.append(args)
        return fake_engine

    monkeypatch.setattr(cli.options, "engine_for", engine)
    set_policy(home, force_cpu=True, max_megapixels=0.001, allowed_models=["isnet-medium"])
    photo(tmp_path / "a.jpg", size=(96, 64))  # 6144 px > 1000
    code = cli.main(["cut", str(tmp_path / "a.jpg"), "-o", str(tmp_path / "out"), "-q"])  # --device auto: refused
    assert code == 1 and seen[0].device == "cpu" and seen[0].model == "isnet-medium"
    assert seen[0].max_megapixels == 0.001
    with pytest.raises(SystemExit):
        cli.main(["cut", str(tmp_path / "a.jpg"), "-o", str(tmp_path / "out2"), "--model", "u2net"])
    assert "model 'u2net' is not allowed by your organisation's policy" in capsys.readouterr().err


def test_policy_preset_list_requires_one_of_them(tmp_path, home, fake_engine, capsys):
    set_policy(home, lock_presets=["mask", "marketplace"])
    photo(tmp_path / "a.jpg")
    with pytest.raises(SystemExit):
        cli.main(["cut", str(tmp_path / "a.jpg"), "-o", str(tmp_path / "out")])
    assert "allows only these presets: mask, marketplace" in capsys.readouterr().err
    assert cli.main(["cut", str(tmp_path / "a.jpg"), "-o", str(tmp_path / "out"), "--preset", "mask", "-q"]) == 0
    assert Image.open(tmp_path / "out" / "a-mask.png").mode == "L"


def test_audit_and_sidecar_hashes_match_the_files_on_disk(tmp_path, home, fake_engine):
    photo(tmp_path / "in" / "a.jpg")
    out = tmp_path / "out"
    assert cli.main(["cut", str(tmp_path / "in"), "-o", str(out), "--audit", "--sidecar", "--preset", "web-webp",
                     "-q"]) == 0
    lines = (home / "user_data_dir" / "audit" / "exports.jsonl").read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[0])
    output = out / "a-web-webp.webp"
    assert len(lines) == 1 and record["output"]["sha256"] == sha(output)
    assert record["source"] == {"name": "a.jpg", "sha256": sha(tmp_path / "in" / "a.jpg")}
    assert record["model"] == {"id": "fake", "sha256": "0" * 64} and record["preset"] == "web-webp"
    assert json.loads((out / "a-web-webp.webp.json").read_text(encoding="utf-8")) == record


def test_policy_audit_on_records_without_the_flag_and_off_refuses_it(tmp_path, home, fake_engine, capsys):
    photo(tmp_path / "a.jpg")
    set_policy(home, audit=True)
    assert cli.main(["cut", str(tmp_path / "a.jpg"), "-o", str(tmp_path / "out"), "-q"]) == 0
    assert (home / "user_data_dir" / "audit" / "exports.jsonl").is_file()
    set_policy(home, audit=False)
    with pytest.raises(SystemExit):
        cli.main(["cut", str(tmp_path / "a.jpg"), "-o", str(tmp_path / "out2"), "--audit"])
    assert "switched off by your organisation's policy" in capsys.readouterr().err


def test_a_jpeg_with_gps_in_gives_no_gps_out_even_when_keeping_fields(tmp_path, home, fake_engine):
    Image.new("RGB", (96, 64), (230, 200, 180)).save(tmp_path / "gps.jpg", exif=camera_exif())
    assert cli.main(["cut", str(tmp_path / "gps.jpg"), "-o", str(tmp_path / "out"), "--format", "jpg",
                     "--keep-exif-field", "Make", "-q"]) == 0
    exif = Image.open(tmp_path / "out" / "gps.jpg").getexif()
    assert exif.get(0x010F) == "Knockout Test Camera Co." and dict(exif.get_ifd(GPS_IFD)) == {}


def test_policy_metadata_fields_win_and_keep_exif_is_refused(tmp_path, home, fake_engine, capsys):
    Image.new("RGB", (96, 64), (230, 200, 180)).save(tmp_path / "gps.jpg", exif=camera_exif())
    set_policy(home, keep_exif_fields=[])
    with pytest.raises(SystemExit):
        cli.main(["cut", str(tmp_path / "gps.jpg"), "-o", str(tmp_path / "out"), "--keep-exif"])
    assert ("metadata is set by your organisation's policy (EXIF fields kept: none; policy key: keep_exif_fields)"
            in capsys.readouterr().err)
    assert cli.main(["cut", str(tmp_path / "gps.jpg"), "-o", str(tmp_path / "out"), "-q", "--format", "jpg"]) == 0
    assert "exif" not in Image.open(tmp_path / "out" / "gps.jpg").info


def test_presets_commands_list_export_import_show(tmp_path, home, capsys):
    assert cli.main(["presets", "list"]) == 0
    assert "marketplace" in capsys.readouterr().out
    assert cli.main(["presets", "export", "marketplace", str(tmp_path / "m.json")]) == 0
    data = json.loads((tmp_path / "m.json").read_text(encoding="utf-8"))
    data.update(id="acme-shop", label="ACME shop", version=2)
    (tmp_path / "acme.json").write_text(json.dumps(data), encoding="utf-8")
    assert cli.main(["presets", "import", str(tmp_path / "acme.json")]) == 0
    capsys.readouterr()
    assert cli.main(["presets", "show", "acme-shop"]) == 0
    assert json.loads(capsys.readouterr().out)["label"] == "ACME shop"
    assert cli.main(["presets", "list", "--json"]) == 0
    listed = {p["id"]: p for p in json.loads(capsys.readouterr().out)}
    assert listed["acme-shop"]["source"] == "team" and listed["acme-shop"]["version"] == 2


def test_presets_show_prints_the_file_and_says_which_channel_rules_are_not_checked(home, capsys):
    assert cli.main(["presets", "show", "marketplace-kit"]) == 0
    shown = capsys.readouterr()
    data = json.loads(shown.out)  # stdout stays the preset's file
    assert data["knockout_preset"] == 2 and [o["id"] for o in data["outputs"]] == ["master", "amazon", "web", "mask"]
    assert data["outputs"][1]["channel"]["unchecked_rules"]
    assert "Amazon main image (JPEG on white): rules of Amazon (main image), read 2026-12-05" in shown.err
    assert "not checked by Knockout, check by eye: no text, logos" in shown.err
    assert cli.main(["presets", "show", "allegro"]) == 0
    assert "NOT CONFIRMED" in capsys.readouterr().err
    assert cli.main(["presets", "list"]) == 0
    assert "png+jpg+webp+png" in capsys.readouterr().out


def test_importing_a_malformed_preset_fails_clearly(tmp_path, home, capsys):
    (tmp_path / "bad.json").write_text(json.dumps({"knockout_preset": 1, "id": "x", "label": "X",
                                                   "export": {"format": "gif"}}), encoding="utf-8")
    assert cli.main(["presets", "import", str(tmp_path / "bad.json")]) == 1
    assert "format must be one of png, webp, jpg, tif, not 'gif'" in capsys.readouterr().err
    assert not (home / "user_config_dir" / "presets").exists()


def test_cache_clear_removes_leftovers(home, capsys):
    cache = home / "user_cache_dir"
    (cache / "session-1-dead").mkdir(parents=True)
    (cache / "session-1-dead" / "session.lock").write_text("1")  # its process crashed: nobody holds the lock
    (cache / "thumbs").mkdir()
    assert cli.main(["cache", "clear"]) == 0
    assert list(cache.iterdir()) == [] and "Removed" in capsys.readouterr().out


def test_diagnose_reports_the_policy_and_where_it_came_from(home, monkeypatch):
    from app.support import diagnose

    set_policy(home, force_cpu=True)
    problems: list[str] = []
    policy = diagnose._policy(problems)
    assert policy["source"] == str(home / "policy.json") and policy["force_cpu"] and problems == []
    assert "force_cpu=true" in diagnose._policy_line(policy) and "device" in diagnose._policy_line(policy)
    (home / "policy.json").write_text("[", encoding="utf-8")
    assert diagnose._policy_line(diagnose._policy(problems)).startswith("BROKEN: ")
    assert "machine policy is broken" in problems[0]


@pytest.mark.slow
def test_watch_honours_the_preset_and_the_audit_policy(tmp_path, home, fake_engine):
    set_policy(home, audit=True)
    photo(tmp_path / "inbox" / "a.jpg")
    out = tmp_path / "out"
    assert cli.main(["watch", str(tmp_path / "inbox"), "-o", str(out), "--once", "-q", "--preset", "mask"]) == 0
    record = json.loads((home / "user_data_dir" / "audit" / "exports.jsonl").read_text(encoding="utf-8"))
    assert record["preset"] == "mask" and record["output"]["sha256"] == sha(out / "a-mask.png")


def test_a_policy_locked_preset_setting_is_used_by_cut_and_cannot_be_swapped(tmp_path, home, fake_engine, capsys):
    set_policy(home, lock=["preset"], settings={"preset": "mask"})
    photo(tmp_path / "a.jpg")
    assert cli.main(["cut", str(tmp_path / "a.jpg"), "-o", str(tmp_path / "out"), "-q"]) == 0
    assert Image.open(tmp_path / "out" / "a-mask.png").mode == "L"
    with pytest.raises(SystemExit):
        cli.main(["cut", str(tmp_path / "a.jpg"), "-o", str(tmp_path / "o2"), "--preset", "png-master"])
    assert "policy sets the preset to 'mask'" in capsys.readouterr().err


# ---------------------------------------------------------------- policy over every flag

# A policy that pins everything it can. Pinned values are the ones a flag cannot ask for
# (audit and sidecar off, the cutout switches on), so each flag below would change something.
FULL_LOCK = {"lock_presets": ["marketplace"], "force_cpu": True, "audit": False, "keep_exif_fields": [],
             "allowed_models": ["isnet-medium"], "max_megapixels": 50, "lock": list(KEYS),
             "settings": {"template": "{stem}-{preset}", "sidecar": False}}

# For each option that changes what is written: arguments that ask for something else than
# the full lock pins, and the policy key the refusal must name.
CHANGES = {
    "output": (["-o", "elsewhere"], "lock"), "name": (["--name", "{stem}-mine"], "lock"),
    "model": (["--model", "isnet-small"], "allowed_models"), "device": (["--device", "auto"], "force_cpu"),
    "preset": (["--preset", "mask"], "lock_presets"), "audit": (["--audit"], "audit"),
    "sidecar": (["--sidecar"], "lock"), "refine_edges": (["--no-refine-edges"], "lock"),
    "decontaminate": (["--no-decontaminate"], "lock"), "keep_specks": (["--keep-specks"], "lock"),
    "views": (["--views", "1"], "lock"),
    "format": (["--format", "png"], "lock_presets"), "bg": (["--bg", "black"], "lock_presets"),
    "mask_only": (["--mask-only"], "lock_presets"), "crop": (["--crop"], "lock_presets"),
    "margin": (["--margin", "5%"], "lock_presets"), "canvas": (["--canvas", "100x100"], "lock_presets"),
    "fill": (["--fill", "0.5"], "lock_presets"), "resize": (["--resize", "100x100"], "lock_presets"),
    "quality": (["--quality", "50"], "lock_presets"), "lossy": (["--lossy"], "lock_presets"),
    "punch_holes": (["--punch-holes"], "lock_presets"), "recover_parts": (["--recover-parts"], "lock_presets"),
    "auto_recover_parts": (["--no-auto-recover-parts"], "lock"),
    "keep_exif": (["--keep-exif"], "keep_exif_fields"), "keep_exif_field": (["--keep-exif-field", "Artist"],
                                                                           "keep_exif_fields"),
}
COMMANDS = {"cut": ["cut", "in/a.jpg"], "watch": ["watch", "in", "--once"]}


def _machine_policy(config_dirs: Path, **keys) -> None:
    (config_dirs / "machine").mkdir(exist_ok=True)
    (config_dirs / "machine" / "knockout-policy.json").write_text(json.dumps(keys), encoding="utf-8")


def _options(argv: list[str]) -> set[str]:
    """Every option of a sub-command by its dest, through argparse's public parse (defaults included;
    ``run`` is the command's own entry point, not an option)."""
    return set(vars(cli.build_parser().parse_args(argv))) - {"run"}


@pytest.mark.parametrize("command", COMMANDS)
def test_every_cut_and_watch_option_has_a_lock_decision(command):
    """A new option must be pinned by a policy key (controls.LOCKED_FLAGS or EXPORT_DESTS) or be
    listed as free under every lock (controls.FREE_FLAGS, with why), and have a case in CHANGES."""
    options = _options([*COMMANDS[command], "-o", "out"]) - {"command"}
    locked = controls.LOCKED_FLAGS.keys() | controls.EXPORT_DESTS.keys()
    assert options - locked - controls.FREE_FLAGS.keys() == set()
    assert not locked & controls.FREE_FLAGS.keys()
    assert options & locked <= CHANGES.keys()


@pytest.mark.slow  # 2 commands x every flag through the whole CLI
@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("dest", CHANGES)
def test_under_a_full_lock_each_flag_is_refused_naming_the_policy_key(tmp_path, config_dirs, fake_engine, capsys,
                                                                      monkeypatch, command, dest):
    monkeypatch.chdir(tmp_path)
    photo(tmp_path / "in" / "a.jpg")
    _machine_policy(config_dirs, **FULL_LOCK, default_output_dir=str(tmp_path / "it-out"))
    flags, key = CHANGES[dest]
    with pytest.raises(SystemExit) as exited:
        cli.main([*COMMANDS[command], *flags])
    err = capsys.readouterr().err
    assert exited.value.code == cli.EXIT_USAGE and f"policy key: {key})" in err, err
    assert "organisation's policy" in err and not (tmp_path / "it-out").exists() and fake_engine.runs == 0


def test_under_a_full_lock_cut_writes_what_the_policy_pins(tmp_path, config_dirs, fake_engine, capsys):
    photo(tmp_path / "in" / "a.jpg")
    _machine_policy(config_dirs, **FULL_LOCK, default_output_dir=str(tmp_path / "it-out"))
    free = ["--json", "-q", "--overwrite", "--threads", "1", "--max-megapixels", "500",
            "--device", "cpu", "--preset", "marketplace", "--decontaminate", "-o", str(tmp_path / "it-out")]
    assert cli.main(["cut", str(tmp_path / "in"), *free]) == 0  # the pinned values themselves are fine
    with Image.open(tmp_path / "it-out" / "a-marketplace.jpg") as img:
        assert img.size == (2000, 2000)
    assert not audit.default_log_path().exists()  # audit pinned off
    assert json.loads(capsys.readouterr().out)["output_dir"] == str(tmp_path / "it-out")


def _audit_records() -> list[dict]:
    return [json.loads(line) for line in audit.default_log_path().read_text(encoding="utf-8").splitlines()]


def test_knockout_policy_file_cannot_switch_the_machine_policy_off(tmp_path, config_dirs, fake_engine, monkeypatch):
    _machine_policy(config_dirs, audit=True, lock=["decontaminate"], settings={"decontaminate": False})
    monkeypatch.setenv("KNOCKOUT_POLICY_FILE", str(tmp_path / "nonexistent.json"))
    photo(tmp_path / "a.jpg")
    assert cli.main(["cut", str(tmp_path / "a.jpg"), "-o", str(tmp_path / "out"), "-q"]) == 0
    [record] = _audit_records()
    assert record["settings"]["decontaminate"] is False


def test_a_locked_switch_beats_the_team_preset_on_the_command_line(tmp_path, config_dirs, fake_engine):
    team = {"knockout_preset": 1, "id": "team-raw", "label": "Raw", "export": {"decontaminate": False,
                                                                                 "remove_specks": False}}
    (tmp_path / "team.json").write_text(json.dumps(team), encoding="utf-8")
    assert cli.main(["presets", "import", str(tmp_path / "team.json")]) == 0
    _machine_policy(config_dirs, audit=True, lock=["decontaminate", "remove_specks"])
    photo(tmp_path / "a.jpg")
    assert cli.main(["cut", str(tmp_path / "a.jpg"), "-o", str(tmp_path / "out"), "--preset", "team-raw",
                     "-q"]) == 0
    [record] = _audit_records()
    assert record["settings"]["decontaminate"] is True and record["settings"]["remove_specks"] is True


def test_a_locked_template_naming_the_preset_needs_one(tmp_path, config_dirs, fake_engine, capsys):
    _machine_policy(config_dirs, lock=["template"], settings={"template": "{stem}-{preset}-it"})
    photo(tmp_path / "a.jpg")
    with pytest.raises(SystemExit):
        cli.main(["cut", str(tmp_path / "a.jpg"), "-o", str(tmp_path / "out")])
    assert "add --preset" in capsys.readouterr().err
    assert cli.main(["cut", str(tmp_path / "a.jpg"), "-o", str(tmp_path / "out"), "--preset", "mask", "-q"]) == 0
    assert (tmp_path / "out" / "a-mask-it.png").is_file()


@pytest.mark.slow
def test_watch_without_o_writes_into_the_locked_output_folder(tmp_path, config_dirs, fake_engine):
    _machine_policy(config_dirs, lock=["output_dir"], default_output_dir=str(tmp_path / "it-out"))
    photo(tmp_path / "inbox" / "a.jpg")
    assert cli.main(["watch", str(tmp_path / "inbox"), "--once", "-q", "--interval", "0.05"]) == 0
    assert (tmp_path / "it-out" / "a.png").is_file()


def test_importing_a_preset_with_an_unbounded_template_width_fails_clearly(tmp_path, config_dirs, capsys):
    team = {"knockout_preset": 1, "id": "wide", "label": "Wide", "template": "{stem:>400000}", "export": {}}
    (tmp_path / "wide.json").write_text(json.dumps(team), encoding="utf-8")
    assert cli.main(["presets", "import", str(tmp_path / "wide.json")]) == 1
    assert "{stem:>400000} is wider than a file name (at most 255)" in capsys.readouterr().err
    assert not paths.user_presets_dir().exists()


@pytest.mark.parametrize(("argv", "typed"), [
    (["cut", "a.jpg"], {"command", "inputs"}),
    (["cut", "a.jpg", "--format", "png", "--device", "auto", "-o", "out"],  # the defaults' values, typed
     {"command", "inputs", "format", "device", "output"}),
    (["cut", "--keep-exif-field", "Artist", "--no-decontaminate", "a.jpg", "--form", "webp"],  # --form: abbreviated
     {"command", "inputs", "keep_exif_field", "decontaminate", "format"}),
    (["watch", "in", "--once", "--quality", "80"], {"command", "inbox", "once", "quality"}),
])
def test_start_records_which_options_the_user_really_typed(home, argv, typed):
    args = cli.build_parser().parse_args(argv)
    assert controls.start(args, argv, cli.build_parser).explicit == typed
