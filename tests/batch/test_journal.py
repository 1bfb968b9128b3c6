import errno
import hashlib
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from app import cli
from app.batch.journal import JOURNAL_NAME, Journal, JournalError, header_for, remove_stale_parts
from app.batch.pipeline import Job, Result
from app.core.errors import OutputError
from app.core.export import ExportSettings
from tests import onnx_graphs
from tests.fakes import finish_within, photo

REPO = Path(__file__).resolve().parents[2]


def _cut(src: Path, out: Path, *extra: str) -> int:
    return cli.main(["cut", str(src), "-o", str(out), "-q", *extra])


def _records(out: Path, kind: str) -> list[dict]:
    lines = (out / JOURNAL_NAME).read_text(encoding="utf-8").splitlines()
    return [r for r in map(json.loads, lines) if r["kind"] == kind]


def test_journal_starts_with_the_settings_then_one_done_line_per_file(tmp_path, fake_engine):
    photo(tmp_path / "in" / "a.jpg")
    photo(tmp_path / "in" / "sub" / "b.jpg")
    assert _cut(tmp_path / "in", tmp_path / "out", "--format", "webp") == 0
    header = _records(tmp_path / "out", "header")[0]
    assert header["model"] == "fake" and header["settings"]["format"] == "webp"
    done = {r["output"]: r for r in _records(tmp_path / "out", "done")}
    assert set(done) == {"a.webp", "sub/b.webp"}
    b = done["sub/b.webp"]
    assert b["status"] == "written"
    assert b["source"] == str((tmp_path / "in" / "sub" / "b.jpg").resolve())
    assert b["size"] == (tmp_path / "in" / "sub" / "b.jpg").stat().st_size
    assert b["output_size"] == (tmp_path / "out" / "sub" / "b.webp").stat().st_size


def test_rerun_skips_recorded_outputs_and_redoes_deleted_ones(tmp_path, fake_engine, capsys):
    for name in ("a", "b", "c"):
        photo(tmp_path / "in" / f"{name}.jpg")
    out = tmp_path / "out"
    assert _cut(tmp_path / "in", out) == 0
    kept = (out / "a.png").stat().st_mtime_ns
    (out / "b.png").unlink()
    capsys.readouterr()
    assert cli.main(["cut", str(tmp_path / "in"), "-o", str(out), "--json", "-q"]) == 0
    report = json.loads(capsys.readouterr().out)
    status = {Path(f["label"]).name: f["status"] for f in report["files"]}
    assert status == {"a.jpg": "skipped", "b.jpg": "written", "c.jpg": "skipped"}
    assert fake_engine.runs == 4
    assert (out / "a.png").stat().st_mtime_ns == kept
    assert (out / "b.png").is_file()


def test_resuming_with_other_settings_is_a_usage_error_unless_overwrite(tmp_path, fake_engine, capsys):
    photo(tmp_path / "in" / "a.jpg")
    out = tmp_path / "out"
    assert _cut(tmp_path / "in", out) == 0
    with pytest.raises(SystemExit) as exc:
        _cut(tmp_path / "in", out, "--bg", "white")
    assert exc.value.code == 2
    assert "other settings" in capsys.readouterr().err
    assert _cut(tmp_path / "in", out, "--bg", "white", "--overwrite") == 0
    with Image.open(out / "a.png") as img:
        assert img.mode == "RGB"
    assert _records(out, "header")[0]["settings"]["background"] == [255, 255, 255]


def test_an_interrupted_overwrite_batch_resumes_and_a_finished_one_is_redone(tmp_path, fake_engine):
    for name in ("a", "b", "c"):
        photo(tmp_path / "in" / f"{name}.jpg")
    out = tmp_path / "out"
    assert _cut(tmp_path / "in", out) == 0
    assert _cut(tmp_path / "in", out, "--overwrite", "--bg", "white") == 0
    assert fake_engine.runs == 6
    journal = out / JOURNAL_NAME  # now pretend that run died before its end and before writing c
    lines = journal.read_text().splitlines()
    assert json.loads(lines[-1])["kind"] == "end"
    kept = [line for line in lines[:-1] if '"c.png"' not in line or '"start"' in line]
    journal.write_text("\n".join(kept) + "\n")
    assert _cut(tmp_path / "in", out, "--overwrite", "--bg", "white") == 0
    assert fake_engine.runs == 7  # only c redone
    assert _cut(tmp_path / "in", out, "--overwrite", "--bg", "white") == 0
    assert fake_engine.runs == 10  # a finished batch with --overwrite starts afresh


