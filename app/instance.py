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
import os
import secrets
import socket
import threading
from collections.abc import Callable
from pathlib import Path

TIMEOUT = 3.0


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


class Listener:
    """Accepts hand-overs from later launches and passes their paths to ``on_paths``."""

    def __init__(self, lock_file: Path, on_paths: Callable[[list[str]], None]) -> None:
        self.lock_file = lock_file
        self.on_paths = on_paths
        self.token = secrets.token_urlsafe(24)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)
        self.port = self._sock.getsockname()[1]
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="knockout-instance", daemon=True)

    def start(self) -> Listener:
        self.lock_file.parent.mkdir(parents=True, exist_ok=True)
        payload = json.dumps({"port": self.port, "token": self.token, "pid": os.getpid()}).encode()
        # Readable by this user only (the token is what keeps other users out); renamed into
        # place so a second launch never reads half a file.
        tmp = self.lock_file.with_name(f".{self.lock_file.name}.{os.getpid()}.part")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
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
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(TIMEOUT)
                try:
                    message = json.loads(conn.makefile("rb").readline(1_000_000))
                    token = str(message.get("token", ""))
                    paths = [str(p) for p in message.get("paths", [])]
                except (OSError, ValueError, AttributeError):
                    continue
                if not hmac.compare_digest(token.encode(), self.token.encode()):
                    continue
                with contextlib.suppress(OSError):
                    conn.sendall(b"ok\n")
                self.on_paths(paths)
