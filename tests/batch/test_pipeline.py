import errno
import logging
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.batch.pipeline import Job, MaskOptions, cut_image, matte, render_fixed, run_batch, write_output
from app.core import qa
from app.core.compose import Cutout
from app.core.decode import open_image
from app.core.export import ExportSettings
from app.core.versions import versioned
from tests.fakes import FakeEngine, finish_within, photo


def _jobs(tmp_path, names):
    jobs = []
    for name in names:
        src = tmp_path / "in" / name
        if not src.exists():
            photo(src)
        jobs.append(Job(src, tmp_path / "out" / (src.stem + ".png"), name))
    return jobs


def test_batch_writes_every_good_file_and_reports_bad_ones_by_name(tmp_path):
    jobs = _jobs(tmp_path, ["a.jpg", "b.jpg"])
    bad = tmp_path / "in" / "bad.jpg"
    bad.write_text("this is text, not a JPEG")
    jobs.insert(1, Job(bad, tmp_path / "out" / "bad.png", "bad.jpg"))
    results = {r.label: r for r in run_batch(FakeEngine(), jobs, ExportSettings())}
    assert results["a.jpg"].status == results["b.jpg"].status == "written"
    assert results["bad.jpg"].status == "failed"
    assert results["bad.jpg"].code == "not_an_image"
    assert not (tmp_path / "out" / "bad.png").exists()
    with Image.open(tmp_path / "out" / "a.png") as out:
        assert out.mode == "RGBA"
        alpha = np.asarray(out.getchannel("A"))
    assert alpha[32, 48] == 255 and alpha[2, 2] == 0


def test_two_views_run_the_photo_and_its_mirror_image_as_one_batch_and_keep_the_subject(tmp_path):
    engine = FakeEngine()
    results = list(run_batch(engine, _jobs(tmp_path, ["a.jpg", "b.jpg"]), ExportSettings(views=2)))
    assert [r.status for r in results] == ["written", "written"]
    assert engine.batch_sizes == [2, 2] and engine.max_active == 1
    with Image.open(tmp_path / "out" / "a.png") as out:
        alpha = np.asarray(out.getchannel("A"))
    assert alpha[32, 48] == 255 and alpha[2, 2] == 0


def test_batch_keeps_input_order_and_runs_one_inference_at_a_time(tmp_path):
    names = [f"{i:02d}.png" for i in range(12)]
    engine = FakeEngine()
    results = list(run_batch(engine, _jobs(tmp_path, names), ExportSettings()))
    assert [r.label for r in results] == names
    assert engine.runs == 12 and engine.max_active == 1


def test_sources_are_never_modified(tmp_path):
    jobs = _jobs(tmp_path, ["a.jpg", "b.png"])
    before = {j.source: j.source.read_bytes() for j in jobs}
    list(run_batch(FakeEngine(), jobs, ExportSettings(format="webp")))
    assert {j.source: j.source.read_bytes() for j in jobs} == before


def test_output_equal_to_source_is_refused_not_overwritten(tmp_path):
    src = tmp_path / "a.png"
    photo(src)
    original = src.read_bytes()
    [result] = run_batch(FakeEngine(), [Job(src, src, "a.png")], ExportSettings())
    assert result.status == "failed" and result.code == "output_error"
    assert src.read_bytes() == original


def test_unwritable_output_is_a_failed_file_not_a_crash(tmp_path):
    [job] = _jobs(tmp_path, ["a.jpg"])
    blocker = tmp_path / "out"
    blocker.write_text("a file where the output folder should be")
    results = list(run_batch(FakeEngine(), [job], ExportSettings()))
    assert results[0].status == "failed" and "cannot write" in results[0].message


class _HoldsAfterFirst(FakeEngine):
    """Lets the first photo through the model; the next waits until the batch is cancelled, so how
    many are past the model when the cancel lands does not depend on how busy the machine is."""

    def __init__(self, cancel: threading.Event) -> None:
        super().__init__()
        self.cancel, self.calls = cancel, 0

    def infer(self, tensor):
        self.calls += 1
        if self.calls > 1:
            self.cancel.wait(10)
        return super().infer(tensor)


def test_cancel_stops_feeding_new_files(tmp_path):
    jobs = _jobs(tmp_path, [f"{i:02d}.png" for i in range(30)])
    cancel = threading.Event()
    seen = []
    for result in run_batch(_HoldsAfterFirst(cancel), jobs, ExportSettings(), cancel=cancel):
        seen.append(result)
        cancel.set()
    written = [r for r in seen if r.status == "written"]
    assert 1 <= len(written) <= 4  # only what was already at or past the model
    assert len(list((tmp_path / "out").glob("*.png"))) == len(written)


