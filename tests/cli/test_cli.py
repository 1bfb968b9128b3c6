import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app import cli
from app.cli import controls, options, report
from tests.fakes import finish_within, photo

REPO = Path(__file__).resolve().parents[2]


def _png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG whose header claims a huge size but carries almost no data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16))
                     + chunk(b"IEND", b""))


def test_cut_writes_outputs_and_exits_0(tmp_path, fake_engine, capsys):
    photo(tmp_path / "in" / "a.jpg")
    photo(tmp_path / "in" / "sub" / "b.jpg")
    code = cli.main(["cut", str(tmp_path / "in"), "-o", str(tmp_path / "out")])
    assert code == 0
    assert (tmp_path / "out" / "a.png").is_file() and (tmp_path / "out" / "sub" / "b.png").is_file()
    assert "2 written, 0 skipped, 0 failed" in capsys.readouterr().err


def test_bad_inputs_are_each_reported_by_name_the_rest_written_exit_1(tmp_path, fake_engine, capsys, monkeypatch):
    src = tmp_path / "in"
    photo(src / "good.jpg")
    photo(src / "café-日本.jpg")  # non-ASCII names are fine
    (src / "empty.jpg").write_bytes(b"")
    good = (src / "good.jpg").read_bytes()
    (src / "truncated.jpg").write_bytes(good[: len(good) // 2])
    (src / "text.jpg").write_text("hello, I am not a photo")
    _png_header_only(src / "huge.png", 30000, 30000)
    photo(src / "locked.jpg")
    (tmp_path / "no-images").mkdir()
    real_open = os.open

    def deny(path, *args, **kwargs):  # root can read anything, so simulate a permission problem
        if Path(path).name == "locked.jpg":
            raise PermissionError(13, "Permission denied")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", deny)  # how open_image opens a photo
    code = cli.main(["cut", str(src), str(tmp_path / "no-images"), "-o", str(tmp_path / "out"), "--json", "-q"])
    assert code == 1
    report = json.loads(capsys.readouterr().out)
    by_name = {Path(f["label"]).name: f for f in report["files"]}
    assert by_name["good.jpg"]["status"] == by_name["café-日本.jpg"]["status"] == "written"
    expected = {"empty.jpg": "empty_file", "truncated.jpg": "corrupt", "text.jpg": "not_an_image",
                "huge.png": "too_large", "locked.jpg": "unreadable", "no-images": "no_images"}
    for name, code_ in expected.items():
        assert by_name[name]["status"] == "failed", name
        assert by_name[name]["code"] == code_, name
        assert by_name[name]["message"]
    assert "30000×30000" in by_name["huge.png"]["message"]
    assert "truncated" in by_name["truncated.jpg"]["message"]
    assert sorted(p.name for p in (tmp_path / "out").glob("[!.]*")) == ["café-日本.png", "good.png"]
    assert report["summary"] == {"written": 2, "skipped": 0, "failed": 6, "seconds": report["summary"]["seconds"]}


def test_json_lists_qa_flags_per_file_and_the_summary_names_flagged_files(tmp_path, fake_engine, capsys):
    edge = Image.new("RGB", (96, 64), (20, 30, 40))
    edge.paste((230, 200, 180), (0, 16, 40, 48))  # the subject runs off the left edge
    (tmp_path / "in").mkdir()
    edge.save(tmp_path / "in" / "edge.png")
    photo(tmp_path / "in" / "clean.jpg")
    code = cli.main(["cut", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--json"])
    captured = capsys.readouterr()
    assert code == 0  # flags ask for a look; they are not failures
    files = {Path(f["label"]).name: f for f in json.loads(captured.out)["files"]}
    assert [f["code"] for f in files["edge.png"]["flags"]] == ["touches-edge"]
    assert "left edge" in files["edge.png"]["flags"][0]["message"]
    assert "flags" not in files["clean.jpg"]
    assert "1 flagged for review: " in captured.err and "edge.png (touches-edge)" in captured.err


def test_summary_names_at_most_ten_flagged_files():
    from app.batch.pipeline import Result

    results = [Result(f"{i}.jpg", f"{i}.jpg", "written", flags=[{"code": "halo", "message": "m"}]) for i in range(12)]
    line = report.flagged_summary(results)
    assert line.startswith("12 flagged for review: 0.jpg (halo), 1.jpg (halo)")
    assert "10.jpg" not in line and line.endswith("and 2 more (reasons: --json)")
    assert report.flagged_summary(results[:0]) is None


def _settings(argv):
    """The export settings ``argv`` asks for, as ``cut`` works them out (flags, preset, policy)."""
    args = cli.build_parser().parse_args(argv)
    return options.export_choice(args, controls.start(args, argv, cli.build_parser)).settings


def test_clean_up_options_reach_the_export_settings():
    default = _settings(["cut", "a.jpg"])
    asked = _settings(["cut", "a.jpg", "--punch-holes", "--keep-specks", "--recover-parts"])
    assert (default.remove_specks, default.punch_holes, default.recover_parts) == (True, False, False)
    assert (asked.remove_specks, asked.punch_holes, asked.recover_parts) == (False, True, True)


def test_automatic_recovery_of_left_out_parts_is_on_by_default_and_can_be_switched_off():
    assert _settings(["cut", "a.jpg"]).auto_recover_parts is True
    assert _settings(["cut", "a.jpg", "--no-auto-recover-parts"]).auto_recover_parts is False


def test_edge_refinement_and_decontamination_are_on_by_default_and_can_be_switched_off():
    default = _settings(["cut", "a.jpg"])
    off = _settings(["cut", "a.jpg", "--no-refine-edges", "--no-decontaminate"])
    assert (default.refine_edges, default.decontaminate) == (True, True)
    assert (off.refine_edges, off.decontaminate) == (False, False)


def test_one_view_is_the_batch_default_and_two_can_be_asked_for(capsys):
    assert _settings(["cut", "a.jpg"]).views == 1
    assert _settings(["watch", "inbox", "-o", "out"]).views == 1
    assert _settings(["cut", "a.jpg", "--views", "2"]).views == 2
    with pytest.raises(SystemExit):
        _settings(["cut", "a.jpg", "--views", "3"])
    assert "invalid choice: 3" in capsys.readouterr().err


def test_failures_are_printed_on_stderr_with_name_and_reason(tmp_path, fake_engine, capsys):
    (tmp_path / "broken.jpg").write_text("nope")
    assert cli.main(["cut", str(tmp_path / "broken.jpg"), "-o", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "FAILED" in err and "broken.jpg" in err and "not an image" in err


def test_odd_files_in_a_folder_are_named_with_a_reason_and_the_good_ones_written(tmp_path, fake_engine, capsys):
    photo(tmp_path / "in" / "a.jpg")
    (tmp_path / "in" / "loop.jpg").symlink_to("loop.jpg")
    os.mkfifo(tmp_path / "in" / "x.jpg")
    code = finish_within(60, cli.main, ["cut", str(tmp_path / "in"), "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 0 and (tmp_path / "out" / "a.png").is_file()
    assert "Traceback" not in err
    assert "loop.jpg" in err and "symlink loop" in err
    assert "x.jpg" in err and "not a regular file" in err
    assert "1 written, 2 skipped, 0 failed" in err


@pytest.mark.parametrize("argv", [
    ["cut"],
    ["cut", "x.jpg", "--format", "gif"],
    ["cut", "x.jpg", "--bg", "not-a-colour"],
    ["cut", "x.jpg", "--canvas", "big"],
    ["cut", "x.jpg", "--fill", "1.5"],
    ["cut", "x.jpg", "--overwrite", "--skip-existing"],
    ["cut", "x.jpg", "--name", "{bogus}"],
    ["frobnicate"],
])
def test_usage_errors_exit_2(argv, tmp_path, fake_engine, monkeypatch):
    monkeypatch.chdir(tmp_path)
    photo(tmp_path / "x.jpg")
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2


def test_existing_output_is_refused_by_default_and_skip_existing_exits_0(tmp_path, fake_engine):
    photo(tmp_path / "a.jpg")
    photo(tmp_path / "b" / "a.jpg", size=(50, 50))  # another source with the same output name
    out = tmp_path / "out"
    assert cli.main(["cut", str(tmp_path / "a.jpg"), "-o", str(out), "-q"]) == 0
    first = (out / "a.png").read_bytes()
    other = str(tmp_path / "b" / "a.jpg")
    assert cli.main(["cut", other, "-o", str(out), "-q"]) == 1  # a.png is not that source's output
    assert cli.main(["cut", other, "-o", str(out), "-q", "--skip-existing"]) == 0
    assert (out / "a.png").read_bytes() == first
    assert cli.main(["cut", str(tmp_path / "a.jpg"), "-o", str(out), "-q", "--overwrite", "--bg", "white"]) == 0
    with Image.open(out / "a.png") as img:
        assert img.mode == "RGB"


def test_export_options_reach_the_written_file(tmp_path, fake_engine):
    photo(tmp_path / "a.jpg", size=(200, 100))
    out = tmp_path / "out"
    argv = ["cut", str(tmp_path / "a.jpg"), "-o", str(out), "-q", "--format", "jpg", "--canvas", "300x300",
            "--fill", "0.5", "--bg", "#ff0000", "--name", "{stem}-main"]
    assert cli.main(argv) == 0
    with Image.open(out / "a-main.jpg") as img:
        assert img.size == (300, 300) and img.format == "JPEG"
        assert np.allclose(img.getpixel((2, 2)), (255, 0, 0), atol=8)


def test_mask_only_and_crop(tmp_path, fake_engine):
    photo(tmp_path / "a.png", size=(200, 100))
    out = tmp_path / "out"
    assert cli.main(["cut", str(tmp_path / "a.png"), "-o", str(out), "-q", "--mask-only", "--crop"]) == 0
    with Image.open(out / "a.png") as img:
        assert img.mode == "L"
        width, height = img.size  # the subject square only (100x50), give or take the upscaled edge
        assert abs(width - 100) <= 4 and abs(height - 50) <= 4


def test_python_dash_m_app_runs_the_cli():
    proc = subprocess.run([sys.executable, "-m", "app", "--version"], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0 and proc.stdout.startswith("knockout ")


@pytest.mark.model
def test_real_model_cuts_out_the_sample_through_the_console_script(tmp_path):
    """Integration: the installed `knockout` entry point, the real model, a real photo."""
    exe = Path(sys.executable).with_name("knockout")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "app"]
    sample = REPO / "app" / "assets" / "sample-coffee.jpg"
    proc = subprocess.run([*cmd, "cut", str(sample), "-o", str(tmp_path), "--json", "--device", "cpu"],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONUTF8": "1"})
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["provider"].startswith("CPU")
    with Image.open(tmp_path / "sample-coffee.png") as out:
        assert out.mode == "RGBA" and out.size == (600, 400)
        alpha = np.asarray(out.getchannel("A"))
    assert alpha[200, 280] > 250  # the cup
    assert alpha[:15, :15].max() < 5 and alpha[-15:, -15:].max() < 5  # background corners
    assert 0.25 < (alpha > 127).mean() < 0.8


@pytest.mark.parametrize("template", ["{stem:>100000}", "{stem.__class__}", "{stem:{name}}"])
def test_a_name_template_beyond_a_file_name_is_a_usage_error(tmp_path, fake_engine, capsys, template):
    photo(tmp_path / "a.jpg")
    with pytest.raises(SystemExit) as exited:
        cli.main(["cut", str(tmp_path / "a.jpg"), "-o", str(tmp_path / "out"), "--name", template])
    assert exited.value.code == cli.EXIT_USAGE and "template" in capsys.readouterr().err
    assert fake_engine.runs == 0 and not (tmp_path / "out").exists()


def test_with_no_model_asked_the_cli_uses_the_variant_measured_fastest_here(monkeypatch):
    from app.inference import variants

    asked = []

    def choose(catalogue, chosen, device, *rest, **kw):
        asked.append(chosen)
        return variants.Choice(chosen or "isnet-medium", variants.NOTE if chosen is None else None)

    monkeypatch.setattr(variants, "choose", choose)
    picked = options.engine_for(cli.build_parser().parse_args(["cut", "a.jpg"]))
    named = options.engine_for(cli.build_parser().parse_args(["cut", "a.jpg", "--model", "isnet-medium-int8"]))
    assert asked == [None, "isnet-medium-int8"]
    assert (picked.spec.id, named.spec.id) == ("isnet-medium", "isnet-medium-int8")


def test_a_versioned_name_run_twice_writes_v1_then_v2_and_audits_each(tmp_path, fake_engine, monkeypatch):
    from app import paths

    monkeypatch.setattr(paths, "user_data_dir", lambda: tmp_path / "data")
    photo(tmp_path / "photo.jpg")
    argv = ["cut", str(tmp_path / "photo.jpg"), "-o", str(tmp_path / "out"), "--name", "{stem}-{version}", "-q",
            "--audit"]
    assert cli.main(argv) == 0
    first = (tmp_path / "out" / "photo-v1.png").read_bytes()
    assert cli.main(argv) == 0  # not skipped as done, not refused as existing: a new version
    assert sorted(p.name for p in (tmp_path / "out").glob("[!.]*")) == ["photo-v1.png", "photo-v2.png"]
    assert (tmp_path / "out" / "photo-v1.png").read_bytes() == first
    log = (tmp_path / "data" / "audit" / "exports.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["version"] for line in log] == ["v1", "v2"]
    assert cli.main(["cut", str(tmp_path / "photo.jpg"), "-o", str(tmp_path / "out"), "-q", "--audit",
                     "--name", "{stem}", "--overwrite"]) == 0
    assert json.loads((tmp_path / "data" / "audit" / "exports.jsonl").read_text().splitlines()[-1])["version"] is None


def test_cut_json_reports_a_poor_source_and_an_upscale_with_reasons_and_scores(tmp_path, fake_engine, capsys):
    src = tmp_path / "in"
    src.mkdir()
    shot = Image.new("RGB", (1600, 1200), (20, 30, 40))
    shot.paste((230, 200, 180), (400, 300, 1200, 900))
    shot.resize((800, 600)).save(src / "forwarded.jpg", quality=35)  # a messaging app's copy
    Image.new("RGB", (900, 900), (230, 200, 180)).save(src / "tiny.png")  # the subject fills the photo
    code = cli.main(["cut", str(src), "-o", str(tmp_path / "out"), "--format", "jpg", "--canvas", "2000x2000",
                     "--fill", "1", "--json", "-q"])
    assert code == 0
    files = {Path(f["label"]).name: f for f in json.loads(capsys.readouterr().out)["files"]}
    forwarded, tiny = files["forwarded.jpg"], files["tiny.png"]
    recompressed = next(f for f in forwarded["flags"] if f["code"] == "recompressed")
    assert "messaging app" in recompressed["message"] and "quality about 35" in recompressed["message"]
    assert forwarded["source_score"] < 50  # recompressed hard and enlarged too
    upscaled = next(f for f in tiny["flags"] if f["code"] == "upscaled")
    assert upscaled["message"].startswith("Upscaled 2.2×") and "900×900 px" in upscaled["message"]
    assert tiny["source_score"] < 70


def test_cut_with_a_preset_refusing_upscales_fails_that_photo_with_the_reason(tmp_path, config_dirs, fake_engine,
                                                                             capsys):
    from app import paths

    paths.user_presets_dir().mkdir(parents=True)
    (paths.user_presets_dir() / "shop.json").write_text(json.dumps({
        "knockout_preset": 2, "id": "shop", "label": "Shop",
        "export": {"format": "jpg", "background": "white", "canvas": [2000, 2000], "fill": 1.0},
        "source_checks": {"max_upscale": 1.5, "refuse_upscale": True}}), encoding="utf-8")
    src = tmp_path / "in"
    src.mkdir()
    Image.new("RGB", (900, 900), (230, 200, 180)).save(src / "tiny.png")
    code = cli.main(["cut", str(src), "-o", str(tmp_path / "out"), "--preset", "shop", "--json", "-q"])
    assert code == 1
    [tiny] = json.loads(capsys.readouterr().out)["files"]
    assert tiny["status"] == "failed" and tiny["code"] == "upscale_refused"
    assert "refuses to enlarge a photo more than 1.5× and this one would be upscaled at least 2.2×" in tiny["message"]
    assert not list((tmp_path / "out").glob("tiny*"))
    assert fake_engine.runs == 0  # even the whole photo is too small: refused before the model runs