def test_other_settings_are_accepted_when_no_output_of_the_old_batch_remains(tmp_path, fake_engine):
    photo(tmp_path / "in" / "a.jpg")
    out = tmp_path / "out"
    assert _cut(tmp_path / "in", out) == 0
    (out / "a.png").unlink()
    assert _cut(tmp_path / "in", out, "--format", "webp") == 0
    assert (out / "a.webp").is_file()


def test_an_output_written_but_not_recorded_before_a_crash_is_redone_not_refused(tmp_path, fake_engine):
    photo(tmp_path / "in" / "a.jpg")
    photo(tmp_path / "in" / "b.jpg")
    out = tmp_path / "out"
    assert _cut(tmp_path / "in", out) == 0
    # The crash: b.png was renamed into place, its done line never reached the journal.
    journal = out / JOURNAL_NAME
    lines = journal.read_text().splitlines()
    last_done = max(i for i, line in enumerate(lines) if '"done"' in line)
    redo = json.loads(lines[last_done])["output"]
    journal.write_text("\n".join(lines[:last_done] + lines[last_done + 1:]) + "\n")
    stale = out / f".{redo}.k3x_9abc.part"
    stale.write_bytes(b"half a png")
    runs = fake_engine.runs
    assert _cut(tmp_path / "in", out) == 0
    assert fake_engine.runs == runs + 1
    assert not stale.exists()
    assert {r["output"] for r in _records(out, "done")} == {"a.png", "b.png"}


def test_a_changed_source_or_a_damaged_output_is_redone(tmp_path, fake_engine):
    photo(tmp_path / "in" / "a.jpg")
    photo(tmp_path / "in" / "b.jpg")
    out = tmp_path / "out"
    assert _cut(tmp_path / "in", out) == 0
    photo(tmp_path / "in" / "a.jpg", size=(120, 80))  # a new version of the source
    (out / "b.png").write_bytes((out / "b.png").read_bytes()[:20])  # damaged output
    assert _cut(tmp_path / "in", out) == 0
    assert fake_engine.runs == 4
    with Image.open(out / "a.png") as a, Image.open(out / "b.png") as b:
        assert a.size == (120, 80)
        b.load()


def test_an_output_the_journal_did_not_write_is_still_refused(tmp_path, fake_engine, capsys):
    photo(tmp_path / "in" / "a.jpg")
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.png").write_bytes(b"someone else's file")
    assert _cut(tmp_path / "in", out) == 1
    assert "already exists" in capsys.readouterr().err
    assert (out / "a.png").read_bytes() == b"someone else's file"


def test_a_torn_last_line_is_ignored_and_later_records_stay_readable(tmp_path, fake_engine):
    photo(tmp_path / "in" / "a.jpg")
    photo(tmp_path / "in" / "b.jpg")
    out = tmp_path / "out"
    assert _cut(tmp_path / "in" / "a.jpg", out) == 0
    with open(out / JOURNAL_NAME, "a") as fh:
        fh.write('{"kind": "done", "source": "/x", "si')  # died mid-write
    assert _cut(tmp_path / "in", out) == 0
    assert {r["output"] for r in _records_tolerant(out)} == {"a.png", "b.png"}
    assert _cut(tmp_path / "in", out) == 0
    assert fake_engine.runs == 2


def _records_tolerant(out: Path) -> list[dict]:
    found = []
    for line in (out / JOURNAL_NAME).read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record["kind"] == "done":
            found.append(record)
    return found


def test_a_second_run_on_a_busy_output_folder_is_refused(tmp_path):
    header = header_for(ExportSettings(), "fake", "{stem}")
    with Journal.open(tmp_path / "out", header), pytest.raises(JournalError, match="another knockout run"):
        Journal.open(tmp_path / "out", header)
    Journal.open(tmp_path / "out", header).close()  # free again once the first is closed


def test_only_our_temporary_names_are_removed(tmp_path):
    ours = [tmp_path / ".a.png.abcd_123.part", tmp_path / "sub" / ".b c.webp.zz99zz99.part"]
    theirs = [tmp_path / "a.png.part", tmp_path / ".notes.txt.abcd1234.part", tmp_path / "a.png"]
    for path in ours + theirs:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    assert remove_stale_parts(tmp_path) == 2
    assert not any(p.exists() for p in ours) and all(p.exists() for p in theirs)


def test_failed_files_are_recorded_and_retried_on_the_next_run(tmp_path, fake_engine):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "bad.jpg").write_text("not a photo")
    out = tmp_path / "out"
    assert _cut(tmp_path / "in", out) == 1
    assert [r["status"] for r in _records(out, "done")] == ["failed"]
    photo(tmp_path / "in" / "bad.jpg")  # fixed
    assert _cut(tmp_path / "in", out) == 0
    assert (out / "bad.png").is_file()


