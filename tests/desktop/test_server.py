"""The loopback endpoint: token, host check, static UI, pictures, paste and events."""

import http.client
import io
import json
import select
import socket
import threading

import numpy as np
import pytest
from PIL import Image

from app.core.decode import open_image
from app.core.errors import NotFound, NotReady
from app.desktop.document import Document
from app.desktop.events import EventHub
from app.desktop.server import CSP, LoopbackServer
from tests.fakes import photo


class Docs:
    def __init__(self, doc):
        self.doc = doc

    def __call__(self, doc_id):
        if doc_id != "d1":
            raise NotFound("That image is no longer in the list.")
        return self.doc


class StubDoc:
    def thumbnail(self):
        return b"PNGTHUMB"

    def preview(self, view):
        if view == "mask":
            raise NotReady("not yet")
        if view == "bug":
            raise KeyError("a bug, not a missing photo")
        return b"PREVIEW-" + view.encode(), "image/png"

    def tile(self, view, z, x, y):
        if (z, x, y) != (0, 0, 0):
            raise NotFound("no such tile")
        return b"TILE", "image/png"


@pytest.fixture
def server(tmp_path):
    ui = tmp_path / "ui"
    (ui / "js").mkdir(parents=True)
    (ui / "index.html").write_text("<!doctype html><title>Knockout</title>")
    (ui / "js" / "app.js").write_text("export {};")
    (tmp_path / "secret.txt").write_text("private")
    pasted = []
    srv = LoopbackServer(ui, Docs(StubDoc()), EventHub(),
                         on_paste=lambda data, name: pasted.append((data, name)) or {"ok": True, "ids": ["d9"]})
    srv.pasted = pasted
    srv.start()
    yield srv
    srv.stop()


