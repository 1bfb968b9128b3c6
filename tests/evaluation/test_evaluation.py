import csv
import dataclasses
import io
import re

import numpy as np
import pytest
from PIL import Image

from app import cli
from app.core import errors
from app.evaluation import command, pairs
from tests.fakes import FakeEngine, photo

SIZE = (96, 64)
SUBJECT = (24, 16, 72, 48)  # where tests.fakes.photo paints its bright square


class BlindEngine(FakeEngine):
    """A second 'model' that never finds anything."""

    def infer(self, tensor):
        return np.zeros_like(super().infer(tensor))


def named(engine, model_id):
    engine.spec = dataclasses.replace(engine.spec, id=model_id)
    return engine


@pytest.fixture
def engines(monkeypatch):
    """``--model`` ids map to fakes; no id gives the 'fake' default."""
    made = {None: named(FakeEngine(), "fake"), "fake": named(FakeEngine(), "fake"),
            "blind": named(BlindEngine(), "blind")}
    monkeypatch.setattr(command, "_engine", lambda model_id, args: made[model_id])
    return made


def mask(path, box=SUBJECT, size=SIZE, value=255):
    img = Image.new("L", size, 0)
    img.paste(value, box)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)


def dataset(root, names=("a", "b", "c")):
    for name in names:
        photo(root / "images" / f"{name}.png", SIZE)
        mask(root / "masks" / f"{name}.png")
    return root / "images", root / "masks"


def read_csv(path):
    return list(csv.DictReader(io.StringIO(path.read_text())))


def test_scores_every_pair_writes_one_csv_row_each_and_prints_the_mean(tmp_path, engines, capsys):
    images, masks = dataset(tmp_path)
    mask(masks / "c.png", box=(24, 16, 48, 48))  # truth is half the square: the prediction overshoots
    code = cli.main(["eval", str(images), str(masks), "--csv", str(tmp_path / "r.csv")])
    assert code == 0
    rows = {r["image"]: r for r in read_csv(tmp_path / "r.csv")}
    assert set(rows) == {"a.png", "b.png", "c.png"}
    assert all(r["model"] == "fake" and r["status"] == "ok" and r["error"] == "" for r in rows.values())
    assert float(rows["a.png"]["iou"]) > 0.95 and float(rows["a.png"]["bf"]) == 1.0
    assert float(rows["c.png"]["iou"]) == pytest.approx(0.5, abs=0.05)
    assert float(rows["c.png"]["mae"]) > float(rows["a.png"]["mae"])
    assert rows["a.png"]["width"] == "96" and rows["a.png"]["height"] == "64"
    assert rows["a.png"]["flatten_error"] == ""  # no --fg
    out = capsys.readouterr().out
    mean_iou = sum(float(r["iou"]) for r in rows.values()) / 3
    assert re.search(rf"fake\s+mean of 3\s+{mean_iou:.3f}", out)
    assert "a.png" not in out  # per-image lines only with --verbose


def test_verbose_prints_every_image(tmp_path, engines, capsys):
    images, masks = dataset(tmp_path)
    assert cli.main(["eval", str(images), str(masks), "--verbose"]) == 0
    out = capsys.readouterr().out
    assert all(re.search(rf"fake\s+{name}\s+\d\.\d{{3}}", out) for name in ("a.png", "b.png", "c.png"))


def test_several_models_give_a_row_per_image_and_model(tmp_path, engines, capsys):
    images, masks = dataset(tmp_path)
    code = cli.main(["eval", str(images), str(masks), "--model", "fake", "--model", "blind",
                     "--csv", str(tmp_path / "r.csv")])
    assert code == 0
    rows = read_csv(tmp_path / "r.csv")
    assert sorted((r["model"], r["image"]) for r in rows) == [
        (m, f"{n}.png") for m in ("blind", "fake") for n in "abc"]
    assert all(float(r["iou"]) == 0.0 for r in rows if r["model"] == "blind")
    out = capsys.readouterr().out
    assert re.search(r"fake\s+mean of 3\s+1\.000", out)
    assert re.search(r"blind\s+mean of 3\s+0\.000\s+0\.2500", out)  # misses the 48×32 subject of 96×64