def test_resume_keeps_plan_results_that_are_not_about_existing_outputs(tmp_path):
    header = header_for(ExportSettings(), "fake", "{stem}")
    early = [Result("x", "x", "failed", code="no_images", message="no image files")]
    jobs = [Job(tmp_path / "a.jpg", tmp_path / "out" / "a.png", "a.jpg")]
    with Journal.open(tmp_path / "out", header) as journal:
        assert journal.resume(jobs, early) == (jobs, early)


# -- a shared output folder: the journal is ours, private, and never a link -------------

def test_a_journal_that_is_a_symlink_is_refused_and_its_target_left_alone(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("the next user's notes\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / JOURNAL_NAME).symlink_to(victim)
    with pytest.raises(JournalError, match="symbolic link") as exc:
        Journal.open(out, header_for(ExportSettings(), "fake", "{stem}"))
    assert str(out / JOURNAL_NAME) in str(exc.value)
    assert victim.read_text() == "the next user's notes\n"


def test_cut_into_a_folder_whose_journal_is_a_symlink_is_a_usage_error_and_harms_nothing(
        tmp_path, fake_engine, capsys):
    photo(tmp_path / "photo.jpg")
    victim = tmp_path / "victim.txt"
    victim.write_text("the next user's notes\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / JOURNAL_NAME).symlink_to(victim)
    with pytest.raises(SystemExit) as exc:
        cli.main(["cut", str(tmp_path / "photo.jpg"), "-o", str(out), "-q"])
    assert exc.value.code == cli.EXIT_USAGE
    assert victim.read_text() == "the next user's notes\n"
    assert str(out / JOURNAL_NAME) in capsys.readouterr().err
    assert not (out / "photo.png").exists() and fake_engine.runs == 0


def test_a_journal_that_is_not_a_regular_file_is_refused_without_blocking(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    os.mkfifo(out / JOURNAL_NAME)
    header = header_for(ExportSettings(), "fake", "{stem}")
    with pytest.raises(JournalError, match="not a regular file"):
        finish_within(20, Journal.open, out, header)


def test_the_journal_is_created_readable_by_its_owner_only(tmp_path):
    with Journal.open(tmp_path / "out", header_for(ExportSettings(), "fake", "{stem}")):
        pass
    assert (tmp_path / "out" / JOURNAL_NAME).stat().st_mode & 0o777 == 0o600


# -- any file name, and a full disk --------------------------------------------------------

NOT_UTF8 = os.fsdecode(b"caf\xe9-\xff.jpg")  # a Latin-1 name copied from an old share


def test_a_file_name_that_is_not_utf8_is_journaled_and_a_rerun_skips_it(tmp_path, fake_engine):
    photo(tmp_path / "in" / NOT_UTF8)
    photo(tmp_path / "in" / "b.jpg")
    out = tmp_path / "out"
    assert finish_within(60, _cut, tmp_path / "in", out) == 0
    assert (out / os.fsdecode(b"caf\xe9-\xff.png")).is_file() and (out / "b.png").is_file()
    (out / JOURNAL_NAME).read_text(encoding="utf-8")  # still a valid UTF-8 text file
    sources = {Path(r["source"]).name for r in _records(out, "done") if r["status"] == "written"}
    assert sources == {NOT_UTF8, "b.jpg"}
    assert finish_within(60, _cut, tmp_path / "in", out) == 0
    assert fake_engine.runs == 2  # both done in the earlier run


def _fail_journal_sync_for(out: Path, name: str, monkeypatch) -> None:
    """The disk fills up just as the journal's start line for ``name`` is made durable."""
    real = os.fsync
    journal = out / JOURNAL_NAME

    def fsync(fd: int) -> None:
        if os.path.samestat(os.fstat(fd), os.stat(journal)):
            last = journal.read_text(encoding="utf-8", errors="replace").splitlines()[-1]
            if '"start"' in last and name in last:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)


def test_a_full_disk_while_journaling_a_file_fails_that_file_and_the_batch_ends(
        tmp_path, fake_engine, capsys, monkeypatch):
    for name in ("a", "b", "c"):
        photo(tmp_path / "in" / f"{name}.jpg")
    out = tmp_path / "out"
    out.mkdir()
    Journal.open(out, header_for(ExportSettings(), "fake", "{stem}")).close()
    _fail_journal_sync_for(out, "b.jpg", monkeypatch)
    assert finish_within(60, cli.main, ["cut", str(tmp_path / "in"), "-o", str(out), "--json", "-q"]) == 1
    files = {Path(f["label"]).name: f for f in json.loads(capsys.readouterr().out)["files"]}
    assert files["a.jpg"]["status"] == files["c.jpg"]["status"] == "written"
    assert files["b.jpg"]["status"] == "failed"
    assert "journal" in files["b.jpg"]["message"] and "No space left" in files["b.jpg"]["message"]
    assert not (out / "b.png").exists()


def test_a_journal_write_that_failed_midway_leaves_the_next_records_readable(tmp_path, monkeypatch):
    from app.batch import journal as journal_module

    src = tmp_path / "a.jpg"
    photo(src)
    out = tmp_path / "out"
    header = header_for(ExportSettings(), "fake", "{stem}")
    real_write = os.write
    with Journal.open(out, header) as journal:
        def torn(fd: int, data: bytes) -> int:  # half the line reaches the disk, then it is full
            monkeypatch.setattr(journal_module.os, "write", real_write)
            real_write(fd, bytes(data)[: len(data) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        monkeypatch.setattr(journal_module.os, "write", torn)
        job = Job(src, out / "a.png", "a.jpg")
        with pytest.raises(OutputError, match="No space left"):
            journal.started(job)
        journal.started(job)  # space was freed: the same file starts again
        (out / "a.png").write_bytes(src.read_bytes())
        journal.record(Result("a.jpg", str(src), "written", output=str(out / "a.png")))
    with Journal.open(out, header) as journal:
        assert journal.is_done(src)


# -- crash test: a real `python -m app cut` killed at random points -----------------------

def _tiny_model_env(tmp_path: Path) -> dict[str, str]:
    """An environment whose user model folder holds the tiny ISNet-style graph."""
    data = tmp_path / "xdg"
    onnx_graphs.install(data / "Knockout" / "models", [onnx_graphs.isnet()], source="user")
    return {**os.environ, "XDG_DATA_HOME": str(data), "PYTHONPATH": str(REPO)}


def _done_lines(journal: Path) -> int:
    try:
        return journal.read_bytes().count(b'"kind": "done"')
    except FileNotFoundError:
        return 0


@pytest.mark.slow
def test_a_batch_killed_repeatedly_finishes_with_every_output_once_and_intact(tmp_path):
    env = _tiny_model_env(tmp_path)
    src, out = tmp_path / "src", tmp_path / "out"
    expected = set()
    for i in range(60):
        rel = Path(f"set{i % 3}") / f"sku{i:03d}.jpg"
        photo(src / rel, size=(640 + i, 480))
        expected.add(rel.with_suffix(".png"))
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in src.rglob("*.jpg")}
    cmd = [sys.executable, "-m", "app", "cut", str(src), "-o", str(out), "--model", "tiny-isnet",
           "-q", "--threads", "1"]
    rng = random.Random(20261127)
    kills = 0
    for _ in range(6):
        target = _done_lines(out / JOURNAL_NAME) + rng.randint(1, 12)  # kill after this much progress
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        while proc.poll() is None and _done_lines(out / JOURNAL_NAME) < target:
            time.sleep(0.005)
        time.sleep(rng.uniform(0, 0.02))  # land anywhere: mid-decode, mid-encode, mid-rename, mid-journal
        if proc.poll() is None:
            proc.kill()
            kills += 1
        proc.wait()
        proc.stderr.close()
    unfinished = len(expected) - sum(1 for rel in expected if (out / rel).exists())
    final = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert final.returncode == 0, final.stderr
    assert kills >= 3 and unfinished > 0  # the batch really was interrupted, and resumed

    produced = {p.relative_to(out) for p in out.rglob("*") if p.is_file()}
    assert produced == expected | {Path(JOURNAL_NAME)}  # every output once, no .part, nothing else
    for rel in expected:
        with Image.open(out / rel) as img:
            img.load()
            assert img.mode == "RGBA" and img.height == 480
    after = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in src.rglob("*.jpg")}
    assert after == before
    written = {r["output"] for r in _records_tolerant(out) if r["status"] == "written"}
    assert written == {p.as_posix() for p in expected}


def test_an_output_larger_than_pillows_bomb_limit_still_counts_as_intact(tmp_path, monkeypatch):
    from app.batch import journal

    Image.new("RGBA", (120, 80)).save(tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10)  # a 900 MP canvas export against the 160 MP backstop
    assert journal._intact(tmp_path / "big.png", (tmp_path / "big.png").stat().st_size)
