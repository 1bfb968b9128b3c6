"""What runs on each machine of a Ray cluster: the share check and the cutter actor.

Nothing here imports Ray: the driver (``app.batch.cluster``) wraps these in ``ray.remote``, and
the tests call them directly. A cutter is the local batch on one node: it loads the model once
(its sha256 checked on that node against the node's own manifest and the driver's), opens one
onnxruntime session with as many threads as the CPUs Ray gave it, and runs each chunk of jobs
through ``app.batch.pipeline.run_batch``, the very code of a local batch (decode → model → edges →
render → atomic write). What follows a written file (the preset's rules, the audit record, the
journal line) is the driver's, through the one export service.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from app.batch.pipeline import run_batch
from app.batch.results import Job, Outputs, Result
from app.core.errors import KnockoutError
from app.core.export import ExportSettings
from app.core.source_quality import DEFAULT_CHECKS, SourceChecks
from app.governance import netguard
from app.inference.engine import Engine
from app.inference.manifest import discover

PROBE_PREFIX = ".knockout-cluster-probe-"  # the driver's probe file in the output folder


class ClusterError(KnockoutError):
    """The cluster cannot run this batch (not reachable, a node that cannot see the files, a model
    that differs on a node)."""

    code = "cluster_error"


@dataclass(frozen=True)
class Sample:
    """A file the driver sees, as every node must see it: same path, same size (a folder: there)."""

    path: str
    size: int | None


def check_share(probe: str, token: str, samples: list[Sample]) -> str | None:
    """On one node: None if the driver's probe file (written into the output folder) reads back
    with ``token``, the output folder takes a new file, and each sample input is there with the
    same size; else what is wrong, for an error that names the node."""
    path = Path(probe)
    try:
        seen = path.read_text(encoding="utf-8")
    except OSError as exc:
        return f"cannot read {path} ({exc.strerror or exc}): the output folder is not shared at this path"
    if seen != token:
        return f"{path} holds something else: this path is another folder on this node, not the shared one"
    scratch = path.with_name(f"{path.name}.{os.getpid()}")
    try:
        scratch.write_bytes(b"")
        scratch.unlink()
    except OSError as exc:
        return f"cannot write in {path.parent} ({exc.strerror or exc})"
    for sample in samples:
        try:
            size = os.stat(sample.path).st_size
        except OSError as exc:
            return f"cannot see the input {sample.path} ({exc.strerror or exc})"
        if sample.size is not None and size != sample.size:
            return f"the input {sample.path} differs here ({size} bytes, the driver sees {sample.size})"
    return None


@dataclass
class ChunkDone:
    """A chunk's results and where and how long it ran (the driver's per-node throughput)."""

    node: str  # Ray's node id
    host: str  # the machine's name, for people
    results: list[Result]
    seconds: float


class Cutter:
    """One worker's model and pipeline; Ray makes one per actor and calls ``cut`` per chunk."""

    def __init__(self, model_id: str, sha256: str, device: str, threads: int, settings: ExportSettings,
                 max_pixels: int, cluster_hosts: list[str], node: str = "", outputs: Outputs = (),
                 checks: SourceChecks = DEFAULT_CHECKS) -> None:
        self.host = socket.gethostname()
        self.node = node or self.host
        netguard.install()  # this worker too reaches nothing but the cluster's machines
        netguard.allow_hosts(cluster_hosts)
        catalogue = discover()
        spec = catalogue.get(model_id)
        if spec.sha256 != sha256:
            raise ClusterError(f"node {self.host}: model {model_id} is another file here (manifest sha256 "
                               f"{spec.sha256[:16]}…, the driver's {sha256[:16]}…); install the same models "
                               "on every node")
        self.engine = Engine(model=model_id, device=device, threads=threads, catalogue=catalogue)
        self.engine.load()  # the file's own sha256 checked here, on this node
        self.settings, self.max_pixels = settings, max_pixels
        self.outputs, self.checks = outputs, checks  # a delivery set's outputs, the preset's source checks

    def ready(self) -> str:
        """How this worker runs the model ("CPU · 2 threads"), once it is loaded."""
        return self.engine.description

    def cut(self, jobs: list[Job]) -> ChunkDone:
        started = time.perf_counter()
        results = list(run_batch(self.engine, jobs, self.settings, self.max_pixels, outputs=self.outputs,
                                 checks=self.checks))
        return ChunkDone(self.node, self.host, results, time.perf_counter() - started)
