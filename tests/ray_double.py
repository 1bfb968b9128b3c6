"""A stand-in for the few Ray calls app.batch.cluster makes, running everything in this process.

Each fake node can see the shared drive somewhere else (``mounts``: the driver's path prefix →
this node's), so a probe task there finds another folder, as on a machine that mounted the
share elsewhere. Actors are plain objects; ``die`` makes a worker's next calls fail as a worker
lost for good (Ray's RayActorError) would.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from app.batch.cluster_node import Sample


class RayActorError(Exception):
    pass


class Ref:
    def __init__(self, run: Callable[[], Any]) -> None:
        try:
            self.value, self.error = run(), None
        except Exception as exc:
            self.value, self.error = None, exc


def node(node_id: str, host: str, cpus: int = 1) -> dict[str, Any]:
    return {"NodeID": node_id, "NodeManagerAddress": "192.0.2.10", "NodeManagerHostname": host,
            "Alive": True, "Resources": {"CPU": float(cpus)}}


def affinity(node_id: str, soft: bool) -> SimpleNamespace:
    return SimpleNamespace(node_id=node_id, soft=soft)


class FakeRay:
    exceptions = SimpleNamespace(RayActorError=RayActorError)

    def __init__(self, mounts: dict[str, tuple[str, str]] | None = None) -> None:
        self.mounts = mounts or {}
        self.context = SimpleNamespace(node="", cpus=1)
        self.killed: list[Any] = []
        self.probed: list[str] = []

    # -- what a node sees --------------------------------------------------------------------------
    def _seen(self, node_id: str, value: Any) -> Any:
        if node_id not in self.mounts:
            return value
        ours, theirs = self.mounts[node_id]
        if isinstance(value, str):
            return value.replace(ours, theirs, 1)
        if isinstance(value, list):
            return [self._seen(node_id, v) for v in value]
        if isinstance(value, Sample):
            return dataclasses.replace(value, path=self._seen(node_id, value.path))
        return value

    # -- the Ray API app.batch.cluster uses ------------------------------------------------------------
    def remote(self, **_options: Any) -> Callable[[Any], Any]:
        def wrap(target: Any) -> Any:
            return _ActorClass(self, target) if isinstance(target, type) else _Task(self, target)

        return wrap

    def get(self, ref: Ref, timeout: float | None = None) -> Any:
        if ref.error is not None:
            raise ref.error
        return ref.value

    def wait(self, refs: list[Ref], num_returns: int = 1, timeout: float | None = None) -> tuple[list, list]:
        return refs[:num_returns], refs[num_returns:]

    def kill(self, actor: Any, no_restart: bool = True) -> None:
        self.killed.append(actor)

    def get_runtime_context(self) -> Any:
        return SimpleNamespace(get_assigned_resources=lambda: {"CPU": float(self.context.cpus)},
                               get_node_id=lambda: self.context.node)


class _Task:
    def __init__(self, ray: FakeRay, fn: Callable[..., Any], node_id: str = "") -> None:
        self.ray, self.fn, self.node_id = ray, fn, node_id

    def options(self, scheduling_strategy: Any = None, **_: Any) -> _Task:
        return _Task(self.ray, self.fn, scheduling_strategy.node_id)

    def remote(self, *args: Any) -> Ref:
        self.ray.probed.append(self.node_id)
        return Ref(lambda: self.fn(*self.ray._seen(self.node_id, list(args))))


class _ActorClass:
    def __init__(self, ray: FakeRay, cls: type) -> None:
        self.ray, self.cls = ray, cls

    def options(self, num_cpus: int = 1, scheduling_strategy: Any = None, **_: Any) -> Any:
        ray, cls = self.ray, self.cls

        class Starter:
            @staticmethod
            def remote(*args: Any) -> FakeActor:
                ray.context = SimpleNamespace(node=scheduling_strategy.node_id, cpus=num_cpus)
                return FakeActor(cls(*args), scheduling_strategy.node_id)

        return Starter


class FakeActor:
    def __init__(self, instance: Any, node_id: str) -> None:
        self.instance, self.node_id, self.dead = instance, node_id, False
        self.calls: list[list[Any]] = []

    def die(self) -> None:
        self.dead = True

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.instance, name)
        actor = self

        def call(*args: Any) -> Ref:
            if name == "cut":
                actor.calls.append(list(args[0]))

            def run() -> Any:
                if actor.dead:
                    raise RayActorError("The actor died unexpectedly before finishing this task.")
                return method(*args)

            return Ref(run)

        return SimpleNamespace(remote=call)
