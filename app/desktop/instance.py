"""One window per user: a second launch (say, "Open with Knockout" on more photos) hands
its files to the running window over a loopback socket and exits.

The running app listens on 127.0.0.1 and writes its port and a random token into a
user-only file; a message without the token is ignored, so other users and programs
cannot push files into someone's window.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import os
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.core.private import open_private

TIMEOUT = 3.0  # how long a second launch waits for the running window's "ok"
DEADLINE = 2.0  # a whole message must arrive within this (it takes milliseconds from a real launch)
MAX_MESSAGE = 1 << 20  # "Open with" on a thousand photos is ~200 KB
MAX_CLIENTS = 4  # connections read at the same time; more wait in the listen backlog
# A JSON string, or an unterminated one up to the end: never failing once started keeps
# the search linear on hostile input.
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*(?:"|\\?\Z)')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
log = logging.getLogger(__name__)


def hand_over(lock_file: Path, paths: list[str]) -> bool:
    """Give ``paths`` to an already running window; False if there is none."""
    try:
        info = json.loads(lock_file.read_text())
        port, token = int(info["port"]), str(info["token"])
    except (OSError, ValueError, KeyError, TypeError):
        return False
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as conn:
            conn.sendall(json.dumps({"token": token, "paths": paths}).encode() + b"\n")
            return conn.makefile("rb").readline().strip() == b"ok"
    except OSError:
        return False  # stale file from a crashed run: we become the running window


def read_message(conn: socket.socket, deadline: float, limit: int = MAX_MESSAGE) -> bytes | None:
    """One newline-terminated message, or None if it is too long or not complete by ``deadline``
    (a time.monotonic() value): a client sending a byte a second cannot hold the listener."""
    data = bytearray()
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or len(data) > limit:
            return None
        conn.settimeout(remaining)
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
        if b"\n" in chunk:
            break
    line = bytes(data.split(b"\n", 1)[0])
    return line if len(line) <= limit else None


def parse_message(line: bytes, token: str) -> list[str] | None:
    """The paths of a well-formed message carrying ``token``; None for anything else.

    The only valid shape is ``{"token": str, "paths": [str, ...]}``, two levels deep, so
    deeper nesting is refused before json.loads could recurse into it."""
    depth = 0
    for bracket in _STRING.sub(b"", line).translate(None, _NOT_BRACKETS):
        depth += 1 if bracket in b"[{" else -1
        if depth > 2:
            return None
    try:
        message: Any = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if not isinstance(message, dict):
        return None
    supplied, paths = message.get("token"), message.get("paths")
    if not isinstance(supplied, str) or not hmac.compare_digest(supplied.encode(), token.encode()):
        return None
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        return None
    return paths


class Listener:
    """Accepts hand-overs from later launches and passes their paths to ``on_paths``.

    Each connection is read on its own short-lived thread (at most ``MAX_CLIENTS`` at once)
    and must deliver its whole message within ``deadline`` seconds; whatever a client sends,
    the listener stays up for the next launch."""

    def __init__(self, lock_file: Path, on_paths: Callable[[list[str]], None], deadline: float = DEADLINE) -> None:
        self.lock_file = lock_file
        self.on_paths = on_paths
        self.deadline = deadline
        self.token = secrets.token_urlsafe(24)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)
        self.port = self._sock.getsockname()[1]
        self._closed = threading.Event()
        self._slots = threading.BoundedSemaphore(MAX_CLIENTS)
        self._thread = threading.Thread(target=self._serve, name="knockout-instance", daemon=True)

    def start(self) -> Listener:
        self.lock_file.parent.mkdir(parents=True, exist_ok=True)
        payload = json.dumps({"port": self.port, "token": self.token, "pid": os.getpid()}).encode()
        # Readable by this user only (the token is what keeps other users out); renamed into
        # place so a second launch never reads half a file.
        tmp = self.lock_file.with_name(f".{self.lock_file.name}.{os.getpid()}.part")
        with os.fdopen(open_private(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), "wb") as fh:
            fh.write(payload)
        os.replace(tmp, self.lock_file)
        self._thread.start()
        return self

    def close(self) -> None:
        self._closed.set()
        with contextlib.suppress(OSError):  # shutdown wakes the thread blocked in accept()
            self._sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self._sock.close()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        with contextlib.suppress(OSError, ValueError, KeyError):
            if json.loads(self.lock_file.read_text()).get("token") == self.token:
                self.lock_file.unlink()

    def _serve(self) -> None:
        while not self._closed.is_set():
            while not self._slots.acquire(timeout=0.5):  # all slots busy: clients wait in the backlog
                if self._closed.is_set():
                    return
            try:
                conn, _ = self._sock.accept()
            except OSError:
                self._slots.release()
                return
            threading.Thread(target=self._handle, args=(conn,), name="knockout-instance-client",
                             daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        """Read, check and act on one message; never raises (the listener must outlive any client)."""
        try:
            with conn:
                line = read_message(conn, time.monotonic() + self.deadline)
                paths = parse_message(line, self.token) if line is not None else None
                if paths is None:
                    return
                with contextlib.suppress(OSError):
                    conn.sendall(b"ok\n")
            self.on_paths(paths)
        except Exception:
            log.exception("single-instance hand-over failed")
        finally:
            self._slots.release()
