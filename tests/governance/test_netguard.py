"""The network guard refuses every non-loopback connection and never lets a packet out."""

from __future__ import annotations

import logging
import socket
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from app import cli
from app.governance import netguard
from app.governance.netguard import NetworkBlocked
from tests.fakes import FakeEngine, photo

REPO = Path(__file__).resolve().parents[2]
TEST_NET = ("192.0.2.1", 9)  # RFC 5737 documentation range: nothing answers there
SPIED = ("connect", "connect_ex", "sendto", "sendmsg")


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Any]]:
    """Install the guard over spies on the real socket methods; the spies record what got through."""
    seen: dict[str, list[Any]] = {name: [] for name in SPIED}
    for name in SPIED:
        real = getattr(socket.socket, name)

        def spy(self: socket.socket, *args: Any, _real: Any = real, _name: str = name) -> Any:
            seen[_name].append(args)
            return _real(self, *args)

        monkeypatch.setattr(socket.socket, name, spy)
    netguard.install()
    yield seen
    netguard.uninstall()


@pytest.fixture
def listener():
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(10)
    yield server
    server.close()


def test_connect_to_a_remote_address_raises_the_guard_error_before_the_real_connect(calls, caplog):
    caplog.set_level(logging.WARNING, logger="knockout.netguard")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)  # only matters if the guard failed
        with pytest.raises(NetworkBlocked, match=r"Knockout is offline: blocked connection to 192\.0\.2\.1:9$"):
            sock.connect(TEST_NET)
    assert calls["connect"] == []
    assert netguard.blocked_count() == 1
    assert [r.name for r in caplog.records] == ["knockout.netguard"]
    assert "192.0.2.1:9" in caplog.records[0].getMessage()


def test_blocked_error_is_a_permission_error_so_callers_handling_oserror_cope():
    assert issubclass(NetworkBlocked, PermissionError) and issubclass(NetworkBlocked, OSError)


def test_connect_ex_to_a_remote_address_is_refused(calls):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock, pytest.raises(NetworkBlocked):
        sock.connect_ex(("93.184.216.34", 443))
    assert calls["connect_ex"] == []


def test_ipv6_remote_address_is_refused_and_named_in_brackets(calls):
    try:
        sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    except OSError:
        pytest.skip("no IPv6 sockets here")
    with sock, pytest.raises(NetworkBlocked, match=r"\[2001:db8::1\]:443"):
        sock.connect(("2001:db8::1", 443, 0, 0))
    assert calls["connect"] == []


@pytest.mark.parametrize("flags", [(), (0,)], ids=["sendto(data, addr)", "sendto(data, flags, addr)"])
def test_udp_sendto_a_remote_address_is_refused(calls, flags):
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with udp as sock, pytest.raises(NetworkBlocked, match=r"192\.0\.2\.1:9$"):
        sock.sendto(b"hello", *flags, TEST_NET)
    assert calls["sendto"] == []


@pytest.mark.skipif(not hasattr(socket.socket, "sendmsg"), reason="no sendmsg on this platform")
def test_udp_sendmsg_to_a_remote_address_is_refused(calls):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock, pytest.raises(NetworkBlocked):
        sock.sendmsg([b"hello"], [], 0, TEST_NET)
    assert calls["sendmsg"] == []


def test_create_connection_refuses_a_hostname_without_looking_it_up(calls, monkeypatch):
    lookups: list[Any] = []
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: lookups.append(a) or [])
    with pytest.raises(NetworkBlocked, match=r"example\.com:443$"):
        socket.create_connection(("example.com", 443), timeout=5)
    assert lookups == [] and calls["connect"] == []


def test_loopback_tcp_connection_to_a_local_listener_works(calls, listener):
    port = listener.getsockname()[1]
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as client:
        client.settimeout(10)
        client.connect(("127.0.0.1", port))
        peer, _ = listener.accept()
        with peer:
            client.sendall(b"ping")
            assert peer.recv(4) == b"ping"
    assert calls["connect"] == [(("127.0.0.1", port),)]
    assert netguard.blocked_count() == 0


def test_create_connection_to_localhost_reaches_a_local_listener(calls, listener):
    port = listener.getsockname()[1]
    with socket.create_connection(("localhost", port), timeout=10) as client:
        peer, _ = listener.accept()
        with peer:
            client.sendall(b"pong")
            assert peer.recv(4) == b"pong"


def test_loopback_udp_datagram_is_delivered(calls):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        receiver.bind(("127.0.0.1", 0))
        receiver.settimeout(10)
        sender.sendto(b"hi", receiver.getsockname())
        assert receiver.recv(2) == b"hi"


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="no Unix sockets on this platform")
def test_unix_socket_connection_is_allowed(calls, tmp_path):
    path = str(tmp_path / "s")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(path)
        server.listen(1)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(path)
            assert calls["connect"] == [(path,)]


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1", "localhost", "LocalHost."])
def test_loopback_hosts_are_recognised(host):
    assert netguard.is_loopback_host(host)