def test_html_report_is_self_contained_and_shows_the_worst_images(tmp_path, engines):
    images, masks = dataset(tmp_path)
    mask(masks / "b.png", box=(24, 16, 48, 48))  # the worst one
    report = tmp_path / "report.html"
    code = cli.main(["eval", str(images), str(masks), "--html", str(report), "--worst", "1"])
    assert code == 0
    page = report.read_text()
    assert not re.search(r"https?://", page)
    assert not re.search(r"""(src|href)=["'](?!data:)""", page)  # every image is embedded
    sources = re.findall(r'<img src="(data:image/(?:png|jpeg);base64,[A-Za-z0-9+/=]+)"', page)
    assert len(sources) == 4  # photo, ground truth, prediction, error map of the one worst image
    assert "b.png" in page and "a.png" not in page


def test_ignore_band_is_left_out_of_the_scores(tmp_path, engines):
    images, masks = dataset(tmp_path, names=("a",))
    mask(masks / "a.png", box=(24, 16, 48, 48))  # truth misses the right half of the subject...
    mask(tmp_path / "ignore" / "a.png", box=(48, 16, 72, 48))  # ...which the ignore layer excludes
    args = ["eval", str(images), str(masks), "--csv", str(tmp_path / "r.csv")]
    assert cli.main(args) == 0
    without = read_csv(tmp_path / "r.csv")[0]
    assert cli.main([*args, "--ignore", str(tmp_path / "ignore")]) == 0
    with_ignore = read_csv(tmp_path / "r.csv")[0]
    assert float(without["iou"]) < 0.6
    assert float(with_ignore["iou"]) > 0.95
    assert float(with_ignore["mae"]) < float(without["mae"]) / 5


def test_true_foreground_layer_adds_the_edge_flatten_error(tmp_path, engines, capsys):
    images, masks = dataset(tmp_path, names=("a",))
    mask(masks / "a.png", value=128)  # a half-transparent subject: all of it is edge band
    Image.new("RGB", SIZE, (230, 200, 180)).save(tmp_path / "a.png")
    (tmp_path / "fg").mkdir()
    (tmp_path / "a.png").rename(tmp_path / "fg" / "a.png")
    code = cli.main(["eval", str(images), str(masks), "--fg", str(tmp_path / "fg"), "--csv", str(tmp_path / "r.csv")])
    assert code == 0
    row = read_csv(tmp_path / "r.csv")[0]
    # the fake predicts the subject fully opaque where the truth is half: the flatten shows the
    # subject colour instead of its mix with white, about (255 - c) / 2 per channel inside
    assert 5 < float(row["flatten_error"]) < 40
    assert "flatten" in capsys.readouterr().out


def test_flatten_error_is_of_the_colours_cut_would_export(tmp_path, engines, monkeypatch):
    """With decontamination (cut's default) the flatten uses the estimated subject colours."""
    images, masks = dataset(tmp_path, names=("a",))
    mask(masks / "a.png", value=128)
    true_colour = (230, 200, 180)
    Image.new("RGB", SIZE, true_colour).save(tmp_path / "a.png")
    (tmp_path / "fg").mkdir()
    (tmp_path / "a.png").rename(tmp_path / "fg" / "a.png")
    seen = []

    def perfect(rgb, alpha):  # stands in for app.core.decontaminate: recovers the true colour
        seen.append(alpha.size)
        return Image.new("RGB", rgb.size, true_colour)

    monkeypatch.setattr(command, "estimate_foreground", perfect)
    errors = {}
    for flag in ("--decontaminate", "--no-decontaminate"):
        out = tmp_path / f"{flag}.csv"
        assert cli.main(["eval", str(images), str(masks), "--fg", str(tmp_path / "fg"), "--csv", str(out), flag]) == 0
        errors[flag] = float(read_csv(out)[0]["flatten_error"])
    assert seen == [SIZE]  # called once: only with --decontaminate
    assert errors["--decontaminate"] < errors["--no-decontaminate"]


def test_no_matching_pairs_is_a_usage_error(tmp_path, engines, capsys):
    photo(tmp_path / "images" / "a.png", SIZE)
    mask(tmp_path / "masks" / "other.png")
    assert cli.main(["eval", str(tmp_path / "images"), str(tmp_path / "masks")]) == 2
    err = capsys.readouterr().err
    assert "no photo" in err and "a.png" in err  # the unmatched photo is named


def test_missing_folder_is_a_usage_error(tmp_path, engines, capsys):
    images, masks = dataset(tmp_path, names=("a",))
    assert cli.main(["eval", str(images), str(tmp_path / "nope")]) == 2
    assert "MASKS" in capsys.readouterr().err
    assert cli.main(["eval", str(images), str(masks), "--ignore", str(tmp_path / "nope")]) == 2


