"""Verified loading, provider reporting and input/output resolution."""

from __future__ import annotations

import hashlib
import sys
import types
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from app.inference import providers, session
from app.inference.manifest import ModelSpec, OutputSpec
from app.inference.session import ModelError, ModelMissing, ModelTampered, open_session, verify_file
from tests import onnx_graphs as g


@pytest.fixture
def isnet_spec(tmp_path: Path) -> ModelSpec:
    return g.install(tmp_path / "models", [g.isnet(size=16)]).get("tiny-isnet")


# --- verification ------------------------------------------------------------------------------


def test_verify_file_accepts_the_file_its_manifest_describes(isnet_spec: ModelSpec) -> None:
    verify_file(isnet_spec)  # no exception


def test_tampered_file_is_refused(isnet_spec: ModelSpec) -> None:
    data = bytearray(isnet_spec.file.read_bytes())
    data[len(data) // 2] ^= 0x01
    isnet_spec.file.write_bytes(bytes(data))
    with pytest.raises(ModelTampered) as info:
        verify_file(isnet_spec)
    message = str(info.value)
    assert "model tiny-isnet" in message and "tiny-isnet.onnx" in message
    assert "does not match its manifest" in message and "refused" in message
    assert isnet_spec.sha256[:16] in message
    assert info.value.code == "model_hash_mismatch" and isinstance(info.value, ModelError)


def test_tampered_file_is_refused_by_open_session_before_onnxruntime(
    isnet_spec: ModelSpec, fake: Fake
) -> None:
    log = fake(["CPUExecutionProvider"])
    isnet_spec.file.write_bytes(isnet_spec.file.read_bytes() + b"\0")
    with pytest.raises(ModelTampered):
        open_session(isnet_spec, "cpu", threads=1)
    assert log == [], "a refused file never reaches onnxruntime"


def test_missing_file(isnet_spec: ModelSpec) -> None:
    isnet_spec.file.unlink()
    with pytest.raises(ModelMissing) as info:
        verify_file(isnet_spec)
    message = str(info.value)
    assert message.startswith(f"model tiny-isnet: file {isnet_spec.file} is missing")
    assert "models/fetch.py" in message, "a bundled model says how to get it back"
    assert info.value.code == "model_missing"
    with pytest.raises(ModelMissing) as info:
        verify_file(replace(isnet_spec, source="user"))
    assert "fetch.py" not in str(info.value)


def test_unreadable_file(isnet_spec: ModelSpec) -> None:
    with pytest.raises(ModelMissing, match="model tiny-isnet: cannot read"):
        verify_file(replace(isnet_spec, file=isnet_spec.file.parent))


# --- real onnxruntime, CPU ---------------------------------------------------------------------


def test_open_session_on_cpu_reports_cpu(isnet_spec: ModelSpec) -> None:
    loaded = open_session(isnet_spec, "cpu", threads=2)
    assert loaded.provider == "CPUExecutionProvider"
    assert loaded.description == "CPU · 2 threads"
    assert loaded.threads == 2 and loaded.notes == []
    assert (loaded.input_name, loaded.output_name) == ("input", "output")
    assert loaded.spec is isnet_spec
    out = loaded.session.run([loaded.output_name], {loaded.input_name: np.zeros((1, 3, 16, 16), np.float32)})
    assert np.allclose(out[0], 0.5)


def test_open_session_auto_here_is_cpu_without_notes(isnet_spec: ModelSpec) -> None:
    # The stock wheel lists AzureExecutionProvider; it must not be requested (nor noted).
    loaded = open_session(isnet_spec, "auto", threads=1)
    assert loaded.provider == "CPUExecutionProvider" and loaded.notes == []
    assert loaded.session.get_providers() == ["CPUExecutionProvider"]


def test_output_by_index(isnet_spec: ModelSpec) -> None:
    spec = replace(isnet_spec, output=OutputSpec(index=2))
    assert open_session(spec, "cpu", threads=1).output_name == "d3"
    spec = replace(isnet_spec, output=OutputSpec())
    assert open_session(spec, "cpu", threads=1).output_name == "d1", "index 0 is the graph's first output"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"input": "image"}, "model tiny-isnet: has no input 'image' (it has input)"),
        ({"output": "mask"}, "model tiny-isnet: has no output 'mask' (it has d1, d2, d3, output)"),
        ({"index": 4}, "model tiny-isnet: has no output #4"),
    ],
)
def test_wrong_io_names(isnet_spec: ModelSpec, change: dict[str, Any], expected: str) -> None:
    spec = isnet_spec
    if "input" in change:
        spec = replace(spec, input=replace(spec.input, name=change["input"]))
    if "output" in change:
        spec = replace(spec, output=replace(spec.output, name=change["output"]))
    if "index" in change:
        spec = replace(spec, output=OutputSpec(index=change["index"]))
    with pytest.raises(ModelError) as info:
        open_session(spec, "cpu", threads=1)
    assert str(info.value) == expected