def test_pixel_limit_refuses_before_decoding(tmp_path):
    [job] = _jobs(tmp_path, ["a.png"])
    [result] = run_batch(FakeEngine(), [job], ExportSettings(), max_pixels=100)
    assert result.status == "failed" and result.code == "too_large"


def test_source_transparency_is_kept_in_the_matte(tmp_path):
    img = Image.new("RGBA", (40, 40), (250, 250, 250, 255))
    img.paste((250, 250, 250, 0), (0, 0, 20, 40))  # left half transparent in the source
    img.save(tmp_path / "t.png")
    alpha = np.asarray(matte(FakeEngine(), open_image(tmp_path / "t.png")))
    assert alpha[:, :20].max() == 0 and alpha[:, 25:].min() == 255


def test_cut_image_mask_only_returns_greyscale(tmp_path):
    photo(tmp_path / "a.jpg")
    out = cut_image(FakeEngine(), open_image(tmp_path / "a.jpg"), ExportSettings(mask_only=True))
    assert out.mode == "L" and out.size == (96, 64)


def test_stopping_early_leaves_no_partial_files_and_no_threads(tmp_path):
    jobs = _jobs(tmp_path, [f"{i:02d}.png" for i in range(20)])
    batch = run_batch(FakeEngine(), jobs, ExportSettings(), cancel=threading.Event())
    first = next(batch)
    batch.close()  # what a KeyboardInterrupt in the consumer does to the generator
    assert first.status == "written"
    assert not [t for t in threading.enumerate() if t.name.startswith("knockout-")]
    outputs = sorted((tmp_path / "out").iterdir())
    assert outputs and all(p.suffix == ".png" for p in outputs)  # no .part leftovers
    for p in outputs:
        with Image.open(p) as img:
            img.load()


def test_at_most_in_flight_photos_are_between_decoding_and_written(tmp_path, monkeypatch):
    import app.batch.pipeline as pipeline
    import app.batch.results as results_module

    lock, alive, peak = threading.Lock(), [0], [0]

    def decode(*args, **kwargs):
        with lock:
            alive[0] += 1
            peak[0] = max(peak[0], alive[0])
        return open_image(*args, **kwargs)

    def save(image, path, settings, exif=None):
        time.sleep(0.02)  # a slow encoder: the other stages run ahead as far as they may
        path.parent.mkdir(parents=True, exist_ok=True)
        image.save(path)
        with lock:
            alive[0] -= 1

    monkeypatch.setattr(pipeline, "open_image", decode)
    monkeypatch.setattr(results_module, "save", save)  # the writer lives in app.batch.results
    results = list(run_batch(FakeEngine(), _jobs(tmp_path, [f"{i}.png" for i in range(8)]), ExportSettings()))
    assert [r.status for r in results] == ["written"] * 8
    assert peak[0] == pipeline.IN_FLIGHT


def test_the_decoded_photo_is_freed_before_the_export_is_encoded(tmp_path, monkeypatch):
    import app.batch.pipeline as pipeline
    import app.batch.results as results_module

    decoded_photos, seen_at_encode = [], []

    def decode(*args, **kwargs):
        decoded = open_image(*args, **kwargs)
        decoded_photos.append(decoded)
        return decoded

    def save(image, path, settings, exif=None):
        try:
            decoded_photos[-1].image.getpixel((0, 0))
            seen_at_encode.append("alive")
        except ValueError:  # Pillow: "Operation on closed image"
            seen_at_encode.append("freed")
        path.parent.mkdir(parents=True, exist_ok=True)
        image.save(path)

    monkeypatch.setattr(pipeline, "open_image", decode)
    monkeypatch.setattr(results_module, "save", save)  # the writer lives in app.batch.results
    results = list(run_batch(FakeEngine(), _jobs(tmp_path, ["a.jpg"]), ExportSettings()))
    assert [r.status for r in results] == ["written"]
    assert seen_at_encode == ["freed"]
    with Image.open(tmp_path / "out" / "a.png") as out:
        assert out.mode == "RGBA" and out.size == (96, 64)


