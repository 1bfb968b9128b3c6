"""The fastest variant of the default model's weights on this CPU.

The bundled ISNet comes as variants of the same weights (manifest ``weights``): int8 is
about 3× faster than fp32 on a CPU with VNNI, but on one without (older Intel, AMD Zen 2/3)
the gap shrinks or turns. They score the same on the eval sets, so the fastest one on this
CPU may stand in for the default, never another network. ``measure`` times each on this
machine (``knockout self-test``, or the window in the background on first start); the pick
is kept per CPU (model name and the instruction sets that matter) and device in the user
data folder, and used only when nobody chose a model (a setting, a flag, a preset or IT's
policy always wins; IT's ``allowed_models`` is honoured).
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from PIL import Image

from app import paths
from app.core.atomic import write_atomic
from app.inference.manifest import Catalogue, ModelSpec

SCHEMA = 1
# Instruction sets that change which variant is fastest (int8 needs VNNI to pull ahead).
FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_int8")
RUNS = 2
NOTE = "fastest on this CPU"


def note_code(note: str | None) -> str | None:
    """The code the window words a model note by (ui/i18n: ``status.note_<code>``), None for none."""
    return "fastest" if note == NOTE else None


@dataclass(frozen=True)
class Cpu:
    model: str
    flags: tuple[str, ...]

    @property
    def key(self) -> str:
        return f"{self.model} [{' '.join(self.flags)}]"


@dataclass(frozen=True)
class Pick:
    """Which variant was fastest, with the seconds per inference of each that was timed."""

    model: str
    seconds: dict[str, float]
    measured: str  # UTC, ISO 8601


def this_cpu(cpuinfo: Path = Path("/proc/cpuinfo")) -> Cpu:
    """The CPU's name and which of ``FLAGS`` it has (Linux: /proc/cpuinfo; elsewhere what numpy detected)."""
    model, flags = "", set[str]()
    try:
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and not model:
                model = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = set(value.split())
    except OSError:
        flags = _numpy_flags()
    return Cpu(model or platform.processor() or platform.machine() or "unknown",
               tuple(flag for flag in FLAGS if flag in flags))


def _numpy_flags() -> set[str]:
    try:
        from numpy._core._multiarray_umath import __cpu_features__
    except ImportError:
        return set()
    names = {"AVX2": "avx2", "AVX512F": "avx512f", "AVX512VNNI": "avx512_vnni", "AVX512BF16": "avx512_bf16"}
    return {flag for name, flag in names.items() if __cpu_features__.get(name)}


def siblings(catalogue: Catalogue, model_id: str | None = None) -> list[ModelSpec]:
    """The bundled variants of ``model_id``'s weights (itself first) whose files are present;
    only itself when it names no weights. Models IT added never stand in for a bundled one."""
    spec = catalogue.get(model_id)
    if spec.weights is None or spec.source != "bundled":
        return [spec]
    others = [s for s in catalogue.models.values() if s.weights == spec.weights and s.source == "bundled"
              and s.id != spec.id and s.file.is_file()]
    return [spec, *others]


def measure(specs: Iterable[ModelSpec], engine_factory: Callable[[ModelSpec], Any], runs: int = RUNS,
            clock: Callable[[], float] = time.perf_counter) -> Pick:
    """Time one full-size inference of each variant (after a warm-up run; the median of ``runs``)."""
    *_, pick = measuring(specs, engine_factory, runs, clock)
    assert pick is not None
    return pick


def measuring(specs: Iterable[ModelSpec], engine_factory: Callable[[ModelSpec], Any], runs: int = RUNS,
              clock: Callable[[], float] = time.perf_counter) -> Iterator[Pick | None]:
    """``measure`` one inference at a time: None after each, the Pick last. The window runs one
    step whenever its worker is idle, so a photo opened meanwhile waits for one inference at most."""
    seconds: dict[str, float] = {}
    for spec in specs:
        engine = engine_factory(spec)
        tensor = engine.prepare(Image.new("RGB", spec.input.size, (128, 120, 110)))
        engine.infer(tensor)  # loading and the first run's allocations are not what a photo costs
        yield None
        times = []
        for _ in range(runs):
            start = clock()
            engine.infer(tensor)
            times.append(clock() - start)
            yield None
        seconds[spec.id] = round(statistics.median(times), 3)
        del engine
    fastest = min(seconds, key=seconds.__getitem__)
    yield Pick(fastest, seconds, datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))


def _file() -> Path:
    return paths.variant_picks_file()


def _slot(cpu: Cpu, device: str, weights: str) -> str:
    return f"{cpu.key} | {device} | {weights}"


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    picks = data.get("picks") if isinstance(data, dict) and data.get("schema") == SCHEMA else None
    return picks if isinstance(picks, dict) else {}


def stored(cpu: Cpu, device: str, weights: str, path: Path | None = None) -> Pick | None:
    """The pick measured on this CPU for this device, if any (an unreadable file counts as none)."""
    raw: Any = _read(path or _file()).get(_slot(cpu, device, weights))
    try:
        return Pick(str(raw["model"]), {str(k): float(v) for k, v in raw["seconds"].items()}, str(raw["measured"]))
    except (TypeError, KeyError, ValueError, AttributeError):
        return None


def store(cpu: Cpu, device: str, weights: str, pick: Pick, path: Path | None = None) -> None:
    """Keep the pick for this CPU and device (written atomically; other CPUs' picks are kept)."""
    path = path or _file()
    picks = _read(path)
    picks[_slot(cpu, device, weights)] = {"model": pick.model, "seconds": pick.seconds, "measured": pick.measured}
    payload = (json.dumps({"schema": SCHEMA, "picks": picks}, indent=2) + "\n").encode("utf-8")

    def write(fh: BinaryIO) -> None:
        fh.write(payload)

    write_atomic(path, write)


@dataclass(frozen=True)
class Choice:
    model: str
    note: str | None  # NOTE when the measured pick replaced the default, for the status bar and diagnose


def choose(catalogue: Catalogue, chosen: str | None, device: str, allowed: Iterable[str] | None = None,
           cpu: Cpu | None = None, path: Path | None = None) -> Choice:
    """The model to load: ``chosen`` when someone chose one, else the default's fastest measured
    variant on this CPU (among those IT allows), else the default."""
    if chosen is not None:
        return Choice(chosen, None)
    default = catalogue.get(None)
    if default.weights is None:
        return Choice(default.id, None)
    pick = stored(cpu or this_cpu(), device, default.weights, path)
    allowed_ids = None if allowed is None else set(allowed)
    usable = {spec.id for spec in siblings(catalogue) if allowed_ids is None or spec.id in allowed_ids}
    if pick is None or pick.model not in usable:
        return Choice(default.id, None)
    return Choice(pick.model, NOTE)


def needs_measuring(catalogue: Catalogue, device: str, cpu: Cpu | None = None, path: Path | None = None) -> bool:
    """Whether the default has variants to compare here and none was measured on this CPU yet."""
    default = catalogue.get(None)
    if default.weights is None or len(siblings(catalogue)) < 2:
        return False
    return stored(cpu or this_cpu(), device, default.weights, path) is None