def test_photos_without_masks_are_reported_and_skipped(tmp_path, engines, capsys):
    images, masks = dataset(tmp_path, names=("a",))
    photo(images / "lonely.png", SIZE)
    assert cli.main(["eval", str(images), str(masks), "--csv", str(tmp_path / "r.csv")]) == 0
    assert [r["image"] for r in read_csv(tmp_path / "r.csv")] == ["a.png"]
    assert "1 photo(s) without a mask" in capsys.readouterr().err


def test_unreadable_photo_or_mismatched_mask_fails_that_pair_only_exit_1(tmp_path, engines, capsys):
    images, masks = dataset(tmp_path, names=("good", "broken", "small"))
    data = (images / "broken.png").read_bytes()
    (images / "broken.png").write_bytes(data[: len(data) // 2])
    mask(masks / "small.png", size=(48, 32), box=(0, 0, 10, 10))
    code = cli.main(["eval", str(images), str(masks), "--csv", str(tmp_path / "r.csv"),
                     "--html", str(tmp_path / "r.html")])
    assert code == 1
    rows = {r["image"]: r for r in read_csv(tmp_path / "r.csv")}
    assert rows["good.png"]["status"] == "ok"
    assert rows["broken.png"]["status"] == "failed" and rows["broken.png"]["error"].startswith("corrupt")
    assert rows["small.png"]["status"] == "failed" and "48×32" in rows["small.png"]["error"]
    assert str(masks / "small.png") in rows["small.png"]["error"]  # says which layer is wrong
    assert rows["broken.png"]["iou"] == ""
    err = capsys.readouterr().err
    assert "FAILED broken.png" in err and "FAILED small.png" in err
    assert "broken.png" in (tmp_path / "r.html").read_text()  # listed under Failed


def test_unknown_model_fails_before_any_photo(tmp_path, capsys):
    images, masks = dataset(tmp_path, names=("a",))
    assert cli.main(["eval", str(images), str(masks), "--model", "no-such-model"]) == 1
    assert "unknown model 'no-such-model'" in capsys.readouterr().err


def test_masks_are_read_as_stored_16_bit_scaled_to_8(tmp_path):
    wide = np.array([[0, 32768, 65535]], dtype=np.uint16)
    Image.fromarray(wide).save(tmp_path / "m.png")
    assert pairs.load_mask(tmp_path / "m.png", (3, 1)).tolist() == [[0, 128, 255]]
    Image.fromarray(np.array([[0, 7, 255]], dtype=np.uint8), "L").save(tmp_path / "l.png")
    assert pairs.load_mask(tmp_path / "l.png", (3, 1)).tolist() == [[0, 7, 255]]
    with pytest.raises(pairs.SizeMismatch):
        pairs.load_mask(tmp_path / "l.png", (4, 1))


@pytest.mark.parametrize("fmt", ["PCX", "EPS"])
def test_masks_go_through_the_decoders_format_guard(tmp_path, fmt):
    # A mask is a user's file like the photo: formats we do not read (PostScript!) are refused.
    path = tmp_path / "m.png"
    Image.new("L", (8, 8), 255).save(path, format=fmt)
    with pytest.raises(errors.UnsupportedImage) as caught:
        pairs.load_mask(path, (8, 8))
    assert fmt in str(caught.value) and caught.value.path == str(path)


def test_damaged_mask_is_a_typed_error(tmp_path):
    path = tmp_path / "m.png"
    Image.new("L", (64, 64), 128).save(path)
    path.write_bytes(path.read_bytes()[:-30])  # cut inside the pixel data
    with pytest.raises(errors.CorruptImage):
        pairs.load_mask(path, (64, 64))


def test_worst_0_writes_the_summary_page_without_thumbnails(tmp_path, engines):
    images, masks = dataset(tmp_path, names=("a",))
    assert cli.main(["eval", str(images), str(masks), "--html", str(tmp_path / "r.html"), "--worst", "0"]) == 0
    page = (tmp_path / "r.html").read_text()
    assert "<img" not in page
    assert "<td>fake</td><td>1</td><td>0</td>" in page  # model, images, failed


def test_unwritable_report_path_is_reported_exit_1(tmp_path, engines, capsys):
    images, masks = dataset(tmp_path, names=("a",))
    (tmp_path / "file").write_text("x")
    assert cli.main(["eval", str(images), str(masks), "--csv", str(tmp_path / "file" / "r.csv")]) == 1
    assert "cannot write" in capsys.readouterr().err
