"""Single instance: a second launch hands its files to the running window."""

import contextlib
import json
import os
import select
import socket
import stat
import threading

import pytest

from app.desktop.instance import Listener, hand_over


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


# --- a hostile or broken client never stops the next launch's hand-over -------------------------


def _send_raw(port: int, data: bytes) -> bytes:
    """Send ``data`` and return whatever comes back before the listener closes (5 s guard)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(data)
        received = b""
        while chunk := conn.recv(64):
            received += chunk
        return received


def _proper_hand_over_still_works(lock, got, arrived):
    arrived.clear()
    assert hand_over(lock, ["/photos/after.jpg"]), "the next launch can still hand its files over"
    assert arrived.wait(5)
    assert got[-1] == ["/photos/after.jpg"]


@pytest.mark.parametrize("message", [
    b'{"paths": 5}\n',
    b"[" * 200_000 + b"\n",  # json.loads raises RecursionError on this
    b'{"token": "x", "paths": ' + b"[" * 200_000 + b"\n",
    b"null\n",
    b'"just a string"\n',
    b"\xff\xfe not utf-8\n",
    b'{"token": ["not", "a", "string"], "paths": []}\n',
], ids=["paths-not-a-list", "deeply-nested", "nested-paths", "null", "string", "bytes", "token-list"])
def test_a_malformed_message_is_dropped_and_the_listener_keeps_going(tmp_path, message):
    lock, got, arrived = tmp_path / "instance.json", [], threading.Event()
    listener = Listener(lock, lambda paths: (got.append(paths), arrived.set())).start()
    try:
        assert _send_raw(listener.port, message) == b""
        assert got == []
        _proper_hand_over_still_works(lock, got, arrived)
    finally:
        listener.close()


def test_a_message_with_the_token_but_not_a_list_of_strings_is_not_acted_on(tmp_path):
    lock, got, arrived = tmp_path / "instance.json", [], threading.Event()
    listener = Listener(lock, lambda paths: (got.append(paths), arrived.set())).start()
    try:
        for paths in (5, "/etc/passwd", [1, {"a": 2}], [["nested"]], {"a": "b"}):
            message = json.dumps({"token": listener.token, "paths": paths}).encode() + b"\n"
            assert _send_raw(listener.port, message) == b""
        assert got == []
        _proper_hand_over_still_works(lock, got, arrived)
    finally:
        listener.close()


def test_an_oversized_message_is_cut_off(tmp_path):
    lock, got, arrived = tmp_path / "instance.json", [], threading.Event()
    listener = Listener(lock, lambda paths: (got.append(paths), arrived.set())).start()
    try:
        big = json.dumps({"token": listener.token, "paths": ["x" * 1000] * 5000}).encode() + b"\n"
        with socket.create_connection(("127.0.0.1", listener.port), timeout=5) as conn:
            with contextlib.suppress(OSError):  # the listener may hang up while we still write
                conn.sendall(big)
            with contextlib.suppress(ConnectionResetError):
                assert conn.recv(10) == b""
        assert got == []
        _proper_hand_over_still_works(lock, got, arrived)
    finally:
        listener.close()


def test_a_failing_receiver_does_not_stop_the_listener(tmp_path):
    lock, got, arrived = tmp_path / "instance.json", [], threading.Event()

    def on_paths(paths):
        if paths == ["/photos/boom.jpg"]:
            raise RuntimeError("the window is busy")
        got.append(paths)
        arrived.set()

    listener = Listener(lock, on_paths).start()
    try:
        hand_over(lock, ["/photos/boom.jpg"])
        _proper_hand_over_still_works(lock, got, arrived)
    finally:
        listener.close()


def _drip(conn: socket.socket, stop: threading.Event, every: float = 0.05, limit: int = 400) -> str:
    """Send one byte every ``every`` seconds on ``conn``, never a whole message.

    Returns "closed" when the listener hangs up, "stopped" or "gave up" otherwise."""
    with conn:
        for _ in range(limit):
            if stop.is_set():
                return "stopped"
            try:
                conn.sendall(b" ")
                readable, _, _ = select.select([conn], [], [], every)
                if readable and conn.recv(1) == b"":
                    return "closed"
            except OSError:
                return "closed"
    return "gave up"


def test_a_client_sending_a_byte_at_a_time_does_not_block_the_hand_over(tmp_path):
    lock, got, arrived = tmp_path / "instance.json", [], threading.Event()
    listener = Listener(lock, lambda paths: (got.append(paths), arrived.set())).start()
    stop = threading.Event()
    # Connected (and so first in the listener's queue) before the second launch knocks.
    slow = socket.create_connection(("127.0.0.1", listener.port), timeout=5)
    dripper = threading.Thread(target=_drip, args=(slow, stop), daemon=True)
    try:
        dripper.start()
        _proper_hand_over_still_works(lock, got, arrived)
    finally:
        stop.set()
        dripper.join(10)
        listener.close()


def test_a_slow_client_is_cut_off_at_its_deadline_even_while_it_keeps_sending(tmp_path):
    lock, got, arrived = tmp_path / "instance.json", [], threading.Event()
    listener = Listener(lock, lambda paths: (got.append(paths), arrived.set()), deadline=0.3).start()
    try:
        # 400 bytes at one per 50 ms would take 20 s; a per-recv timeout would never fire.
        slow = socket.create_connection(("127.0.0.1", listener.port), timeout=5)
        assert _drip(slow, threading.Event()) == "closed"
        _proper_hand_over_still_works(lock, got, arrived)
    finally:
        listener.close()
