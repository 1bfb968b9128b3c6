"""Documents: edits with undo/redo, pictures for the page, and memory residency."""

import io
import os
import stat

import numpy as np
import pytest
from PIL import EpsImagePlugin, Image, ImageFile

from app.core import errors
from app.core.brush import Stroke
from app.core.decode import open_image
from app.core.errors import NotFound, NotReady
from app.desktop.document import TILE, Document
from app.desktop.residency import Residency
from tests.fakes import photo
from tests.imaging_fixtures import camera_exif, png_header_only


def _finished(tmp_path, size=(1200, 900), name="a.jpg"):
    photo(tmp_path / name, size=size)
    doc = Document(name, tmp_path / name, name, tmp_path)
    decoded = open_image(doc.path)
    alpha = Image.new("L", size, 0)
    alpha.paste(255, (size[0] // 4, size[1] // 4, 3 * size[0] // 4, 3 * size[1] // 4))
    doc.attach(decoded, alpha, [])
    return doc


def _decode(payload):
    return Image.open(io.BytesIO(payload))


def test_attach_marks_done_or_flagged(tmp_path):
    doc = _finished(tmp_path)
    assert doc.state == "done" and doc.progress == 1.0 and (doc.width, doc.height) == (1200, 900)
    photo(tmp_path / "b.jpg")
    flagged = Document("b", tmp_path / "b.jpg", "b.jpg", tmp_path)
    flagged.attach(open_image(flagged.path), Image.new("L", (96, 64), 255),
                   [{"code": "touches-edge", "message": "touches"}])
    assert flagged.state == "flagged"


def test_stroke_undo_redo_round_trip(tmp_path):
    doc = _finished(tmp_path)
    original = doc.alpha().copy()
    result = doc.stroke(Stroke("erase", 30, 1.0, ((600.0, 450.0),)))
    assert result["can_undo"] and not result["can_redo"]
    assert doc.alpha()[450, 600] == 0
    undone = doc.undo()
    assert np.array_equal(doc.alpha(), original) and undone["can_redo"]
    doc.redo()
    assert doc.alpha()[450, 600] == 0
    assert doc.version == result["version"] + 2


def test_a_new_stroke_clears_redo(tmp_path):
    doc = _finished(tmp_path)
    doc.stroke(Stroke("erase", 5, 1.0, ((600.0, 450.0),)))
    doc.undo()
    state = doc.stroke(Stroke("erase", 5, 1.0, ((500.0, 400.0),)))
    assert not state["can_redo"]


def test_reset_returns_to_the_model_mask_and_is_undoable(tmp_path):
    doc = _finished(tmp_path)
    model = doc.alpha().copy()
    doc.stroke(Stroke("erase", 50, 1.0, ((600.0, 450.0),)))
    doc.reset()
    assert np.array_equal(doc.alpha(), model)
    doc.undo()
    assert doc.alpha()[450, 600] == 0


def test_edits_survive_eviction_from_memory(tmp_path):
    doc = _finished(tmp_path)
    doc.stroke(Stroke("erase", 30, 1.0, ((600.0, 450.0),)))
    assert doc.evict()
    assert doc._alpha is None and doc._rgb is None
    assert doc.alpha()[450, 600] == 0
    assert doc.rgb().size == (1200, 900)


def test_residency_keeps_only_the_most_recent_documents(tmp_path):
    keep = Residency(keep=2)
    docs = []
    for i in range(3):
        doc = _finished(tmp_path, size=(64, 64), name=f"p{i}.jpg")
        doc.residency = keep
        doc.alpha()
        docs.append(doc)
    assert docs[0]._alpha is None
    assert docs[2]._alpha is not None


def test_tiles_cover_the_level_and_are_cut_at_the_edges(tmp_path):
    doc = _finished(tmp_path, size=(1200, 900))
    assert doc.levels() == 3  # 1200 -> 600 -> 300
    body, kind = doc.tile("cutout", 0, 2, 1)
    tile = _decode(body)
    assert kind == "image/png" and tile.mode == "RGBA" and tile.size == (1200 - 2 * TILE, 900 - TILE)
    top = _decode(doc.tile("mask", 2, 0, 0)[0])
    assert top.size == (300, 225) and top.mode == "L"
    with pytest.raises(NotFound):
        doc.tile("cutout", 0, 3, 0)
    with pytest.raises(NotFound):
        doc.tile("cutout", 5, 0, 0)
    with pytest.raises(NotFound):
        doc.tile("sepia", 0, 0, 0)


def test_cutout_tile_carries_the_mask_as_alpha(tmp_path):
    doc = _finished(tmp_path, size=(1200, 900))
    tile = np.asarray(_decode(doc.tile("cutout", 0, 0, 0)[0]))
    assert tile[0, 0, 3] == 0 and tile[450, 450, 3] == 255


def test_preview_fits_in_2048_and_original_is_jpeg(tmp_path):
    doc = _finished(tmp_path, size=(3000, 1500))
    body, kind = doc.preview("original")
    assert kind == "image/jpeg" and _decode(body).size == (2048, 1024)


def test_tiles_follow_edits(tmp_path):
    doc = _finished(tmp_path)
    before = np.asarray(_decode(doc.tile("mask", 0, 1, 0)[0])).copy()
    doc.stroke(Stroke("erase", 40, 1.0, ((600.0, 300.0),)))
    after = np.asarray(_decode(doc.tile("mask", 0, 1, 0)[0]))
    assert before[300, 600 - TILE] == 255 and after[300, 600 - TILE] == 0


def test_mask_views_wait_for_the_cutout(tmp_path):
    photo(tmp_path / "q.jpg")
    doc = Document("q", tmp_path / "q.jpg", "q.jpg", tmp_path)
    with pytest.raises(NotReady):
        doc.alpha()
    assert _decode(doc.thumbnail()).size[0] <= 160  # the photo itself until then


def test_forget_deletes_session_files(tmp_path):
    doc = _finished(tmp_path)
    doc.stroke(Stroke("erase", 5, 1.0, ((600.0, 450.0),)))
    doc.evict()
    assert list(tmp_path.glob("a.jpg-*.png"))
    doc.forget()
    assert not list(tmp_path.glob("a.jpg-*.png"))


def test_reset_after_eviction_reads_the_model_mask_back(tmp_path):
    doc = _finished(tmp_path)
    model = doc.alpha().copy()
    doc.stroke(Stroke("erase", 30, 1.0, ((600.0, 450.0),)))
    assert doc.evict()
    doc.reset()
    assert np.array_equal(doc.alpha(), model)


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_spilled_masks_are_private_whatever_the_umask(tmp_path, umask_022):
    photo(tmp_path / "a.jpg", size=(120, 90))
    doc = Document("a.jpg", tmp_path / "a.jpg", "a.jpg", tmp_path / "masks")
    doc.attach(open_image(doc.path), Image.new("L", (120, 90), 255), [])
    doc.stroke(Stroke("erase", 5, 1.0, ((60.0, 45.0),)))
    assert doc.evict()
    spilled = sorted(p.name for p in (tmp_path / "masks").iterdir())
    assert spilled == ["a.jpg-mask.png", "a.jpg-model.png"]
    assert stat.S_IMODE((tmp_path / "masks").stat().st_mode) == 0o700
    for name in spilled:
        assert stat.S_IMODE((tmp_path / "masks" / name).stat().st_mode) == 0o600
    assert doc.alpha()[45, 60] == 0, "and they read back"


# -- the queued photo's thumbnail goes through the decoder's guards -------------------------


def _queued(path):
    return Document("q", path, path.name, path.parent)


def test_queued_thumbnail_refuses_an_over_limit_header_before_decoding(tmp_path, monkeypatch):
    path = tmp_path / "bomb.png"
    path.write_bytes(png_header_only(20000, 20000))  # claims 400 MP in a few hundred bytes
    loads = []

    def record_load(self):
        loads.append(self)
        raise AssertionError("pixels were decoded before the size check")

    monkeypatch.setattr(ImageFile.ImageFile, "load", record_load)
    with pytest.raises(errors.TooLarge) as caught:
        _queued(path).thumbnail()

    assert caught.value.code == "too_large" and "20000×20000" in str(caught.value)
    assert loads == []


@pytest.mark.parametrize("fmt", ["PCX", "SGI"])
def test_queued_thumbnail_refuses_formats_we_do_not_read(tmp_path, fmt):
    path = tmp_path / "photo.jpg"
    Image.new("RGB", (32, 32), (200, 10, 10)).save(path, format=fmt)

    with pytest.raises(errors.UnsupportedImage):
        _queued(path).thumbnail()


@pytest.mark.parametrize("read", ["thumbnail", "decode"])
def test_eps_named_jpg_never_reaches_pillows_eps_plugin(tmp_path, monkeypatch, read):
    path = tmp_path / "photo.jpg"
    Image.new("RGB", (32, 32), (200, 10, 10)).save(path, format="EPS")
    used = []

    def record(name):
        def call(*args, **kwargs):
            used.append(name)
            raise AssertionError(f"EPS {name} was called")
        return call

    monkeypatch.setattr(EpsImagePlugin.EpsImageFile, "_open", record("open"))
    monkeypatch.setattr(EpsImagePlugin.EpsImageFile, "load", record("load"))
    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", record("Ghostscript"))
    with pytest.raises(errors.UnsupportedImage):
        getattr(_queued(path), read)()

    assert used == []


def test_queued_thumbnail_is_small_and_upright(tmp_path):
    path = tmp_path / "turned.jpg"
    img = Image.new("RGB", (1200, 600), (20, 20, 200))
    img.paste((230, 20, 20), (0, 0, 600, 300))  # red top-left quadrant as stored
    img.save(path, quality=95, exif=camera_exif(6))  # "rotate 90° clockwise to view"

    thumb = _decode(_queued(path).thumbnail())

    assert thumb.size == (80, 160)
    assert thumb.mode == "RGB"
    red, blue = thumb.getpixel((70, 10)), thumb.getpixel((10, 150))  # stored top-left lands top-right
    assert red[0] > 180 > red[2] and blue[2] > 180 > blue[0]


def test_a_preview_can_be_painted_on_but_never_exported(tmp_path):
    photo(tmp_path / "a.jpg", size=(300, 200))
    doc = Document("d1", tmp_path / "a.jpg", "a.jpg", tmp_path)
    doc.attach_preview(open_image(doc.path), Image.new("L", (300, 200), 255))
    assert doc.has_mask and not doc.finished and doc.as_item()["preview"]
    assert doc.stroke(Stroke("erase", 10, 1.0, ((150.0, 100.0),)))["box"] is not None
    assert _decode(doc.tile("mask", 0, 0, 0)[0]).getpixel((150, 100)) == 0
    with pytest.raises(NotReady):
        doc.snapshot()



def test_a_first_look_is_sent_at_half_the_preview_size_and_the_full_answer_at_full(tmp_path):
    photo(tmp_path / "a.jpg", size=(3000, 1500))
    doc = Document("d1", tmp_path / "a.jpg", "a.jpg", tmp_path)
    decoded = open_image(doc.path)
    doc.attach_preview(decoded, Image.new("L", (3000, 1500), 255))
    assert _decode(doc.preview("cutout")[0]).size == (1024, 512)
    doc.attach(decoded, Image.new("L", (3000, 1500), 0), [])
    assert _decode(doc.preview("cutout")[0]).size == (2048, 1024)


def test_a_dropped_preview_leaves_no_mask_and_no_edits(tmp_path):
    photo(tmp_path / "a.jpg", size=(300, 200))
    doc = Document("d1", tmp_path / "a.jpg", "a.jpg", tmp_path)
    doc.attach_preview(open_image(doc.path), Image.new("L", (300, 200), 255))
    doc.stroke(Stroke("erase", 10, 1.0, ((150.0, 100.0),)))
    doc.drop_preview()
    assert not doc.has_mask and not doc.edit_state()["can_undo"]
    with pytest.raises(NotReady):
        doc.alpha()