@pytest.mark.parametrize("host", ["192.0.2.1", "10.0.0.1", "0.0.0.0", "::", "::ffff:192.0.2.1", "2001:db8::1",
                                  "example.com", "localhost.example.com", "", "<broadcast>", None])
def test_other_hosts_are_not_loopback(host):
    assert not netguard.is_loopback_host(host)


def test_install_is_idempotent_and_uninstall_restores_the_socket_module():
    originals = {name: getattr(socket.socket, name) for name in SPIED} | {"cc": socket.create_connection}
    netguard.install()
    guarded = socket.socket.connect
    netguard.install()
    assert netguard.is_installed() and socket.socket.connect is guarded is not originals["connect"]
    netguard.uninstall()
    assert not netguard.is_installed()
    assert {name: getattr(socket.socket, name) for name in SPIED} | {"cc": socket.create_connection} == originals
    assert all(name not in vars(socket.socket) for name in ("connect", "connect_ex"))


def test_cli_main_installs_the_guard_before_parsing_arguments():
    with pytest.raises(SystemExit):
        cli.main(["--version"])
    assert netguard.is_installed()


def test_cut_start_line_says_offline(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli.options, "engine_for", lambda args: FakeEngine())
    photo(tmp_path / "a.jpg")
    assert cli.main(["cut", str(tmp_path / "a.jpg"), "-o", str(tmp_path / "out")]) == 0
    assert "knockout: 1 image · model fake · CPU · fake · offline\n" in capsys.readouterr().err


@pytest.mark.model
def test_full_cut_with_the_real_model_works_under_the_guard(tmp_path, capsys):
    sample = REPO / "app" / "assets" / "sample-coffee.jpg"
    assert cli.main(["cut", str(sample), "-o", str(tmp_path), "--device", "cpu"]) == 0
    assert netguard.is_installed() and netguard.blocked_count() == 0
    assert "· offline" in capsys.readouterr().err
    with Image.open(tmp_path / "sample-coffee.png") as out:
        assert out.mode == "RGBA" and out.size == (600, 400)


# -- the explicit allow-list (a Ray cluster's machines) -------------------------------------------


@pytest.fixture
def reached(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The guard over a connect that records where it was asked to go and never goes there."""
    seen: list[Any] = []
    monkeypatch.setattr(socket.socket, "connect", lambda self, address: seen.append(address))
    netguard.install()
    yield seen
    netguard.uninstall()


def test_an_allowed_cluster_host_is_reached_and_every_other_host_still_refused(reached):
    netguard.allow_hosts(["192.0.2.10", "192.0.2.11"])
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.connect(("192.0.2.10", 6379))
        sock.connect(("192.0.2.11", 40000))
        with pytest.raises(NetworkBlocked, match=r"192\.0\.2\.12:6379$"):
            sock.connect(("192.0.2.12", 6379))
    assert reached == [("192.0.2.10", 6379), ("192.0.2.11", 40000)]
    assert netguard.blocked_count() == 1


def test_allowed_hosts_are_compared_in_canonical_form(reached):
    netguard.allow_hosts(["Head.Studio.Example.", "2001:DB8::0:1"])
    assert netguard.allowed_hosts() == {"head.studio.example", "2001:db8::1"}
    assert netguard.is_allowed_host("head.studio.example")
    assert netguard.is_allowed_host("2001:db8:0::1")
    assert not netguard.is_allowed_host("studio.example")
    assert not netguard.is_allowed_host("2001:db8::2")


def test_an_ipv4_mapped_address_of_an_allowed_host_passes(reached):
    netguard.allow_hosts("192.0.2.10")
    assert netguard.is_allowed_host("::ffff:192.0.2.10")


def test_create_connection_to_an_allowed_name_is_let_through_but_others_are_not_looked_up(monkeypatch):
    lookups: list[Any] = []
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: lookups.append(a[:2]) or [])
    netguard.install()
    netguard.allow_hosts(["head.studio.example"])
    with pytest.raises(OSError):  # our fake lookup finds nothing: the real create_connection says so
        socket.create_connection(("head.studio.example", 6379), timeout=5)
    with pytest.raises(NetworkBlocked):
        socket.create_connection(("example.com", 443), timeout=5)
    assert lookups == [("head.studio.example", 6379)]


@pytest.mark.parametrize("host", ["", "0.0.0.0", "::", "  "])
def test_an_address_that_names_no_one_machine_is_refused_for_the_allow_list(host):
    with pytest.raises(ValueError, match="not one machine"):
        netguard.allow_hosts([host])
    assert netguard.allowed_hosts() == frozenset()


def test_uninstall_empties_the_allow_list(reached):
    netguard.allow_hosts(["192.0.2.10"])
    netguard.uninstall()
    netguard.install()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock, pytest.raises(NetworkBlocked):
        sock.connect(("192.0.2.10", 6379))
