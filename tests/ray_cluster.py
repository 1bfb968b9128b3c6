"""A throwaway Ray cluster on this machine for the cluster tests: a head and a second node.

Both are ``ray start`` processes with one CPU each, a private temp dir, and an environment that
finds this checkout and the tests' models. Every process of the cluster (its daemons and the
workers they fork) carries a marker in its environment, so teardown ends exactly those by id,
never every Ray process of the user (``ray stop`` would).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MARKER = "KNOCKOUT_TEST_RAY_CLUSTER"
RAY = Path(sys.executable).with_name("ray")


@dataclass
class Cluster:
    address: str
    env: dict[str, str]  # for drivers: the same models, checkout and offline settings as the nodes
    marker: str
    temp: Path  # Ray's temp dir: every daemon of the cluster keeps its log files open in it

    def pids(self, title: str | None = None) -> list[int]:
        """Processes of this cluster; with ``title``, only those whose command line contains it
        (Ray names an actor's process ``ray::Cutter`` / ``ray::Cutter.cut``)."""
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():  # a driver in this process
                continue
            try:
                environ = (entry / "environ").read_bytes()
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if (title is None or title in cmdline) and (
                    f"{MARKER}={self.marker}".encode() in environ.split(b"\0") or self._holds_temp(entry)):
                found.append(int(entry.name))
        return found

    def _holds_temp(self, proc: Path) -> bool:
        """A process with a file open in the cluster's temp dir (a daemon whose title, set with
        setproctitle, overwrote the environment the marker was in)."""
        prefix = str(self.temp) + os.sep
        try:
            return any(os.readlink(fd).startswith(prefix) for fd in (proc / "fd").iterdir())
        except OSError:
            return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def environment(home: Path, marker: str) -> dict[str, str]:
    """This checkout, the user folders under ``home`` (models in ``home/data``, as
    ``tests.onnx_graphs`` installs them for app.paths.user_models_dir), no machine policy."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_") and k != "KNOCKOUT_POLICY_FILE"}
    env.update({"PYTHONPATH": str(REPO), "RAY_USAGE_STATS_ENABLED": "0", MARKER: marker, "PYTHONUNBUFFERED": "1"})
    env.update({var: str(home / sub) for var, sub in (("XDG_DATA_HOME", "data"), ("XDG_CONFIG_HOME", "config"),
                                                     ("XDG_CACHE_HOME", "cache"), ("XDG_STATE_HOME", "state"))})
    return env


def models_dir(home: Path) -> Path:
    """Where the cluster's processes look for user models (app.paths.user_models_dir under ``home``)."""
    return home / "data" / "Knockout" / "models"


@contextlib.contextmanager
def local_cluster(home: Path, cpus: int = 1) -> Iterator[Cluster]:
    """Start the head and a second node on 127.0.0.1; always torn down, even if starting failed."""
    marker = secrets.token_hex(8)
    env = environment(home, marker)
    temp = Path(tempfile.mkdtemp(prefix="kr-"))  # short: Ray's socket paths must fit 107 bytes
    port = free_port()
    cluster = Cluster(f"127.0.0.1:{port}", env, marker, temp)
    common = [f"--num-cpus={cpus}", "--disable-usage-stats", "--node-ip-address=127.0.0.1"]
    try:
        subprocess.run([str(RAY), "start", "--head", f"--port={port}", "--include-dashboard=false",
                        f"--temp-dir={temp}", *common], env=env, check=True, capture_output=True, timeout=120)
        subprocess.run([str(RAY), "start", f"--address={cluster.address}", *common], env=env, check=True,
                       capture_output=True, timeout=120)
        yield cluster
    finally:
        stop(cluster)
        subprocess.run(["rm", "-rf", str(temp)], check=False)


def stop(cluster: Cluster) -> None:
    """End this cluster's processes by id: SIGTERM, then SIGKILL what is left after a few seconds."""
    for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 2.0)):
        pids = cluster.pids()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while pids and cluster.pids() and time.monotonic() < deadline:
            time.sleep(0.2)
