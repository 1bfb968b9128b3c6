"""A batch whose photos are cut on the machines of a Ray cluster (``knockout cut/watch --cluster``).

``ClusterBatch`` is called like ``app.batch.pipeline.run_batch`` (jobs in, results out as they
finish), so ``cut`` and ``watch`` keep their inputs, journal, export path, report and exit codes;
only where the work runs differs. The driver (this process) owns the journal: it records a
photo's ``start`` line before handing it out and passes each result to the one export service
(rules, audit, ``done`` line). Workers (``app.batch.cluster_node.Cutter``, one per node, all of
that node's CPUs) write outputs atomically on the shared drive.

Why Ray actors with a small dispatch loop here, not Ray Data's actor pool: the journal needs a
hook on the driver between "handed to a worker" and "came back" for every photo, Ray Data's
streaming executor hands rows out on its own schedule and gives none; ``watch`` feeds an endless
generator that blocks between polls, which a Dataset cannot take; and ``ray.util.ActorPool``
does not say which submission an error belongs to, so a lost chunk's photos could not be failed
by name. The scheduling itself is Ray's: actor placement, restarts of a killed worker
(``max_restarts``) and the retry of the calls it was running (``max_task_retries``), which
redo a killed worker's photos; an output the dead worker had half written is a ``.part`` file,
removed when the batch ends (the driver holds the journal's lock, so no run of ours is writing).

Offline: usage statistics off, no dashboard, worker logs not streamed to the driver, and the
network guard lets through exactly the configured head and the nodes Ray reports (allow_hosts).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import queue
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from app.batch.cluster_node import PROBE_PREFIX, ChunkDone, ClusterError, Cutter, Sample, check_share
from app.batch.cluster_progress import Tallies
from app.batch.journal import remove_stale_parts
from app.batch.pipeline import STOP_GRACE
from app.batch.results import Job, Outputs, Result, failed
from app.core.atomic import write_atomic
from app.core.decode import DEFAULT_MAX_PIXELS
from app.core.export import ExportSettings
from app.core.source_quality import DEFAULT_CHECKS, SourceChecks
from app.governance import netguard
from app.inference.manifest import ModelSpec

CHUNK = 4  # photos per call: enough for a worker's decode, model and encode stages to overlap
PER_WORKER = 2  # calls queued per worker, so it starts the next chunk while the driver collects one
RESTARTS = 3  # a killed worker comes back this often; its unfinished call is retried as often
SAMPLES = 20  # input files every node must see, spread over the batch


def host_of(address: str) -> str | None:
    """The host of a Ray address ("10.0.0.5:6379", "[fd00::5]:6379", "head.lan"); None for "auto"."""
    if address == "auto":
        return None
    if address.startswith("ray://"):
        raise ClusterError(f"{address}: Ray Client addresses are not supported; give the head's "
                           "host:port (6379 unless IT chose another), and run knockout on a node of the cluster")
    if address.startswith("["):
        return address[1:].partition("]")[0]
    return address.rsplit(":", 1)[0] if address.count(":") == 1 else address


def samples_of(paths: list[Path], limit: int = SAMPLES) -> list[Sample]:
    """Up to ``limit`` files spread evenly over ``paths``, with the sizes the driver sees."""
    step = max(1, len(paths) // limit)
    found = []
    for path in paths[::step][:limit]:
        try:
            found.append(Sample(str(path.resolve()), None if path.is_dir() else path.stat().st_size))
        except OSError:
            continue  # the batch reports it as that file's failure
    return found


class _Feed:
    """Jobs pulled from ``jobs`` on a thread (watch's generator blocks between polls), so the
    dispatch loop keeps collecting results while no new file has come."""

    def __init__(self, jobs: Iterable[Job], capacity: int) -> None:
        self.queue: queue.Queue[Job] = queue.Queue(maxsize=capacity)
        self.error: BaseException | None = None
        self.finished = threading.Event()
        self.halt = threading.Event()
        self.thread = threading.Thread(target=self._pull, args=(jobs,), name="knockout-cluster-feed", daemon=True)
        self.thread.start()

    def _pull(self, jobs: Iterable[Job]) -> None:
        try:
            for job in jobs:
                while not self.halt.is_set():
                    try:
                        self.queue.put(job, timeout=0.25)
                        break
                    except queue.Full:
                        continue
                if self.halt.is_set():
                    return
        except Exception as exc:
            self.error = exc
        finally:
            self.finished.set()

    def take(self, most: int) -> list[Job]:
        taken: list[Job] = []
        while len(taken) < most:
            try:
                taken.append(self.queue.get_nowait())
            except queue.Empty:
                break
        return taken

    @property
    def exhausted(self) -> bool:
        return self.finished.is_set() and self.queue.empty()


class _Chunk:
    def __init__(self, worker: Any, jobs: list[Job]) -> None:
        self.worker, self.jobs = worker, jobs


class ClusterBatch:
    """Connect (``prepare``), then call like ``run_batch``; ``tallies`` has each node's throughput."""

    def __init__(self, address: str, out_dir: Path, model: ModelSpec, device: str = "cpu",
                 workers: int | None = None, chunk: int = CHUNK) -> None:
        self.address, self.out_dir, self.model, self.device = address, out_dir, model, device
        self.max_workers, self.chunk = workers, chunk
        self.tallies = Tallies()
        self.on_progress: Callable[[Tallies], None] | None = None
        self._ray: Any = None
        self._affinity: Any = None
        self._nodes: list[dict[str, Any]] = []
        self._workers: list[Any] = []
        self._labels: dict[str, str] = {}

    # -- connecting and checking -------------------------------------------------------------
    def prepare(self, inputs: list[Path]) -> str:
        """Connect, allow the cluster's machines through the network guard, and check that every
        node sees the output folder and ``inputs`` at the same paths; returns what the start line
        shows. ClusterError says what is wrong (naming the node). Connects once (or not at all
        after ``use``)."""
        if self._ray is None:
            self._connect()
        self._check_nodes(samples_of(inputs))
        cpus = sum(int(n["Resources"].get("CPU", 0)) for n in self._nodes)
        return (f"Ray cluster {self.address} · {len(self._nodes)} node{'s' if len(self._nodes) != 1 else ''}, "
                f"{cpus} CPUs")

    def _connect(self) -> None:
        os.environ["RAY_USAGE_STATS_ENABLED"] = "0"  # before Ray is imported: never report usage
        try:
            import ray
        except ImportError:
            raise ClusterError("--cluster needs Ray: install the cluster extra (pip install 'knockout[cluster]')") \
                from None
        address = (os.environ.get("RAY_ADDRESS") or "auto") if self.address == "auto" else self.address
        if (host := host_of(address)) is not None:
            netguard.allow_hosts([host])
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING,
                     namespace="knockout", ignore_reinit_error=True)
        except Exception as exc:  # ConnectionError, a timeout, a version mismatch: Ray's own words
            raise ClusterError(f"cannot join the Ray cluster at {address}: {exc}") from None
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        self.use(ray, [n for n in ray.nodes() if n.get("Alive")], NodeAffinitySchedulingStrategy)

    def use(self, ray: Any, nodes: list[dict[str, Any]], affinity: Any) -> None:
        """Work through ``ray`` (the module, or a stand-in in tests) on ``nodes`` (``ray.nodes()``
        entries), placing tasks with ``affinity(node_id, soft)``; the nodes' addresses join the
        network guard's allow-list."""
        self._ray, self._nodes, self._affinity = ray, nodes, affinity
        netguard.allow_hosts(sorted({n["NodeManagerAddress"] for n in nodes}))
        for node in nodes:
            host = node.get("NodeManagerHostname") or node["NodeManagerAddress"]
            self._labels[node["NodeID"]] = f"{host} [{node['NodeID'][:8]}]"

    def _check_nodes(self, samples: list[Sample]) -> None:
        """A tiny task on every node reads a probe file the driver wrote into the output folder."""
        ray = self._ray
        token = secrets.token_hex(16)
        probe = self.out_dir / f"{PROBE_PREFIX}{token[:8]}"
        write_atomic(probe, lambda fh: fh.writelines([token.encode()]))
        try:
            task = ray.remote(num_cpus=0, max_retries=0)(check_share)
            refs = {node["NodeID"]: task.options(scheduling_strategy=self._affinity(node["NodeID"], soft=False)).remote(
                str(probe.resolve()), token, samples) for node in self._nodes}
            problems = []
            for node_id, ref in refs.items():
                try:
                    problem = ray.get(ref, timeout=120)
                except Exception as exc:
                    problem = f"the check did not run ({exc})"
                if problem:
                    problems.append(f"node {self._labels[node_id]}: {problem}")
        finally:
            probe.unlink(missing_ok=True)
        if problems:
            raise ClusterError("the input and output folders must be on a drive every node mounts at the same "
                               "path; " + "; ".join(problems))

    # -- workers -------------------------------------------------------------------------------
    def start_workers(self, settings: ExportSettings, max_pixels: int = DEFAULT_MAX_PIXELS, outputs: Outputs = (),
                      checks: SourceChecks = DEFAULT_CHECKS) -> None:
        """Start the workers and wait until each has loaded its model (a batch does this itself
        if they are not up; bench/cluster.py times it apart from the photos)."""
        if not self._workers:
            self._start_workers(settings, max_pixels, outputs, checks)

    def _start_workers(self, settings: ExportSettings, max_pixels: int, outputs: Outputs,
                       checks: SourceChecks) -> None:
        ray = self._ray
        hosts = sorted(netguard.allowed_hosts())
        remote = ray.remote(max_restarts=RESTARTS, max_task_retries=RESTARTS)(_assigned_cutter(ray))
        nodes = [n for n in self._nodes if n["Resources"].get("CPU", 0) >= 1][: self.max_workers]
        if not nodes:
            raise ClusterError(f"the Ray cluster at {self.address} has no node with a free CPU")
        self._workers = []
        for node in nodes:
            cpus = int(node["Resources"]["CPU"])
            self._workers.append(remote.options(
                num_cpus=cpus, scheduling_strategy=self._affinity(node["NodeID"], soft=True),
            ).remote(self.model.id, self.model.sha256, self.device, settings, max_pixels, hosts, outputs, checks))
            self.tallies.add_node(node["NodeID"], self._labels[node["NodeID"]])
        for node, worker in zip(nodes, self._workers, strict=True):
            try:
                ray.get(worker.ready.remote(), timeout=600)
            except Exception as exc:
                self.shutdown()
                raise ClusterError(f"node {self._labels[node['NodeID']]}: the worker did not start: "
                                   f"{_cause(exc)}") from None

    def shutdown(self) -> None:
        """Stop the workers (the cluster itself stays up for the next batch)."""
        for worker in self._workers:
            self._ray.kill(worker, no_restart=True)
        self._workers = []

    # -- the batch -------------------------------------------------------------------------------
    def __call__(self, engine: Any, jobs: Iterable[Job], settings: ExportSettings,
                 max_pixels: int = DEFAULT_MAX_PIXELS, cancel: threading.Event | None = None,
                 on_start: Callable[[Job], None] | None = None,
                 stop: threading.Event | None = None, outputs: Outputs = (),
                 checks: SourceChecks = DEFAULT_CHECKS) -> Iterator[Result]:
        """``run_batch`` on the cluster (``engine`` is the driver's: its spec is what the workers load)."""
        cancel = cancel or threading.Event()
        stop = stop or threading.Event()
        self.start_workers(settings, max_pixels, outputs, checks)
        feed = _Feed(jobs, capacity=len(self._workers) * PER_WORKER * self.chunk)
        pending: dict[Any, _Chunk] = {}
        try:
            yield from self._dispatch(feed, pending, on_start, cancel, stop)
            if feed.error is not None:
                yield Result("(input files)", "", "failed", code="internal_error",
                             message=f"listing the files stopped: {feed.error}")
        finally:
            feed.halt.set()  # also when stopped early (Ctrl+C, a caller that stopped reading):
            self.shutdown()  # the workers go, so nothing more is written, and what a killed
            remove_stale_parts(self.out_dir)  # worker left half written goes too (we hold the journal)

    def _dispatch(self, feed: _Feed, pending: dict[Any, _Chunk], on_start: Callable[[Job], None] | None,
                  cancel: threading.Event, stop: threading.Event) -> Iterator[Result]:
        ray = self._ray
        last_progress = time.monotonic()
        while True:
            stopping = cancel.is_set() or stop.is_set()
            if not stopping:
                last_progress = time.monotonic()  # the grace below counts from the stop at the earliest
            if cancel.is_set() and pending:
                yield from self._give_up(pending, "cancelled", "cancelled")
                return
            if not stopping:
                yield from self._hand_out(feed, pending, on_start)
            if not pending:
                if stopping or feed.exhausted:
                    return
                feed.finished.wait(0.05)
                continue
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=0.25)
            for ref in ready:
                last_progress = time.monotonic()
                yield from self._collect(ref, pending.pop(ref))
            if stopping and time.monotonic() - last_progress > STOP_GRACE:
                yield from self._give_up(pending, "cancelled", "stopped before this file was finished")
                return
            if not self._workers:
                yield from self._give_up(pending, "failed", "no worker of the cluster is left")
                raise ClusterError(f"every worker of the Ray cluster at {self.address} was lost; "
                                   "rerun the same command to resume")

    def _hand_out(self, feed: _Feed, pending: dict[Any, _Chunk], on_start: Callable[[Job], None] | None,
                  ) -> Iterator[Result]:
        """Give each worker with room a chunk of what is waiting (smaller chunks when little is)."""
        for worker in list(self._workers):
            busy = sum(1 for c in pending.values() if c.worker is worker)
            if busy >= PER_WORKER:
                continue
            share = max(1, min(self.chunk, feed.queue.qsize() // max(1, len(self._workers))))
            jobs = []
            for job in feed.take(share):
                try:
                    pin_version(job)
                    if on_start is not None:
                        on_start(job)  # the journal's start line, before the output can appear
                except Exception as exc:
                    yield failed(job, exc, time.perf_counter())
                    continue
                jobs.append(job)
            if jobs:
                pending[worker.cut.remote([as_pinned(job) for job in jobs])] = _Chunk(worker, jobs)

    def _collect(self, ref: Any, chunk: _Chunk) -> Iterator[Result]:
        try:
            done: ChunkDone = self._ray.get(ref)
        except Exception as exc:  # the worker died more often than it may restart, or the call broke
            if chunk.worker in self._workers and isinstance(exc, self._ray.exceptions.RayActorError):
                self._workers.remove(chunk.worker)
            for job in chunk.jobs:
                yield Result(job.label, str(job.source), "failed", code="cluster_error",
                             message=f"lost on the cluster ({_cause(exc)}); rerun to redo it")
            return
        self.tallies.count(done.node, self._labels.get(done.node, done.host),
                           [r.status for r in done.results], done.seconds)
        versions = {(job.label, str(job.source)): job.version for job in chunk.jobs if job.versions is not None}
        for result in done.results:  # the worker wrote a pinned path: the version is the driver's to name
            if result.status == "written" and (result.label, result.source) in versions:
                result.version = versions[(result.label, result.source)]
        if self.on_progress is not None:
            self.on_progress(self.tallies)
        yield from done.results

    def _give_up(self, pending: dict[Any, _Chunk], status: str, reason: str) -> Iterator[Result]:
        for chunk in pending.values():
            for job in chunk.jobs:
                yield Result(job.label, str(job.source), status, code=None if status == "cancelled" else
                             "cluster_error", message=reason)
        pending.clear()
        self.shutdown()


def pin_version(job: Job) -> None:
    """A ``{version}`` output's version chosen once, here on the driver, before its start line: the
    next free one if another program took the planned one meanwhile. The worker then writes exactly
    that path (``as_pinned``), so a retried call after a killed worker rewrites its own file
    instead of taking one more version: never a duplicate."""
    while job.versions is not None and job.output.exists():
        job.output = job.versions.path(job.versions.next_free([job.output]))


def as_pinned(job: Job) -> Job:
    """What a worker gets for ``job``: its output path as decided (no version to look for)."""
    return job if job.versions is None else dataclasses.replace(job, versions=None)


def _cause(exc: BaseException) -> str:
    """Ray's error, first line only (its full text repeats the remote traceback)."""
    text = str(getattr(exc, "cause", None) or exc).strip()
    return text.splitlines()[-1] if text else type(exc).__name__


def _assigned_cutter(ray: Any) -> type:
    """``Cutter`` with the thread count Ray assigned this actor (its CPUs) and Ray's node id."""

    class AssignedCutter(Cutter):
        def __init__(self, model_id: str, sha256: str, device: str, settings: ExportSettings, max_pixels: int,
                     hosts: list[str], outputs: Outputs, checks: SourceChecks) -> None:
            context = ray.get_runtime_context()
            threads = max(1, int(context.get_assigned_resources().get("CPU", 1)))
            super().__init__(model_id, sha256, device, threads, settings, max_pixels, hosts,
                             node=context.get_node_id(), outputs=outputs, checks=checks)

    AssignedCutter.__name__ = AssignedCutter.__qualname__ = "Cutter"
    return AssignedCutter
