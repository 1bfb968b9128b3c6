"""The window's hot folder (app/desktop/hotfolder.py): it keeps going past a bad file, and when it
cannot go on it says so instead of showing "Watching" for ever."""

import errno
import os
import queue
import time

import pytest

from app.batch.journal import JOURNAL_NAME
from app.desktop.events import EventHub
from app.desktop.hotfolder import HotFolder
from app.desktop.jobs import JobRunner
from app.governance.presets import get_preset
from tests.fakes import FakeEngine, photo, wait_for


@pytest.fixture
def runner(tmp_path):
    (tmp_path / "spill").mkdir()
    runner = JobRunner(lambda: FakeEngine(), EventHub(), tmp_path / "spill").start()
    yield runner
    runner.stop()


def _hot_folder(tmp_path, runner) -> HotFolder:
    (tmp_path / "inbox").mkdir(exist_ok=True)
    folder = HotFolder(runner, tmp_path / "inbox", tmp_path / "out", get_preset("png-master"), "{stem}",
                       interval=0.05)
    return folder


def _events(sub: "queue.Queue[dict]") -> list[dict]:
    return [sub.get_nowait() for _ in range(sub.qsize())]


def test_when_watching_fails_the_hot_folder_says_it_stopped_and_why(tmp_path, runner, monkeypatch):
    events = runner.hub.subscribe()
    hot = _hot_folder(tmp_path, runner)

    def scan():
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "inbox"))

    monkeypatch.setattr(hot.watcher, "scan", scan)
    hot.start()
    seen: list[dict] = []
    try:
        assert wait_for(lambda: hot.describe() is None), "the hot folder still says it is watching"
        assert "Permission denied" in hot.error
        assert wait_for(lambda: seen.extend(_events(events)) or any(
            e["type"] == "watch" and e["watch"] is None and "Permission denied" in e["error"] for e in seen))
    finally:
        hot.stop()


def test_a_full_disk_on_a_photo_journal_line_fails_that_photo_and_the_next_is_exported(
        tmp_path, runner, monkeypatch):
    hot = _hot_folder(tmp_path, runner)
    journal = tmp_path / "out" / JOURNAL_NAME
    real = os.fsync

    def fsync(fd: int) -> None:  # the disk is full just as a.jpg's start line is made durable
        if os.path.samestat(os.fstat(fd), os.stat(journal)):
            last = journal.read_text(encoding="utf-8", errors="replace").splitlines()[-1]
            if '"start"' in last and "a.jpg" in last:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    photo(tmp_path / "inbox" / "a.jpg")
    hot.start()
    try:
        assert wait_for(lambda: hot.counts["failed"] == 1)
        photo(tmp_path / "inbox" / "b.jpg")
        assert wait_for(lambda: (tmp_path / "out" / "b.png").exists()), "the hot folder stopped at a.jpg"
        assert wait_for(lambda: hot.counts["written"] == 1)
        assert hot.describe() is not None  # still watching
        assert not (tmp_path / "out" / "a.png").exists()
    finally:
        hot.stop()


def test_a_preset_whose_rules_the_output_breaks_says_so_in_the_hot_folders_export_event(tmp_path, runner):
    import dataclasses

    from app.core.compliance import Rules

    events = runner.hub.subscribe()
    (tmp_path / "inbox").mkdir()
    strict = dataclasses.replace(get_preset("png-master"), rules=Rules(min_size=1000))  # the photo is 96×64
    hot = HotFolder(runner, tmp_path / "inbox", tmp_path / "out", strict, "{stem}", interval=0.05)
    photo(tmp_path / "inbox" / "a.jpg")
    hot.start()
    seen: list[dict] = []
    try:
        assert wait_for(lambda: seen.extend(_events(events)) or any(e["type"] == "export" for e in seen))
    finally:
        hot.stop()
    (exported,) = [e for e in seen if e["type"] == "export"]
    assert exported["state"] == "written" and (tmp_path / "out" / "a.png").exists()
    assert [v["code"] for v in exported["violations"]] == ["too-small"]
    assert "1000 px" in exported["message"]


def test_a_file_the_hot_folder_skips_is_named_in_the_window_with_the_reason(tmp_path, runner):
    events = runner.hub.subscribe()
    hot = _hot_folder(tmp_path, runner)
    private = tmp_path / "private.jpg"
    photo(private)
    (tmp_path / "inbox" / "colleague.jpg").symlink_to(private)
    os.mkfifo(tmp_path / "inbox" / "pipe.jpg")
    hot.start()
    seen: list[dict] = []
    try:
        assert wait_for(lambda: seen.extend(_events(events)) or len(
            [e for e in seen if e["type"] == "watch-skipped"]) == 2)
        skipped = {e["name"]: e["message"] for e in seen if e["type"] == "watch-skipped"}
        assert "outside" in skipped["colleague.jpg"] and "not a regular file" in skipped["pipe.jpg"]
        codes = {e["name"]: e["code"] for e in seen if e["type"] == "watch-skipped"}
        assert codes == {"colleague.jpg": "outside_folder", "pipe.jpg": "not_a_file"}  # the page words them
        assert hot.describe()["skipped"] == 2
        time.sleep(0.2)  # several more scans: each file is named once
        assert [e for e in _events(events) if e["type"] == "watch-skipped"] == []
    finally:
        hot.stop()
