"""Which onnxruntime execution provider to ask for, as a table (no onnxruntime import).

Preference: DirectML (Windows GPUs) → CoreML (Apple) → CUDA → CPU. The Azure provider
does *remote* inference and is never used. onnxruntime silently falls back to CPU when
a provider fails to initialise, so the session reports what is really in use.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

NEVER = frozenset({"AzureExecutionProvider"})
DEVICES = ("auto", "cpu")


@dataclass(frozen=True)
class ProviderChoice:
    name: str
    label: str  # what a person sees in the status bar
    options: dict[str, Any]
    sequential: bool = False  # DirectML: no parallel execution, no memory pattern


def _table(cache_dir: Path | None) -> list[ProviderChoice]:
    coreml_opts: dict[str, Any] = {"ModelFormat": "MLProgram", "MLComputeUnits": "ALL",
                                   "RequireStaticInputShapes": "1"}
    if cache_dir is not None:
        coreml_opts["ModelCacheDirectory"] = str(cache_dir / "coreml")
    return [
        ProviderChoice("DmlExecutionProvider", "DirectML · GPU 0", {"device_id": 0}, sequential=True),
        ProviderChoice("CoreMLExecutionProvider", "CoreML", coreml_opts),
        ProviderChoice("CUDAExecutionProvider", "CUDA · GPU 0", {"device_id": 0}),
        ProviderChoice("CPUExecutionProvider", "CPU", {}),
    ]


def choose(available: list[str], device: str = "auto", cache_dir: Path | None = None) -> list[ProviderChoice]:
    """Providers to request, best first, always ending with CPU."""
    if device not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}, not {device!r}")
    usable = set(available) - NEVER
    table = _table(cache_dir)
    cpu = table[-1]
    if device == "cpu":
        return [cpu]
    return [choice for choice in table[:-1] if choice.name in usable] + [cpu]


def cpu_threads() -> int:
    """Threads for CPU inference: the cores this process may use (at least 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS/Windows
        return max(1, os.cpu_count() or 1)


def describe(in_use: str, threads: int) -> str:
    """Status-bar text for the provider actually in use."""
    if in_use == "CPUExecutionProvider":
        return f"CPU · {threads} thread{'s' if threads != 1 else ''}"
    for choice in _table(None):
        if choice.name == in_use:
            return choice.label
    return in_use.removesuffix("ExecutionProvider")
