import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from app import cli
from app.batch.journal import JOURNAL_NAME, Journal, header_for
from app.batch.watch import Watcher, is_candidate
from app.core.export import ExportSettings
from tests import onnx_graphs
from tests.fakes import FakeEngine, finish_within, photo, wait_for

POLL = 0.15
REPO = Path(__file__).resolve().parents[2]


class SlowEngine(FakeEngine):
    """A fake whose every inference takes a while, so a signal lands mid-batch."""

    def infer(self, tensor):
        time.sleep(0.2)
        return super().infer(tensor)


def _watch_once(inbox: Path, out: Path, *extra: str) -> int:
    return cli.main(["watch", str(inbox), "-o", str(out), "--once", "--interval", str(POLL), "-q", *extra])



def _jpeg_bytes(size: tuple[int, int]) -> bytes:
    buf = io.BytesIO()
    img = Image.new("RGB", size, (20, 30, 40))
    img.paste((230, 200, 180), (size[0] // 4, size[1] // 4, size[0] // 2, size[1] // 2))
    img.save(buf, "JPEG", quality=95)
    return buf.getvalue()


@pytest.mark.parametrize("name, taken", [
    ("a.jpg", True), ("B.PNG", True), ("photo.heic", True),
    (".a.jpg", False), ("a.jpg.part", False), ("a.jpg.tmp", False), ("a.jpg~", False),
    ("a.jpg.crdownload", False), ("notes.txt", False),
])
def test_only_finished_visible_image_names_are_candidates(name, taken):
    assert is_candidate(name) is taken


@pytest.mark.slow
def test_files_written_slowly_are_each_processed_once_and_complete(tmp_path):
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    engine = FakeEngine()
    watcher = Watcher(inbox, out, ExportSettings(), interval=POLL, quiet=True)
    journal = Journal.open(out, header_for(ExportSettings(), engine.spec.id, "{stem}"))
    thread = threading.Thread(target=watcher.run, args=(engine, journal))
    thread.start()
    sizes = {Path("a.jpg"): (400, 300), Path("sub/b.jpg"): (320, 240), Path("sub/deeper/c.jpg"): (300, 500)}
    try:
        for rel, size in sizes.items():  # a slow copy straight onto the final name
            data = _jpeg_bytes(size)
            (inbox / rel).parent.mkdir(parents=True, exist_ok=True)
            with open(inbox / rel, "wb") as fh:
                for i in range(0, len(data), len(data) // 5 + 1):
                    fh.write(data[i:i + len(data) // 5 + 1])
                    fh.flush()
                    time.sleep(POLL / 3)
        part = inbox / ".d.jpg.x1.part"  # a copy tool's temporary name, renamed when complete
        part.write_bytes(_jpeg_bytes((200, 200)))
        time.sleep(POLL * 3)
        part.rename(inbox / "d.jpg")
        sizes[Path("d.jpg")] = (200, 200)
        outputs = [out / rel.with_suffix(".png") for rel in sizes]
        assert wait_for(lambda: all(p.exists() for p in outputs))
        time.sleep(POLL * 4)  # several more polls: nothing may be taken again
    finally:
        watcher.stop.set()
        thread.join(timeout=30)
        journal.close()
    assert not thread.is_alive()
    assert engine.runs == len(sizes)
    assert watcher.counts["written"] == len(sizes) and watcher.counts["failed"] == 0
    for rel, size in sizes.items():
        with Image.open(out / rel.with_suffix(".png")) as img:
            img.load()
            assert img.size == size
    done = [json.loads(line) for line in (out / JOURNAL_NAME).read_text().splitlines()[1:]]
    written = sorted(r["output"] for r in done if r["kind"] == "done")
    assert written == sorted(rel.with_suffix(".png").as_posix() for rel in sizes)


def test_a_restarted_watch_does_not_redo_files(tmp_path, fake_engine):
    photo(tmp_path / "inbox" / "a.jpg")
    photo(tmp_path / "inbox" / "sub" / "b.jpg")
    assert _watch_once(tmp_path / "inbox", tmp_path / "out") == 0
    assert fake_engine.runs == 2
    assert _watch_once(tmp_path / "inbox", tmp_path / "out") == 0
    assert fake_engine.runs == 2
    photo(tmp_path / "inbox" / "c.jpg")  # only the newcomer is processed
    assert _watch_once(tmp_path / "inbox", tmp_path / "out") == 0
    assert fake_engine.runs == 3
    assert (tmp_path / "out" / "sub" / "b.png").is_file() and (tmp_path / "out" / "c.png").is_file()


def test_with_a_versioned_name_a_changed_photo_is_a_new_version_and_a_restart_redoes_nothing(tmp_path, fake_engine):
    photo(tmp_path / "inbox" / "a.jpg")
    versioned = ("--name", "{stem}-{version}")
    assert _watch_once(tmp_path / "inbox", tmp_path / "out", *versioned) == 0
    assert _watch_once(tmp_path / "inbox", tmp_path / "out", *versioned) == 0
    assert fake_engine.runs == 1
    photo(tmp_path / "inbox" / "a.jpg", size=(80, 80))  # re-shot: dropped in again
    assert _watch_once(tmp_path / "inbox", tmp_path / "out", *versioned) == 0
    assert sorted(p.name for p in (tmp_path / "out").glob("*.png")) == ["a-v1.png", "a-v2.png"]
    assert Image.open(tmp_path / "out" / "a-v1.png").size == (96, 64)


def test_move_done_moves_sources_mirrored_after_success_only(tmp_path, fake_engine):
    inbox = tmp_path / "inbox"
    photo(inbox / "sub" / "a.jpg")
    (inbox / "broken.jpg").write_text("not a photo")
    original = (inbox / "sub" / "a.jpg").read_bytes()
    assert _watch_once(inbox, tmp_path / "out", "--move-done", str(tmp_path / "done")) == 1
    assert (tmp_path / "done" / "sub" / "a.jpg").read_bytes() == original
    assert not (inbox / "sub" / "a.jpg").exists()
    assert (inbox / "broken.jpg").exists()  # a failure stays where it is
    assert (tmp_path / "out" / "sub" / "a.png").is_file()


def test_two_sources_with_one_output_name_get_distinct_outputs(tmp_path, fake_engine):
    photo(tmp_path / "inbox" / "a.jpg")
    photo(tmp_path / "inbox" / "a.png", fmt="PNG")
    assert _watch_once(tmp_path / "inbox", tmp_path / "out") == 0
    assert sorted(p.name for p in (tmp_path / "out").glob("*.png")) == ["a-2.png", "a.png"]
    assert _watch_once(tmp_path / "inbox", tmp_path / "out") == 0  # and a restart keeps them apart
    assert fake_engine.runs == 2


def test_output_folder_inside_the_inbox_is_not_watched(tmp_path, fake_engine):
    photo(tmp_path / "inbox" / "a.jpg")
    assert _watch_once(tmp_path / "inbox", tmp_path / "inbox" / "cutouts") == 0
    assert _watch_once(tmp_path / "inbox", tmp_path / "inbox" / "cutouts") == 0
    assert fake_engine.runs == 1
    assert [p.name for p in (tmp_path / "inbox" / "cutouts").iterdir() if not p.name.startswith(".")] == ["a.png"]


@pytest.mark.parametrize("argv", [
    ["watch", "missing-folder", "-o", "out", "--once"],
    ["watch", ".", "-o", ".", "--once"],
    ["watch", ".", "-o", "out", "--interval", "0"],
    ["watch", ".", "-o", "out", "--name", "{nope}"],
    ["watch", "."],  # no output folder
])
def test_watch_usage_errors_exit_2(argv, tmp_path, fake_engine, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2


@pytest.mark.slow  # a real signal, and a wait for the watch to notice it
def test_sigterm_finishes_the_images_in_flight_and_exits_0(tmp_path, monkeypatch):
    engine = SlowEngine()
    monkeypatch.setattr(cli.options, "engine_for", lambda args: engine)
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    for i in range(12):
        photo(inbox / f"p{i:02d}.jpg")
    outputs = [out / f"p{i:02d}.png" for i in range(12)]

    def terminate_after_first_output() -> None:
        if wait_for(lambda: any(p.exists() for p in outputs)):
            os.kill(os.getpid(), signal.SIGTERM)

    previous = signal.getsignal(signal.SIGTERM)
    killer = threading.Thread(target=terminate_after_first_output)
    killer.start()
    code = cli.main(["watch", str(inbox), "-o", str(out), "--interval", str(POLL), "-q"])
    killer.join()
    assert code == 0
    assert signal.getsignal(signal.SIGTERM) == previous  # handlers restored
    written = [p for p in outputs if p.exists()]
    assert 1 <= len(written) < len(outputs)  # stopped early, not after the whole inbox
    for path in written:
        with Image.open(path) as img:
            img.load()
    assert not list(out.rglob("*.part"))
    starts = [json.loads(line) for line in (out / JOURNAL_NAME).read_text().splitlines()[1:]]
    done = {r["output"] for r in starts if r["kind"] == "done" and r["status"] == "written"}
    assert done == {p.name for p in written}  # everything started was finished and recorded


def test_a_file_that_grows_after_it_was_taken_is_retried_not_failed(tmp_path):
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    data = _jpeg_bytes((300, 200))
    inbox.mkdir()
    (inbox / "a.jpg").write_bytes(data[: len(data) // 2])  # the writer stalls for longer than a poll
    engine = FakeEngine()
    watcher = Watcher(inbox, out, ExportSettings(), interval=POLL, quiet=True)
    real_failure = watcher._changed_while_read

    def complete_the_file_then_check(path):
        (inbox / "a.jpg").write_bytes(data)  # ...and then finishes the copy
        return real_failure(path)

    watcher._changed_while_read = complete_the_file_then_check
    with Journal.open(out, header_for(ExportSettings(), engine.spec.id, "{stem}")) as journal:
        thread = threading.Thread(target=watcher.run, args=(engine, journal))
        thread.start()
        try:
            assert wait_for(lambda: (out / "a.png").exists())
        finally:
            watcher.stop.set()
            thread.join(timeout=30)
    assert watcher.counts["failed"] == 0 and watcher.counts["written"] == 1
    with Image.open(out / "a.png") as img:
        assert img.size == (300, 200)


@pytest.mark.slow  # a real signal, and a wait for the watch to notice it
def test_ctrl_c_stops_a_running_watch_command_cleanly_with_exit_0(tmp_path):
    data = tmp_path / "xdg"  # the user model folder holds a tiny ISNet-style graph
    onnx_graphs.install(data / "Knockout" / "models", [onnx_graphs.isnet()], source="user")
    env = {**os.environ, "XDG_DATA_HOME": str(data), "PYTHONPATH": str(REPO)}
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    cmd = [sys.executable, "-m", "app", "watch", str(inbox), "-o", str(out), "--model", "tiny-isnet",
           "--interval", "0.1"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for i in range(3):
            photo(inbox / f"set{i}" / f"p{i}.jpg", size=(320, 240))
        assert wait_for(lambda: all((out / f"set{i}" / f"p{i}.png").exists() for i in range(3)))
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert "3 written" in err


# -- odd files in the inbox, and stopping for sure -------------------------------------------

def test_odd_files_in_the_inbox_are_skipped_once_with_a_reason_and_watching_goes_on(tmp_path, fake_engine, capsys):
    inbox = tmp_path / "inbox"
    photo(inbox / "a.jpg")
    photo(tmp_path / "private" / "me.jpg")
    os.mkfifo(inbox / "x.jpg")  # would block whoever opens it
    (inbox / "pulled-in.jpg").symlink_to(tmp_path / "private" / "me.jpg")
    (inbox / "loop.jpg").symlink_to("loop.jpg")
    (inbox / "round").symlink_to("round")  # a folder link that points at itself
    assert finish_within(60, _watch_once, inbox, tmp_path / "out") == 0
    assert sorted(p.name for p in (tmp_path / "out").glob("*.png")) == ["a.png"]
    err = capsys.readouterr().err
    assert "watching stopped" not in err
    for name, reason in (("x.jpg", "not a regular file"), ("pulled-in.jpg", "outside"), ("loop.jpg", "symlink loop")):
        [line] = [line for line in err.splitlines() if name in line]
        assert reason in line


def test_a_file_name_that_is_not_utf8_does_not_stop_the_watch(tmp_path, fake_engine):
    inbox = tmp_path / "inbox"
    photo(inbox / os.fsdecode(b"\xe9t\xe9.jpg"))
    photo(inbox / "b.jpg")
    assert finish_within(60, _watch_once, inbox, tmp_path / "out") == 0
    assert (tmp_path / "out" / os.fsdecode(b"\xe9t\xe9.png")).is_file() and (tmp_path / "out" / "b.png").is_file()
    assert finish_within(60, _watch_once, inbox, tmp_path / "out") == 0
    assert fake_engine.runs == 2  # a restart finds both in the journal


@pytest.mark.slow  # a real signal, and a wait for the watch to notice it
def test_sigterm_stops_the_watch_even_while_a_file_is_stuck(tmp_path, monkeypatch):
    import app.batch.pipeline as pipeline
    from app.core.decode import open_image

    monkeypatch.setattr(pipeline, "STOP_GRACE", 0.5, raising=False)
    monkeypatch.setattr(cli.options, "engine_for", lambda args: FakeEngine())
    stuck, release, rescued = threading.Event(), threading.Event(), threading.Event()

    def decode(path, *args, **kwargs):
        if path.name == "stuck.jpg":  # a network share that stopped answering mid-read
            stuck.set()
            release.wait(120)
        return open_image(path, *args, **kwargs)

    monkeypatch.setattr(pipeline, "open_image", decode)
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    photo(inbox / "stuck.jpg")
    returned = threading.Event()

    def terminate_once_stuck() -> None:
        if stuck.wait(30):
            os.kill(os.getpid(), signal.SIGTERM)
        if not returned.wait(30):  # the regression: only freeing the file lets the test end
            rescued.set()
            release.set()

    killer = threading.Thread(target=terminate_once_stuck, daemon=True)
    killer.start()
    try:
        code = cli.main(["watch", str(inbox), "-o", str(out), "--interval", str(POLL), "-q"])
    finally:
        returned.set()
        release.set()
    killer.join(timeout=30)
    assert stuck.is_set() and not rescued.is_set(), "watch ignored SIGTERM while a file was stuck"
    assert code == 0
    assert not (out / "stuck.png").exists()


def test_watching_with_a_delivery_set_writes_every_output_and_a_restart_redoes_none(tmp_path, fake_engine):
    photo(tmp_path / "inbox" / "a.jpg")
    photo(tmp_path / "inbox" / "a.png", fmt="PNG")  # same stem: the whole set takes -2
    assert _watch_once(tmp_path / "inbox", tmp_path / "out", "--preset", "marketplace-kit") == 0
    names = sorted(p.name for p in (tmp_path / "out").iterdir() if not p.name.startswith("."))
    kit = ("master.png", "amazon.jpg", "web.webp", "mask.png")
    assert names == sorted([f"a-{o}" for o in kit] + [f"a-{o.replace('.', '-2.')}" for o in kit])
    assert fake_engine.runs == 2
    assert _watch_once(tmp_path / "inbox", tmp_path / "out", "--preset", "marketplace-kit") == 0
    assert fake_engine.runs == 2