def test_refine_edges_setting_uses_the_guided_filter(tmp_path, monkeypatch):
    import app.batch.pipeline as pipeline

    calls = []
    monkeypatch.setattr(pipeline, "refine_alpha", lambda prob, photo: calls.append(photo.size) or
                        Image.new("L", photo.size, 255))
    photo(tmp_path / "a.jpg")
    out = cut_image(FakeEngine(), open_image(tmp_path / "a.jpg"), ExportSettings(refine_edges=True))
    assert calls == [(96, 64)]
    assert np.asarray(out.getchannel("A")).min() == 255


def _edge_photo(path):
    """A bright subject running along the photo's left edge, on a dark background."""
    img = Image.new("RGB", (96, 64), (20, 30, 40))
    img.paste((230, 200, 180), (0, 16, 40, 48))
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)


def test_batch_results_carry_qa_flags_for_the_final_mask(tmp_path):
    _edge_photo(tmp_path / "in" / "edge.png")
    jobs = _jobs(tmp_path, ["edge.png", "centred.png"])
    results = {r.label: r for r in run_batch(FakeEngine(), jobs, ExportSettings())}
    assert [f["code"] for f in results["edge.png"].flags] == ["touches-edge"]
    assert "left edge" in results["edge.png"].flags[0]["message"]
    assert results["centred.png"].flags == []
    assert "flags" in results["edge.png"].as_dict() and "flags" not in results["centred.png"].as_dict()


def test_qa_flags_judge_the_whole_frame_even_when_the_export_is_cropped(tmp_path):
    _edge_photo(tmp_path / "in" / "edge.png")
    [result] = run_batch(FakeEngine(), _jobs(tmp_path, ["edge.png"]), ExportSettings(crop=True))
    assert [f["code"] for f in result.flags] == ["touches-edge"]  # the crop itself touches every edge


def test_stray_specks_are_removed_by_default_and_kept_when_asked(tmp_path):
    img = Image.new("RGB", (400, 300), (20, 30, 40))
    img.paste((230, 200, 180), (100, 75, 300, 225))
    img.paste((230, 200, 180), (370, 20, 374, 24))  # a 4×4 bright speck far from the subject
    img.save(tmp_path / "a.png")
    decoded = open_image(tmp_path / "a.png")
    engine = FakeEngine(size=400)
    cleaned = np.asarray(cut_image(engine, decoded, ExportSettings(mask_only=True)))
    kept = np.asarray(cut_image(engine, decoded, ExportSettings(mask_only=True, remove_specks=False)))
    assert kept[22, 372] > 200 and cleaned[22, 372] == 0  # kept: still there (the guided edge softens it)
    assert cleaned[150, 200] == 255


def test_punch_holes_setting_clears_background_inside_the_subject(tmp_path):
    img = Image.new("RGB", (400, 300), (20, 30, 40))
    img.paste((230, 200, 180), (100, 75, 300, 225))
    img.paste((20, 30, 40), (170, 120, 230, 180))  # the background seen through a gap
    img.save(tmp_path / "a.png")
    decoded = open_image(tmp_path / "a.png")
    class FillingEngine(FakeEngine):  # a model that misses the gap: the whole rectangle is subject
        def infer(self, tensor):
            prob = np.zeros((64, 64), np.float32)
            prob[16:48, 16:48] = 1.0
            return prob

    engine = FillingEngine()
    filled = np.asarray(cut_image(engine, decoded, ExportSettings(mask_only=True)))
    punched = np.asarray(cut_image(engine, decoded, ExportSettings(mask_only=True, punch_holes=True)))
    assert filled[150, 200] > 128 and punched[150, 200] == 0
    assert punched[90, 120] == 255


def _pot_and_leaves(tmp_path, leaves=(120, 40, 280, 160)):
    """A red pot the model keeps and green leaves it drops, on a grey sweep."""
    img = Image.new("RGB", (400, 300), (200, 202, 205))
    img.paste((190, 40, 30), (150, 160, 250, 260))
    img.paste((50, 140, 40), leaves)
    img.save(tmp_path / "a.png")

    class PotOnlyEngine(FakeEngine):
        def infer(self, tensor):
            prob = np.zeros((64, 64), np.float32)
            prob[34:55, 24:40] = 1.0  # the pot's box, in the model's square
            return prob

    return PotOnlyEngine(), open_image(tmp_path / "a.png")


def test_recover_parts_setting_brings_back_a_part_dropped_from_a_plain_backdrop(tmp_path):
    engine, decoded = _pot_and_leaves(tmp_path)
    plain = np.asarray(cut_image(engine, decoded, ExportSettings(mask_only=True, auto_recover_parts=False)))
    recovered = np.asarray(cut_image(engine, decoded, ExportSettings(mask_only=True, recover_parts=True)))
    assert plain[100, 200] == 0 and recovered[100, 200] == 255
    assert recovered[20, 20] == 0 and recovered[210, 200] == plain[210, 200] == 255