def test_not_an_onnx_file(tmp_path: Path) -> None:
    model = g.isnet(size=16)
    folder = tmp_path / "m"
    g.save(model, folder)
    (folder / model.file).write_bytes(b"definitely not protobuf")
    sha = hashlib.sha256(b"definitely not protobuf").hexdigest()
    g.write_manifest(folder, [g.entry(model, sha)])
    spec = g.discover([(folder, "user")]).get("tiny-isnet")
    with pytest.raises(ModelError, match="model tiny-isnet: onnxruntime cannot load it"):
        open_session(spec, "auto", threads=1)


# --- a fake onnxruntime: provider behaviour we cannot produce on Linux --------------------------


def _fake_ort(available: list[str], in_use: list[str] | None = None, fail: set[str] | None = None,
              outputs: tuple[str, ...] = ("d1", "d2", "d3", "output")) -> tuple[types.ModuleType, list[Any]]:
    """A stand-in module: ``fail`` lists providers whose construction raises (as the first
    requested); ``in_use`` is what ``get_providers`` reports (default: what was asked)."""
    log: list[dict[str, Any]] = []

    class SessionOptions:
        def __init__(self) -> None:
            self.config: dict[str, str] = {}

        def add_session_config_entry(self, key: str, value: str) -> None:
            self.config[key] = value

    class InferenceSession:
        def __init__(self, data: Any, sess_options: Any = None, providers: Any = None) -> None:
            names = [p if isinstance(p, str) else p[0] for p in providers]
            log.append({"data": data, "options": sess_options, "providers": providers})
            if fail and names[0] in fail:
                raise RuntimeError(f"{names[0]} device lost")
            self._providers = list(in_use or names)

        def get_providers(self) -> list[str]:
            return self._providers

        def get_inputs(self) -> list[Any]:
            return [SimpleNamespace(name="input")]

        def get_outputs(self) -> list[Any]:
            return [SimpleNamespace(name=n) for n in outputs]

    ort = types.ModuleType("onnxruntime")
    ort.SessionOptions = SessionOptions  # type: ignore[attr-defined]
    ort.InferenceSession = InferenceSession  # type: ignore[attr-defined]
    ort.ExecutionMode = SimpleNamespace(ORT_SEQUENTIAL="sequential", ORT_PARALLEL="parallel")  # type: ignore[attr-defined]
    ort.get_available_providers = lambda: list(available)  # type: ignore[attr-defined]
    ort.OrtMemoryInfo = lambda *args: ("memory-info", args)  # type: ignore[attr-defined]
    ort.OrtAllocatorType = SimpleNamespace(ORT_ARENA_ALLOCATOR="arena")  # type: ignore[attr-defined]
    ort.OrtMemType = SimpleNamespace(DEFAULT="default")  # type: ignore[attr-defined]
    ort.OrtArenaCfg = lambda *args: ("arena-cfg", args)  # type: ignore[attr-defined]
    ort.create_and_register_allocator = lambda info, cfg: None  # type: ignore[attr-defined]
    return ort, log


