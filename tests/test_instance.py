"""Single instance: a second launch hands its files to the running window."""

import json
import os
import socket
import stat
import threading

from app.instance import Listener, hand_over


def test_a_second_launch_hands_its_files_to_the_first(tmp_path):
    got = []
    arrived = threading.Event()
    listener = Listener(tmp_path / "instance.json", lambda paths: (got.append(paths), arrived.set())).start()
    try:
        assert hand_over(tmp_path / "instance.json", ["/photos/a.jpg", "/photos/b.png"])
        assert arrived.wait(5)
        assert got == [["/photos/a.jpg", "/photos/b.png"]]
    finally:
        listener.close()


def test_no_running_window_means_no_hand_over(tmp_path):
    assert not hand_over(tmp_path / "instance.json", ["a.jpg"])
    (tmp_path / "instance.json").write_text("{not json")
    assert not hand_over(tmp_path / "instance.json", ["a.jpg"])


def test_a_stale_file_from_a_crashed_run_is_not_trusted(tmp_path):
    spare = socket.socket()
    spare.bind(("127.0.0.1", 0))
    port = spare.getsockname()[1]
    spare.close()  # nothing listens there any more
    (tmp_path / "instance.json").write_text(json.dumps({"port": port, "token": "x", "pid": 1}))
    assert not hand_over(tmp_path / "instance.json", ["a.jpg"])


def test_messages_without_the_token_are_ignored(tmp_path):
    got = []
    listener = Listener(tmp_path / "instance.json", got.append).start()
    try:
        with socket.create_connection(("127.0.0.1", listener.port), timeout=3) as conn:
            conn.sendall(json.dumps({"token": "guess", "paths": ["/etc/passwd"]}).encode() + b"\n")
            assert conn.recv(10) == b""
        assert got == []
    finally:
        listener.close()


def test_the_lock_file_is_private_and_removed_on_close(tmp_path):
    lock = tmp_path / "instance.json"
    listener = Listener(lock, lambda paths: None).start()
    if os.name == "posix":
        assert stat.S_IMODE(lock.stat().st_mode) == 0o600
    assert json.loads(lock.read_text())["port"] == listener.port
    listener.close()
    assert not lock.exists()