def test_a_dropped_part_the_left_out_check_finds_is_brought_back_by_default(tmp_path):
    engine, decoded = _pot_and_leaves(tmp_path)
    assert qa.left_out_of(decoded.image, matte(engine, decoded, MaskOptions(auto_recover_parts=False)))
    default = np.asarray(cut_image(engine, decoded, ExportSettings(mask_only=True)))
    assert default[100, 200] == 255 and default[20, 20] == 0


def test_a_small_part_beside_the_subject_is_not_recovered_unless_asked(tmp_path):
    # a leaf of 4 % of the pot's size: below the left-out check, so the mask stays the model's
    engine, decoded = _pot_and_leaves(tmp_path, leaves=(150, 140, 170, 160))
    default = np.asarray(cut_image(engine, decoded, ExportSettings(mask_only=True)))
    asked = np.asarray(cut_image(engine, decoded, ExportSettings(mask_only=True, recover_parts=True)))
    assert default[150, 160] == 0 and asked[150, 160] == 255


def test_fixes_on_an_existing_mask_never_recover_parts_on_their_own(tmp_path):
    # the window's mask may have been touched up: a part the user erased must not come back at export
    engine, decoded = _pot_and_leaves(tmp_path)
    erased = matte(engine, decoded, MaskOptions(auto_recover_parts=False))
    exported = np.asarray(render_fixed(Cutout(decoded.image, erased), ExportSettings(mask_only=True)))
    assert exported[100, 200] == 0 and exported[210, 200] == 255


# -- a batch always ends: one odd file, a failing journal or a dead stage never hang it ----

def test_a_failure_when_a_file_starts_fails_that_file_and_the_others_are_written(tmp_path):
    jobs = _jobs(tmp_path, ["a.jpg", "b.jpg", "c.jpg"])

    def on_start(job):  # the journal's start line: a full disk, an unencodable name...
        if job.label == "b.jpg":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    results = finish_within(30, lambda: list(run_batch(FakeEngine(), jobs, ExportSettings(), on_start=on_start)))
    status = {r.label: r.status for r in results}
    assert status == {"a.jpg": "written", "b.jpg": "failed", "c.jpg": "written"}
    assert "No space left" in next(r.message for r in results if r.label == "b.jpg")
    assert not (tmp_path / "out" / "b.png").exists()


def test_a_file_that_fails_is_reported_as_explain_says_a_bug_with_a_log_reference(tmp_path, monkeypatch, caplog):
    import app.batch.pipeline as pipeline

    jobs = _jobs(tmp_path, ["a.jpg", "b.jpg"])
    real_render = pipeline._render

    def render(job, *args):
        if job.label == "b.jpg":
            raise KeyError("a bug in the render stage")
        return real_render(job, *args)

    def on_start(job):
        if job.label == "a.jpg":
            raise PermissionError(errno.EACCES, "Permission denied", str(job.source))

    monkeypatch.setattr(pipeline, "_render", render)
    with caplog.at_level(logging.ERROR, logger="knockout"):
        results = {r.label: r for r in finish_within(30, lambda: list(
            run_batch(FakeEngine(), jobs, ExportSettings(), on_start=on_start)))}
    assert results["a.jpg"].code == "io_error" and str(jobs[0].source) in results["a.jpg"].message
    bug = results["b.jpg"]
    assert bug.code == "internal_error" and "a bug in Knockout" in bug.message
    (record,) = caplog.records
    assert record.getMessage().split("[")[1].rstrip("]") in bug.message


def test_a_list_of_files_that_breaks_midway_ends_the_batch_with_a_reported_failure(tmp_path):
    jobs = _jobs(tmp_path, ["a.jpg", "b.jpg"])

    def listing():
        yield jobs[0]
        raise PermissionError(13, "Permission denied", str(tmp_path / "in"))

    results = finish_within(30, lambda: list(run_batch(FakeEngine(), listing(), ExportSettings())))
    assert [r.status for r in results if r.label == "a.jpg"] == ["written"]
    [problem] = [r for r in results if r.label != "a.jpg"]
    assert problem.status == "failed" and "Permission denied" in problem.message


