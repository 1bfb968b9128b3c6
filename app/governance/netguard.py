"""Refuse every outbound network connection from this process; loopback stays allowed.

Knockout never needs the network at run time, so the entry points install this guard
first thing: a library, plugin or future code path that tries to reach the outside gets
a clear :class:`NetworkBlocked` error (and a log line) instead of silently phoning home.
Loopback stays open for the desktop app's own preview endpoint.

The check never resolves names: a hostname other than ``localhost`` is refused as is,
so not even a DNS query leaves the machine through ``create_connection`` (a direct
``getaddrinfo`` call is left alone: it connects nowhere by itself). The guard covers
Python's ``socket`` module (and everything built on it: urllib, http.client, ssl,
asyncio); native code that opens its own sockets is outside its reach, which is why the
CLI is also tested in a network namespace without interfaces (tests/test_offline.py).

One exception is explicit: a batch on a Ray cluster (``knockout cut --cluster``) must reach
the cluster's own machines, so ``allow_hosts`` adds exactly those hosts (IP literals, or a
name exactly as IT configured it) to what passes; everything else is still refused, and the
list is emptied with the guard (``uninstall``).
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import socket
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger("knockout.netguard")

_originals: dict[str, Callable[..., Any]] = {}
_inherited: set[str] = set()  # methods socket.socket takes from _socket.socket: deleted again on uninstall
_lock = threading.Lock()
_blocked = 0
_extra_hosts: set[str] = set()  # allow_hosts: the cluster's machines, normalised (_host_key)


class NetworkBlocked(PermissionError):
    """An outbound connection Knockout refused because it works offline."""


def is_installed() -> bool:
    return bool(_originals)


def blocked_count() -> int:
    """Connection attempts refused since the guard was installed."""
    return _blocked


def is_loopback_host(host: Any) -> bool:
    """True for ``localhost`` and loopback IP literals (127.0.0.0/8, ::1, ::ffff:127.x); never resolves."""
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    name = host.strip().rstrip(".").lower()
    if name == "localhost":
        return True
    try:
        ip = ipaddress.ip_address(name.split("%", 1)[0])  # drop an IPv6 zone id (fe80::1%eth0)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def _host_key(host: Any) -> str | None:
    """How a host is compared with the allow-list: an IP literal in its canonical form (an
    IPv4-mapped IPv6 address as the IPv4 one), a name lower-cased without a trailing dot."""
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return None
    name = host.strip().rstrip(".").lower()
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        return name or None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return str(ip)


def allow_hosts(hosts: Any) -> None:
    """Let connections to exactly these hosts through as well (any port: a Ray cluster's nodes
    talk on several), e.g. the cluster's head and nodes. A name is matched as written, never
    resolved here. An empty or unspecified address (0.0.0.0, ::) is refused with ValueError:
    it would not name one machine."""
    keys = []
    for host in [hosts] if isinstance(hosts, str) else hosts:
        key = _host_key(host)
        if key is None or key in ("0.0.0.0", "::"):
            raise ValueError(f"not one machine's address: {host!r}")
        keys.append(key)
    with _lock:
        _extra_hosts.update(keys)
    log.debug("network guard: also allowing %s", ", ".join(keys))


def allowed_hosts() -> frozenset[str]:
    """The hosts ``allow_hosts`` added (normalised); loopback is always allowed besides these."""
    with _lock:
        return frozenset(_extra_hosts)


def is_allowed_host(host: Any) -> bool:
    """True for loopback and for a host ``allow_hosts`` added; never resolves."""
    if is_loopback_host(host):
        return True
    key = _host_key(host)
    return key is not None and key in _extra_hosts


def _allowed(family: int, address: Any) -> bool:
    """Unix sockets, loopback and allowed inet hosts pass; everything else (other families too) is refused."""
    if family == getattr(socket, "AF_UNIX", object()):
        return True
    if family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple) and address:
        return is_allowed_host(address[0])
    return False


def _describe(address: Any) -> str:
    if isinstance(address, tuple) and len(address) >= 2:
        host, port = address[0], address[1]
        if isinstance(host, bytes):
            host = host.decode("ascii", "replace")
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
    return repr(address)


def _refuse(address: Any, how: str) -> NetworkBlocked:
    global _blocked
    with _lock:
        _blocked += 1
    target = _describe(address)
    log.warning("blocked %s to %s (Knockout works offline)", how, target)
    return NetworkBlocked(f"Knockout is offline: blocked {how} to {target}")


def _check(sock: socket.socket, address: Any, how: str) -> None:
    if not _allowed(sock.family, address):
        raise _refuse(address, how)


def _wrap_connect(original: Callable[..., Any], how: str) -> Callable[..., Any]:
    @functools.wraps(original)
    def guarded(self: socket.socket, address: Any) -> Any:
        _check(self, address, how)
        return original(self, address)

    return guarded


def _wrap_sendto(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def guarded(self: socket.socket, data: Any, *args: Any) -> Any:
        if args:  # sendto(data, address) or sendto(data, flags, address)
            _check(self, args[-1], "datagram")
        return original(self, data, *args)

    return guarded


def _wrap_sendmsg(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def guarded(self: socket.socket, buffers: Any, *args: Any, **kwargs: Any) -> Any:
        address = args[2] if len(args) >= 3 else kwargs.get("address")
        if address is not None:  # without one the socket was connected, which the guard checked
            _check(self, address, "datagram")
        return original(self, buffers, *args, **kwargs)

    return guarded


def _wrap_create_connection(original: Callable[..., Any]) -> Callable[..., Any]:
    """Checked before ``getaddrinfo`` so a remote hostname is never even looked up."""

    @functools.wraps(original)
    def guarded(address: Any, *args: Any, **kwargs: Any) -> Any:
        if not (isinstance(address, tuple) and address and is_allowed_host(address[0])):
            raise _refuse(address, "connection")
        return original(address, *args, **kwargs)

    return guarded


_WRAPPERS: dict[str, Callable[[Callable[..., Any]], Callable[..., Any]]] = {
    "connect": lambda original: _wrap_connect(original, "connection"),
    "connect_ex": lambda original: _wrap_connect(original, "connection"),
    "sendto": _wrap_sendto,
    "sendmsg": _wrap_sendmsg,  # absent on Windows
}


def install() -> None:
    """Guard this process's sockets; calling it again changes nothing."""
    global _blocked
    with _lock:
        if _originals:
            return
        _blocked = 0
        for name, wrap in _WRAPPERS.items():
            original = getattr(socket.socket, name, None)
            if original is not None:
                _originals[name] = original
                if name not in vars(socket.socket):
                    _inherited.add(name)
                setattr(socket.socket, name, wrap(original))
        _originals["create_connection"] = socket.create_connection
        socket.create_connection = _wrap_create_connection(socket.create_connection)
    log.debug("network guard installed: only loopback connections are allowed")


def uninstall() -> None:
    """Put the original socket functions back, empty the allow-list and reset the count (for tests)."""
    global _blocked
    with _lock:
        for name, original in _originals.items():
            if name == "create_connection":
                socket.create_connection = original
            elif name in _inherited:
                delattr(socket.socket, name)
            else:
                setattr(socket.socket, name, original)
        _originals.clear()
        _inherited.clear()
        _extra_hosts.clear()
        _blocked = 0