WINDOWS = ["DmlExecutionProvider", "CPUExecutionProvider", "AzureExecutionProvider"]
Fake = Callable[..., list[Any]]


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Fake:
    """Install a fake onnxruntime for this test; returns the log of sessions it built."""

    def install(available: list[str], **behaviour: Any) -> list[Any]:
        ort, log = _fake_ort(available, **behaviour)
        monkeypatch.setitem(sys.modules, "onnxruntime", ort)
        return log

    return install


def test_directml_in_use(isnet_spec: ModelSpec, fake: Fake) -> None:
    log = fake(WINDOWS)
    loaded = open_session(isnet_spec, "auto", threads=4)
    assert loaded.provider == "DmlExecutionProvider" and loaded.description == "DirectML · GPU 0"
    assert loaded.notes == []
    (call,) = log
    assert call["providers"] == [("DmlExecutionProvider", {"device_id": 0}), ("CPUExecutionProvider", {})]
    assert call["data"] == isnet_spec.file.read_bytes(), "onnxruntime gets the verified bytes"
    so = call["options"]
    assert so.enable_mem_pattern is False and so.execution_mode == "sequential"
    assert so.intra_op_num_threads == 4 and so.inter_op_num_threads == 1
    assert so.config == {"session.intra_op.allow_spinning": "0", "session.use_env_allocators": "1",
                         session.EXTERNAL_DATA_FOLDER: str(isnet_spec.file / "external-data-is-not-supported")}


def test_silent_fallback_is_reported(isnet_spec: ModelSpec, fake: Fake) -> None:
    log = fake(WINDOWS, in_use=["CPUExecutionProvider"])
    loaded = open_session(isnet_spec, "auto", threads=2)
    assert loaded.provider == "CPUExecutionProvider"
    assert loaded.description == "CPU · 2 threads"
    assert loaded.notes == ["DmlExecutionProvider was requested but onnxruntime uses CPUExecutionProvider"]
    assert len(log) == 1


def test_failed_first_choice_is_retried_on_cpu(isnet_spec: ModelSpec, fake: Fake) -> None:
    log = fake(WINDOWS, fail={"DmlExecutionProvider"})
    loaded = open_session(isnet_spec, "auto", threads=3)
    assert loaded.provider == "CPUExecutionProvider" and loaded.description == "CPU · 3 threads"
    assert len(loaded.notes) == 1
    assert loaded.notes[0].startswith("DmlExecutionProvider failed (DmlExecutionProvider device lost)")
    assert loaded.notes[0].endswith("using CPU")
    assert [call["providers"] for call in log] == [
        [("DmlExecutionProvider", {"device_id": 0}), ("CPUExecutionProvider", {})],
        ["CPUExecutionProvider"],
    ]
    assert log[1]["data"] is log[0]["data"], "the retry reuses the verified bytes"
    assert (loaded.input_name, loaded.output_name) == ("input", "output")


def test_cpu_failure_after_retry_is_a_model_error(isnet_spec: ModelSpec, fake: Fake) -> None:
    log = fake(WINDOWS, fail={"DmlExecutionProvider", "CPUExecutionProvider"})
    with pytest.raises(ModelError, match=r"tiny-isnet: onnxruntime cannot load it \(CPUExecutionProvider"):
        open_session(isnet_spec, "auto", threads=1)
    assert len(log) == 2


def test_cpu_only_failure_is_not_retried(isnet_spec: ModelSpec, fake: Fake) -> None:
    log = fake(WINDOWS, fail={"CPUExecutionProvider"})
    with pytest.raises(ModelError, match="model tiny-isnet: onnxruntime cannot load it"):
        open_session(isnet_spec, "cpu", threads=1)
    assert [call["providers"] for call in log] == [[("CPUExecutionProvider", {})]]


def test_coreml_gets_its_cache_dir(isnet_spec: ModelSpec, fake: Fake, tmp_path: Path) -> None:
    log = fake(["CoreMLExecutionProvider", "CPUExecutionProvider", "AzureExecutionProvider"])
    loaded = open_session(isnet_spec, "auto", threads=1, cache_dir=tmp_path)
    assert loaded.provider == "CoreMLExecutionProvider" and loaded.description == "CoreML"
    name, options = log[0]["providers"][0]
    assert name == "CoreMLExecutionProvider"
    assert options["ModelFormat"] == "MLProgram"
    assert options["ModelCacheDirectory"] == str(tmp_path / "coreml")