class _StageDeath(BaseException):
    """Something no per-file guard catches (like a thread killed by the interpreter)."""


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the death is the point
def test_a_stage_that_dies_never_leaves_the_batch_waiting(tmp_path, monkeypatch):
    import app.batch.pipeline as pipeline

    monkeypatch.setattr(pipeline, "STOP_GRACE", 1.0, raising=False)

    def render(*args, **kwargs):
        raise _StageDeath("render stage gone")

    monkeypatch.setattr(pipeline, "_render", render)
    jobs = _jobs(tmp_path, [f"{i}.jpg" for i in range(6)])
    results = finish_within(30, lambda: list(run_batch(FakeEngine(), jobs, ExportSettings())))
    assert results and all(r.status != "written" for r in results)
    assert {r.label for r in results} <= {j.label for j in jobs}


def test_a_fifo_given_as_a_photo_fails_at_once_instead_of_blocking(tmp_path):
    jobs = _jobs(tmp_path, ["a.jpg"])
    fifo = tmp_path / "in" / "x.jpg"
    os.mkfifo(fifo)
    jobs.insert(0, Job(fifo, tmp_path / "out" / "x.png", "x.jpg"))
    results = {r.label: r for r in finish_within(30, lambda: list(run_batch(FakeEngine(), jobs, ExportSettings())))}
    assert results["x.jpg"].status == "failed" and "not a regular file" in results["x.jpg"].message
    assert results["a.jpg"].status == "written"


def test_a_cancelled_batch_gives_up_on_a_stuck_file_after_the_grace(tmp_path, monkeypatch):
    import app.batch.pipeline as pipeline

    monkeypatch.setattr(pipeline, "STOP_GRACE", 0.5, raising=False)
    stuck, release = threading.Event(), threading.Event()

    def decode(path, *args, **kwargs):
        if path.name == "stuck.jpg":  # a network share that stopped answering mid-read
            stuck.set()
            release.wait(60)
        return open_image(path, *args, **kwargs)

    monkeypatch.setattr(pipeline, "open_image", decode)
    jobs = _jobs(tmp_path, ["a.jpg", "stuck.jpg", "c.jpg"])
    cancel = threading.Event()

    def run():
        seen = []
        for result in run_batch(FakeEngine(), jobs, ExportSettings(), cancel=cancel):
            seen.append(result)
            stuck.wait(10)
            cancel.set()
        return seen

    try:
        results = finish_within(30, run)
    finally:
        release.set()
    status = {r.label: r.status for r in results}
    assert status["a.jpg"] == "written" and status["stuck.jpg"] == "cancelled"
    assert "c.jpg" not in status or status["c.jpg"] == "cancelled"


def test_a_picture_too_large_for_the_format_is_refused_before_the_model_runs(tmp_path):
    Image.new("RGB", (16500, 12), (200, 40, 40)).save(tmp_path / "pano.png")
    photo(tmp_path / "small.jpg")
    jobs = [Job(tmp_path / name, tmp_path / "out" / f"{Path(name).stem}.webp", name)
            for name in ("pano.png", "small.jpg")]
    engine = FakeEngine()
    results = {r.label: r for r in run_batch(engine, jobs, ExportSettings(format="webp"))}
    assert results["pano.png"].code == "too_large_for_format" and "16383" in results["pano.png"].message
    assert results["small.jpg"].status == "written"
    assert engine.runs == 1  # only the photo that can be written reached the model


def test_with_a_crop_the_size_is_only_known_after_the_mask_so_the_photo_is_cut_out():
    from app.core.export import planned_size

    assert planned_size((16500, 12), ExportSettings(format="webp", crop=True)) is None
    assert planned_size((16500, 12), ExportSettings(format="webp", canvas=(2000, 2000))) == (2000, 2000)
    assert planned_size((16500, 12), ExportSettings(format="webp", max_size=(4000, 4000))) == (4000, 3)


def test_a_version_written_meanwhile_by_someone_else_is_kept_and_ours_takes_the_next(tmp_path):
    versions = versioned("{stem}-{version}", {"stem": "mug"}, tmp_path, ".png")
    assert versions is not None
    job = Job(tmp_path / "mug.jpg", versions.path(versions.next_free()), "mug.jpg", versions=versions)
    (tmp_path / "mug-v1.png").write_bytes(b"another program's")  # after planning, before writing
    write_output(job, Image.new("RGBA", (4, 4)), ExportSettings(), None)
    assert job.output == tmp_path / "mug-v2.png" and job.version == "v2"
    assert (tmp_path / "mug-v1.png").read_bytes() == b"another program's"
    assert Image.open(job.output).size == (4, 4)