def _get(server, path, host=None, method="GET", body=None):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    headers = {"Host": host} if host else {}
    conn.request(method, path, body=body, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp, data


def test_it_listens_on_loopback_only(server):
    assert server._httpd.server_address[0] == "127.0.0.1"


def test_data_routes_without_the_token_get_403(server):
    for path in ("/doc/d1/thumb", "/doc/d1/thumb?t=wrong", "/events", "/doc/d1/tile/0/0/0?view=cutout"):
        assert _get(server, path)[0].status == 403
    assert _get(server, "/paste?t=nope", method="POST", body=b"x")[0].status == 403


def test_with_the_token_pictures_come_back(server):
    resp, body = _get(server, f"/doc/d1/thumb?t={server.token}&v=3")
    assert resp.status == 200 and body == b"PNGTHUMB" and resp.getheader("Content-Type") == "image/png"
    assert _get(server, f"/doc/d1/tile/0/0/0?view=cutout&t={server.token}")[1] == b"TILE"
    assert _get(server, f"/doc/d1/preview?view=original&t={server.token}")[1] == b"PREVIEW-original"


def test_unknown_documents_and_tiles_are_404_and_unfinished_masks_409(server):
    t = server.token
    assert _get(server, f"/doc/d2/thumb?t={t}")[0].status == 404
    assert _get(server, f"/doc/d1/tile/0/5/5?t={t}")[0].status == 404
    assert _get(server, f"/doc/d1/preview?view=mask&t={t}")[0].status == 409
    assert _get(server, f"/doc/d1/bogus?t={t}")[0].status == 404


def test_a_foreign_host_header_is_refused(server):
    assert _get(server, "/", host="evil.example:80")[0].status == 403
    assert _get(server, f"/doc/d1/thumb?t={server.token}", host=f"attacker.test:{server.port}")[0].status == 403
    assert _get(server, "/", host=f"localhost:{server.port}")[0].status == 200


def test_static_ui_is_served_with_a_strict_content_security_policy(server):
    resp, body = _get(server, "/")
    assert resp.status == 200 and b"Knockout" in body
    assert resp.getheader("Content-Security-Policy") == CSP
    assert "default-src 'self'" in CSP and "http" not in CSP
    resp, _ = _get(server, "/js/app.js")
    assert resp.getheader("Content-Type") == "text/javascript"


def test_paths_outside_the_ui_folder_are_not_served(server):
    for path in ("/../secret.txt", "/%2e%2e/secret.txt", "/js/../../secret.txt"):
        resp, body = _get(server, path)
        assert resp.status == 404 and b"private" not in body


def test_pasted_bytes_reach_the_paste_handler(server):
    resp, body = _get(server, f"/paste?t={server.token}&name=clip.png", method="POST", body=b"\x89PNG...")
    assert resp.status == 200 and json.loads(body) == {"ok": True, "ids": ["d9"]}
    assert server.pasted == [(b"\x89PNG...", "clip.png")]


def test_events_stream_as_server_sent_events(server):
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    sock.sendall(f"GET /events?t={server.token} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n\r\n".encode())
    received = b""
    while b"retry:" not in received:
        received += sock.recv(4096)
    assert b"text/event-stream" in received
    deadline = threading.Event()
    for _ in range(50):
        if server.hub.subscribers:
            break
        deadline.wait(0.05)
    server.hub.publish({"type": "status", "status": {"ready": True}})
    while b"\ndata: " not in received:
        received += sock.recv(4096)
    line = received.split(b"\ndata: ", 1)[1].split(b"\n\n", 1)[0]
    assert json.loads(line) == {"type": "status", "status": {"ready": True}}
    sock.close()


def test_real_documents_render_through_the_server(tmp_path):
    img = Image.new("RGB", (40, 30), (200, 10, 10))
    img.save(tmp_path / "p.png")
    doc = Document("d1", tmp_path / "p.png", "p.png", tmp_path)
    srv = LoopbackServer(tmp_path, Docs(doc), EventHub()).start()
    try:
        resp, _body = _get(srv, f"/doc/d1/tile/0/0/0?view=original&t={srv.token}")
        assert resp.status == 200 and resp.getheader("Content-Type") == "image/jpeg"
        assert _get(srv, f"/doc/d1/tile/0/0/0?view=cutout&t={srv.token}")[0].status == 409
    finally:
        srv.stop()


# --- idle and slow connections, and the connection cap -------------------------------------------


def _small_server(tmp_path, **limits):
    ui = tmp_path / "ui"
    ui.mkdir(exist_ok=True)
    (ui / "index.html").write_text("<!doctype html><title>Knockout</title>")
    return LoopbackServer(ui, Docs(StubDoc()), EventHub(), **limits).start()


def _open_events(server):
    """An event stream, read up to its first ``retry:`` line (the headers are parsed by then)."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    sock.sendall(f"GET /events?t={server.token} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n\r\n".encode())
    received = b""
    while b"retry:" not in received:
        chunk = sock.recv(4096)
        assert chunk, "the event stream was closed"
        received += chunk
    return sock


def _closed_by_server(sock):
    """Wait (at most 5 s) for the server to hang up; True if it did."""
    try:
        while sock.recv(4096):
            pass
    except ConnectionResetError:
        pass
    except TimeoutError:
        return False
    return True


def test_an_idle_connection_is_closed_after_the_idle_timeout(tmp_path):
    srv = _small_server(tmp_path, idle_timeout=0.2)
    try:
        idle = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        assert _closed_by_server(idle)
        assert _get(srv, "/")[0].status == 200
    finally:
        srv.stop()


def test_a_request_head_sent_a_byte_at_a_time_is_cut_off(tmp_path):
    srv = _small_server(tmp_path, idle_timeout=0.3)
    try:
        slow = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        head = f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\nX-Pad: {'a' * 400}\r\n\r\n".encode()
        hung_up = False
        for byte in head:  # ~20 s at one byte per 50 ms; a per-recv timeout would never fire
            try:
                slow.sendall(bytes([byte]))
                readable, _, _ = select.select([slow], [], [], 0.05)
                if readable and slow.recv(4096) == b"":
                    hung_up = True
                    break
            except OSError:
                hung_up = True
                break
        assert hung_up
    finally:
        srv.stop()


def test_idle_connections_beyond_the_cap_do_not_lock_out_the_page(tmp_path):
    srv = _small_server(tmp_path, max_connections=4, idle_timeout=60)
    idle = []
    try:
        for _ in range(40):
            idle.append(socket.create_connection(("127.0.0.1", srv.port), timeout=5))
        resp, body = _get(srv, "/")
        assert resp.status == 200 and b"Knockout" in body
        closed: set[socket.socket] = set()
        for _ in range(100):  # at most ~5 s
            readable, _, _ = select.select([s for s in idle if s not in closed], [], [], 0.05)
            for s in readable:
                try:
                    if s.recv(4096) == b"":
                        closed.add(s)
                except ConnectionResetError:
                    closed.add(s)
            if len(closed) >= len(idle) - 4:
                break
        assert len(closed) >= len(idle) - 4, "no more than the cap stay open"
    finally:
        for s in idle:
            s.close()
        srv.stop()


def test_when_every_connection_is_busy_a_newcomer_gets_503(tmp_path):
    srv = _small_server(tmp_path, max_connections=2, idle_timeout=60)
    streams = []
    try:
        streams = [_open_events(srv), _open_events(srv)]  # busy, not idle: they are not closed for it
        resp, _ = _get(srv, "/")
        assert resp.status == 503
        for stream in streams:  # both event streams are still alive
            srv.hub.publish({"type": "ping"})
            received = b""
            while b"ping" not in received:
                chunk = stream.recv(4096)
                assert chunk
                received += chunk
    finally:
        for stream in streams:
            stream.close()
        srv.stop()


def test_the_event_stream_outlives_the_idle_timeout(tmp_path):
    srv = _small_server(tmp_path, idle_timeout=0.2)
    try:
        stream = _open_events(srv)
        idle = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        assert _closed_by_server(idle)  # so the idle timeout has passed
        srv.hub.publish({"type": "status", "status": {"ready": True}})
        received = b""
        while b"data: " not in received:
            chunk = stream.recv(4096)
            assert chunk, "the event stream was closed"
            received += chunk
        assert b'"ready":true' in received
        stream.close()
    finally:
        srv.stop()


def test_failures_answer_in_the_bridges_error_shape(server):
    resp, body = _get(server, "/doc/d1/thumb")
    assert resp.status == 403 and resp.getheader("Content-Type") == "application/json"
    assert json.loads(body)["error"]["code"] == "forbidden"
    resp, body = _get(server, f"/doc/nope/thumb?t={server.token}")
    assert resp.status == 404 and json.loads(body) == {
        "ok": False, "error": {"code": "not-found", "message": "That image is no longer in the list."}}


def test_a_bug_while_drawing_a_picture_is_a_server_error_not_a_missing_photo(server):
    resp, body = _get(server, f"/doc/d1/preview?view=bug&t={server.token}")
    error = json.loads(body)["error"]
    assert resp.status == 500 and error["code"] == "internal_error" and "bug in Knockout" in error["message"]


def test_a_paste_that_cannot_be_kept_answers_in_the_error_shape(tmp_path):
    def full_disk(data, name):
        raise OSError(28, "No space left on device", "/session/pasted/clip.png")

    srv = LoopbackServer(tmp_path, Docs(StubDoc()), EventHub(), on_paste=full_disk).start()
    try:
        resp, body = _get(srv, f"/paste?t={srv.token}&name=clip.png", method="POST", body=b"\x89PNG")
    finally:
        srv.stop()
    assert resp.status == 422 and json.loads(body) == {"ok": False, "error": {
        "code": "io_error", "message": "Could not read or write /session/pasted/clip.png: No space left on device."}}


def test_after_a_preview_is_replaced_by_the_full_answer_no_preview_tile_is_served(tmp_path):
    """The tile the page asked for during the preview, asked again (same URL, or the new version's)
    after the swap, is the full answer's: the document's caches are keyed by version."""
    photo(tmp_path / "a.jpg", size=(600, 400))
    doc = Document("d1", tmp_path / "a.jpg", "a.jpg", tmp_path)
    decoded = open_image(doc.path)
    srv = LoopbackServer(tmp_path, Docs(doc), EventHub()).start()
    try:
        doc.attach_preview(decoded, Image.new("L", (600, 400), 255))
        preview_version = doc.version

        def mask_tile(version):
            resp, body = _get(srv, f"/doc/d1/tile/0/0/0?view=mask&t={srv.token}&v={version}")
            assert resp.status == 200
            return np.asarray(Image.open(io.BytesIO(body)))

        assert mask_tile(preview_version).min() == 255
        final = Image.new("L", (600, 400), 0)
        final.paste(255, (150, 100, 450, 300))
        doc.attach(decoded, final, [])
        assert doc.version > preview_version
        for version in (preview_version, doc.version):
            tile = mask_tile(version)
            assert tile[0, 0] == 0 and tile[200, 300] == 255
        _resp, body = _get(srv, f"/doc/d1/preview?view=mask&t={srv.token}&v={doc.version}")
        assert np.asarray(Image.open(io.BytesIO(body)))[0, 0] == 0
    finally:
        srv.stop()