def test_default_threads_follow_cpu_threads(
    isnet_spec: ModelSpec, fake: Fake, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = fake(["CPUExecutionProvider"])
    monkeypatch.setattr(providers, "cpu_threads", lambda: 5)
    loaded = open_session(isnet_spec, "auto")
    assert loaded.threads == 5 and loaded.description == "CPU · 5 threads"
    assert log[0]["options"].intra_op_num_threads == 5


def test_session_module_does_not_import_onnxruntime_eagerly() -> None:
    assert "onnxruntime" not in vars(session)


# --- what was hashed is what is loaded ----------------------------------------------------------


def _rogue_isnet_bytes() -> bytes:
    """tiny-isnet with its bias set to 10: the same shape, but every pixel foreground."""
    from onnx import numpy_helper

    proto = g.isnet(size=16).proto
    (bias,) = [i for i in proto.graph.initializer if i.name == "B"]
    bias.CopyFrom(numpy_helper.from_array(np.asarray([10.0], dtype=np.float32), "B"))
    return proto.SerializeToString()


def test_a_model_swapped_after_hashing_is_not_what_gets_loaded(
    isnet_spec: ModelSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    import onnxruntime as ort

    real = ort.InferenceSession

    def swap_then_load(*args: Any, **kwargs: Any) -> Any:
        isnet_spec.file.write_bytes(_rogue_isnet_bytes())  # the race: after the hash, before the load
        return real(*args, **kwargs)

    monkeypatch.setattr(ort, "InferenceSession", swap_then_load)
    loaded = open_session(isnet_spec, "cpu", threads=1)
    assert hashlib.sha256(isnet_spec.file.read_bytes()).hexdigest() != isnet_spec.sha256  # it was swapped
    out = loaded.session.run([loaded.output_name], {loaded.input_name: np.zeros((1, 3, 16, 16), np.float32)})
    assert np.allclose(out[0], 0.5), "the session runs the verified model, not the swapped file"


def test_onnxruntime_gets_the_verified_bytes_not_the_path(isnet_spec: ModelSpec, fake: Fake) -> None:
    log = fake(["CPUExecutionProvider"])
    open_session(isnet_spec, "cpu", threads=1)
    (call,) = log
    assert isinstance(call["data"], bytes)
    assert hashlib.sha256(call["data"]).hexdigest() == isnet_spec.sha256


def test_a_symlinked_model_file_loads(isnet_spec: ModelSpec, tmp_path: Path) -> None:
    # The dev checkout links models/*.onnx to one shared copy: links are fine, the hash decides.
    real_file = tmp_path / "shared" / "tiny-isnet.onnx"
    real_file.parent.mkdir()
    isnet_spec.file.replace(real_file)
    isnet_spec.file.symlink_to(real_file)
    loaded = open_session(isnet_spec, "cpu", threads=1)
    assert loaded.provider == "CPUExecutionProvider"


def test_a_model_with_external_data_is_refused(tmp_path: Path) -> None:
    # The manifest's sha256 covers one file; weights in a second file would be loaded unverified.
    import onnx
    from onnx.external_data_helper import convert_model_to_external_data

    model = g.isnet(size=16)
    folder = tmp_path / "m"
    folder.mkdir()
    proto = model.proto
    convert_model_to_external_data(proto, all_tensors_to_one_file=True, location="weights.bin", size_threshold=0)
    onnx.save_model(proto, str(folder / model.file))
    assert (folder / "weights.bin").is_file()
    sha = hashlib.sha256((folder / model.file).read_bytes()).hexdigest()
    g.write_manifest(folder, [g.entry(model, sha)])
    spec = g.discover([(folder, "user")]).get("tiny-isnet")
    with pytest.raises(ModelError) as info:
        open_session(spec, "cpu", threads=1)
    assert "model tiny-isnet" in str(info.value) and "external data" in str(info.value)
