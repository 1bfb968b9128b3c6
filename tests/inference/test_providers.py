"""Execution-provider choice with faked provider lists (DirectML/CoreML cannot run here)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.inference import providers
from app.inference.providers import choose, cpu_threads, describe

WINDOWS = ["DmlExecutionProvider", "CPUExecutionProvider", "AzureExecutionProvider"]
MACOS = ["CoreMLExecutionProvider", "AzureExecutionProvider", "CPUExecutionProvider"]
LINUX_CUDA = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
LINUX_STOCK = ["AzureExecutionProvider", "CPUExecutionProvider"]


def _names(available: list[str], device: str = "auto") -> list[str]:
    return [c.name for c in choose(available, device)]


def test_windows_directml_first_never_azure() -> None:
    chosen = choose(WINDOWS)
    assert [c.name for c in chosen] == ["DmlExecutionProvider", "CPUExecutionProvider"]
    dml = chosen[0]
    assert dml.sequential, "DirectML needs sequential execution without a memory pattern"
    assert dml.options == {"device_id": 0}
    assert dml.label == "DirectML · GPU 0"
    assert not chosen[-1].sequential and chosen[-1].options == {}


def test_macos_coreml_options(tmp_path: Path) -> None:
    chosen = choose(MACOS, cache_dir=tmp_path)
    assert [c.name for c in chosen] == ["CoreMLExecutionProvider", "CPUExecutionProvider"]
    opts = chosen[0].options
    assert opts["ModelFormat"] == "MLProgram"
    assert opts["RequireStaticInputShapes"] == "1"
    assert opts["MLComputeUnits"] == "ALL"
    assert opts["ModelCacheDirectory"] == str(tmp_path / "coreml")
    assert all(isinstance(v, str) for v in opts.values()), "provider options are passed as strings"
    assert not chosen[0].sequential


def test_coreml_without_cache_dir_has_no_cache_option() -> None:
    assert "ModelCacheDirectory" not in choose(MACOS)[0].options


def test_cuda_and_unknown_providers() -> None:
    # TensorRT is not in our table: it is never requested.
    assert _names(LINUX_CUDA) == ["CUDAExecutionProvider", "CPUExecutionProvider"]


def test_table_order_not_list_order() -> None:
    everything = ["CPUExecutionProvider", "CUDAExecutionProvider", "CoreMLExecutionProvider",
                  "DmlExecutionProvider", "AzureExecutionProvider"]
    assert _names(everything) == ["DmlExecutionProvider", "CoreMLExecutionProvider",
                                  "CUDAExecutionProvider", "CPUExecutionProvider"]


@pytest.mark.parametrize("available", [LINUX_STOCK, ["AzureExecutionProvider"], [], ["CPUExecutionProvider"]])
def test_cpu_is_always_the_last_resort_and_azure_never(available: list[str]) -> None:
    assert _names(available) == ["CPUExecutionProvider"]


@pytest.mark.parametrize("available", [WINDOWS, MACOS, LINUX_CUDA, LINUX_STOCK])
def test_device_cpu_means_cpu_only(available: list[str]) -> None:
    assert _names(available, "cpu") == ["CPUExecutionProvider"]


@pytest.mark.parametrize("device", ["gpu", "CPU", "", "cuda", "dml"])
def test_invalid_device(device: str) -> None:
    with pytest.raises(ValueError, match="device must be one of auto, cpu"):
        choose(WINDOWS, device)


def test_never_list_contains_azure() -> None:
    assert "AzureExecutionProvider" in providers.NEVER
    assert all(c.name not in providers.NEVER for c in providers._table(None))


@pytest.mark.parametrize(
    ("in_use", "threads", "text"),
    [
        ("CPUExecutionProvider", 2, "CPU · 2 threads"),
        ("CPUExecutionProvider", 1, "CPU · 1 thread"),
        ("DmlExecutionProvider", 8, "DirectML · GPU 0"),
        ("CoreMLExecutionProvider", 8, "CoreML"),
        ("CUDAExecutionProvider", 8, "CUDA · GPU 0"),
        ("TensorrtExecutionProvider", 8, "Tensorrt"),
    ],
)
def test_describe(in_use: str, threads: int, text: str) -> None:
    assert describe(in_use, threads) == text


def test_cpu_threads_follows_affinity(monkeypatch: pytest.MonkeyPatch) -> None:
    assert cpu_threads() >= 1
    if hasattr(os, "sched_getaffinity"):
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 3, 5})
        assert cpu_threads() == 3
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set())
        assert cpu_threads() == 1
