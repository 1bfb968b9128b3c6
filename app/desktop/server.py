"""The loopback endpoint the editor page loads from: the bundled UI, and everything with
pixels (thumbnails, previews, tiles, pasted images) plus the event stream.

It listens on 127.0.0.1 only, on a port the OS picks. Data routes need the per-launch
token (``?t=``): another program on the machine, or a web page in a browser trying
``http://127.0.0.1:<port>/``, gets 403. The ``Host`` header must name the loopback
address too, so DNS-rebinding pages cannot reach it either.

Connections are bounded (see ``Connections``): a program on the machine opening hundreds
of connections, or sending a request a byte at a time, cannot pile up threads or lock the
page out; the event stream, once its request is read, is never timed out.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import mimetypes
import queue
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from app.core.errors import NotFound, NotReady, explain
from app.desktop.events import EventHub

CSP = ("default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self'; img-src 'self' blob: data:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "
       "frame-ancestors 'none'")
MAX_PASTE_BYTES = 200 * 1024 * 1024
# The page (QtWebEngine/Chromium) opens at most 6 connections to us, one of them the event
# stream; a reload overlaps the old page's idle ones, and their event stream lingers until its
# next keep-alive (10 s). 32 covers that several times over while bounding the threads.
MAX_CONNECTIONS = 32
# Longest wait for a request's head (from the first byte or the previous response) and for
# any one read or write. Reconnecting over loopback is cheap, so idle ones can go soon.
IDLE_TIMEOUT = 15.0
_BUSY = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
_DOC_ROUTE = re.compile(r"^/doc/(?P<id>[\w-]{1,40})/"
                        r"(?:(?P<kind>thumb|preview)|tile/(?P<z>\d{1,2})/(?P<x>\d{1,5})/(?P<y>\d{1,5}))$")

STATUS = {NotFound.code: HTTPStatus.NOT_FOUND, NotReady.code: HTTPStatus.CONFLICT}  # else 422
DocLookup = Callable[[str], Any]
PasteHandler = Callable[[bytes, str], dict[str, Any]]


class LoopbackServer:
    """Serves ``ui_dir`` and the data routes on 127.0.0.1:<free port> from a background thread."""

    def __init__(self, ui_dir: Path, documents: DocLookup, hub: EventHub, on_paste: PasteHandler | None = None,
                 token: str | None = None, max_connections: int = MAX_CONNECTIONS,
                 idle_timeout: float = IDLE_TIMEOUT) -> None:
        self.ui_dir = ui_dir.resolve()
        self.documents = documents
        self.hub = hub
        self.on_paste = on_paste
        self.token = token or secrets.token_urlsafe(24)
        self.closing = threading.Event()
        self.idle_timeout = idle_timeout
        self.connections = Connections(max_connections, idle_timeout)
        self._httpd = _HTTPServer(("127.0.0.1", 0), _Handler, self.connections)
        self._httpd.app = self  # type: ignore[attr-defined]
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.1,), name="knockout-http",
                                        daemon=True)
        self._reaper = threading.Thread(target=self.connections.reap, name="knockout-http-reaper", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> LoopbackServer:
        self._reaper.start()
        self._thread.start()
        return self

    def stop(self) -> None:
        self.closing.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self.connections.stop()

    def token_ok(self, supplied: str | None) -> bool:
        return supplied is not None and hmac.compare_digest(supplied.encode(), self.token.encode())

    def host_ok(self, host: str | None) -> bool:
        return host in (f"127.0.0.1:{self.port}", f"localhost:{self.port}")


class Connections:
    """At most ``limit`` open connections, and a deadline for each idle one.

    A connection is idle while it waits for a request's head (the line and headers): from
    when it is accepted or its previous response went out. One idle past ``timeout`` is hung
    up on, however it trickles bytes; when every slot is taken, the longest-idle one makes
    room for the newcomer, so idle connections can never lock the page out. Busy ones (a
    request being answered, the event stream) are never cut; only if every connection is
    busy is the newcomer refused with 503.
    """

    def __init__(self, limit: int, timeout: float) -> None:
        self.limit = limit
        self.timeout = timeout
        self._open = 0
        self._idle: dict[socket.socket, float] = {}  # connection -> deadline (time.monotonic)
        self._changed = threading.Condition()
        self._stopped = False

    def admit(self, conn: socket.socket) -> bool:
        with self._changed:
            if self._open >= self.limit and self._idle:
                longest = min(self._idle, key=self._idle.__getitem__)
                del self._idle[longest]
                _hang_up(longest)
                self._changed.wait_for(lambda: self._open < self.limit, timeout=1.0)
            if self._open >= self.limit:
                return False
            self._open += 1
            self._idle[conn] = time.monotonic() + self.timeout
            self._changed.notify_all()
            return True

    def idle(self, conn: socket.socket) -> None:
        with self._changed:
            self._idle[conn] = time.monotonic() + self.timeout
            self._changed.notify_all()

    def busy(self, conn: socket.socket) -> None:
        with self._changed:
            self._idle.pop(conn, None)

    def leave(self, conn: socket.socket) -> None:
        with self._changed:
            self._idle.pop(conn, None)
            self._open -= 1
            self._changed.notify_all()

    def reap(self) -> None:
        """Hang up on idle connections past their deadline, until ``stop``."""
        with self._changed:
            while not self._stopped:
                now = time.monotonic()
                for conn, due in list(self._idle.items()):
                    if due <= now:
                        del self._idle[conn]
                        _hang_up(conn)
                wake = min(self._idle.values(), default=None)
                self._changed.wait(None if wake is None else max(0.0, wake - now))

    def stop(self) -> None:
        with self._changed:
            self._stopped = True
            self._changed.notify_all()


def _hang_up(conn: socket.socket) -> None:
    """Wake the handler blocked reading from ``conn`` with an end of file; it then closes."""
    with contextlib.suppress(OSError):
        conn.shutdown(socket.SHUT_RDWR)


class _HTTPServer(ThreadingHTTPServer):
    """A thread per connection, but only for connections ``Connections`` admits."""

    daemon_threads = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler],
                 connections: Connections) -> None:
        self.connections = connections
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.connections.admit(request):
            with contextlib.suppress(OSError):
                request.settimeout(0)
                request.send(_BUSY)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.connections.leave(request)
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.connections.leave(request)


class _Handler(BaseHTTPRequestHandler):
    server_version = "Knockout"
    sys_version = ""
    protocol_version = "HTTP/1.1"

    @property
    def app(self) -> LoopbackServer:
        return self.server.app  # type: ignore[attr-defined]

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.app.idle_timeout)  # bounds every read and write on the socket

    def handle_one_request(self) -> None:
        self.app.connections.idle(self.connection)  # waiting for the next request's head
        super().handle_one_request()

    def parse_request(self) -> bool:
        ok = super().parse_request()  # reads the headers
        self.app.connections.busy(self.connection)
        return ok

    def log_message(self, format: str, *args: Any) -> None:
        pass  # no request log: paths carry document ids only, but nothing needs them on disk

    # -- routing ----------------------------------------------------------------------
    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        if not self.app.host_ok(self.headers.get("Host")):
            return self._error(HTTPStatus.FORBIDDEN, "forbidden", "This address needs the window's token.")
        if url.path == "/events" or url.path.startswith("/doc/"):
            if not self.app.token_ok(query.get("t")):
                return self._error(HTTPStatus.FORBIDDEN, "forbidden", "This address needs the window's token.")
            if url.path == "/events":
                return self._events()
            return self._document(url.path, query)
        return self._static(url.path)

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        if not self.app.host_ok(self.headers.get("Host")) or not self.app.token_ok(query.get("t")):
            return self._error(HTTPStatus.FORBIDDEN, "forbidden", "This address needs the window's token.")
        if url.path != "/paste" or self.app.on_paste is None:
            return self._error(HTTPStatus.NOT_FOUND, "not-found", "Nothing here (the photo may have been removed).")
        length = int(self.headers.get("Content-Length") or 0)
        if not 0 < length <= MAX_PASTE_BYTES:
            return self._json(HTTPStatus.BAD_REQUEST, {"ok": False, "error": {
                "code": "paste", "message": "The pasted image is empty or too large."}})
        body = self.rfile.read(length)
        name = Path(query.get("name") or "pasted.png").name or "pasted.png"
        try:
            answer = self.app.on_paste(body, name)
        except Exception as exc:  # a full disk, say: the page is told, as for any refusal
            return self._failure(exc)
        self._json(HTTPStatus.OK, answer)

    # -- responses ----------------------------------------------------------------------
    def _static(self, path: str) -> None:
        relative = "index.html" if path in ("", "/") else path.lstrip("/")
        target = (self.app.ui_dir / relative).resolve()
        if not target.is_relative_to(self.app.ui_dir) or not target.is_file():
            return self._error(HTTPStatus.NOT_FOUND, "not-found", "Nothing here (the photo may have been removed).")
        kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if target.suffix == ".js":
            kind = "text/javascript"
        self._send(HTTPStatus.OK, target.read_bytes(), kind, cache="no-cache")

    def _document(self, path: str, query: dict[str, str]) -> None:
        match = _DOC_ROUTE.match(path)
        if not match:
            return self._error(HTTPStatus.NOT_FOUND, "not-found", "Nothing here (the photo may have been removed).")
        try:
            doc = self.app.documents(match["id"])
            view = query.get("view", "cutout")
            if match["kind"] == "thumb":
                body, kind = doc.thumbnail(), "image/png"
            elif match["kind"] == "preview":
                body, kind = doc.preview(view)
            else:
                body, kind = doc.tile(view, int(match["z"]), int(match["x"]), int(match["y"]))
        except Exception as exc:  # a removed photo, an unfinished cutout, an unreadable source, a bug (logged)
            return self._failure(exc)
        self._send(HTTPStatus.OK, body, kind, cache="private, max-age=3600")

    def _events(self) -> None:
        sub = self.app.hub.subscribe()
        try:
            self.send_response(HTTPStatus.OK)
            self._common_headers("text/event-stream", cache="no-store")
            self.send_header("Connection", "keep-alive")
            self.end_headers()
            self.wfile.write(b"retry: 1000\n\n")
            self.wfile.flush()
            while not self.app.closing.is_set():
                try:
                    event = sub.get(timeout=10)
                    chunk = f"data: {json.dumps(event, separators=(',', ':'))}\n\n".encode()
                except queue.Empty:
                    chunk = b": keep-alive\n\n"
                self.wfile.write(chunk)
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass
        finally:
            self.app.hub.unsubscribe(sub)
            self.close_connection = True

    def _json(self, status: HTTPStatus, payload: dict[str, Any]) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json", cache="no-store")

    def _failure(self, exc: Exception) -> None:
        """An exception as ``app.core.errors.explain`` says it, with the HTTP status that fits."""
        explained = explain(exc)
        status = STATUS.get(explained.code, HTTPStatus.UNPROCESSABLE_ENTITY)
        self._json(HTTPStatus.INTERNAL_SERVER_ERROR if explained.unexpected else status,
                   {"ok": False, "error": explained.for_window()})

    def _error(self, status: HTTPStatus, code: str, message: str) -> None:
        """Failures answer in the bridge's error shape, so the page reads every one alike."""
        self._json(status, {"ok": False, "error": {"code": code, "message": message}})

    def _send(self, status: HTTPStatus, body: bytes, kind: str, cache: str) -> None:
        self.send_response(status)
        self._common_headers(kind, cache)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _common_headers(self, kind: str, cache: str) -> None:
        self.send_header("Content-Type", kind)
        self.send_header("Cache-Control", cache)
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cross-Origin-Resource-Policy", "same-origin")
