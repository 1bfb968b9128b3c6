"""Open an onnxruntime session for a model, after checking the file is the one we expect.

The model is read once, from one open file, hashed, and onnxruntime is handed those very
bytes: reopening the file by path after hashing would let a file swapped in between (or
changed in place) run unverified. The price: onnxruntime's Python wrapper keeps the bytes
for the session's life (it can re-create the session from them), one copy of the file's
size (44–88 MB). Symbolic links are fine: whatever they point at is what gets hashed.

A model is one file. Weights in a separate external-data file are refused: the manifest's
sha256 does not cover them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from io import FileIO
from pathlib import Path
from typing import Any

from app.core.digest import sha256_stream
from app.core.errors import KnockoutError
from app.inference import providers
from app.inference.manifest import ModelSpec


class ModelError(KnockoutError):
    """A model that cannot be used, with a message a person (or IT) can act on."""

    code = "model_error"


class ModelMissing(ModelError):
    code = "model_missing"


class ModelTampered(ModelError):
    code = "model_hash_mismatch"


@dataclass
class LoadedModel:
    spec: ModelSpec
    session: Any  # onnxruntime.InferenceSession
    provider: str  # the provider really in use
    description: str  # e.g. "CPU · 2 threads"
    input_name: str
    output_name: str
    threads: int
    notes: list[str] = field(default_factory=list)


@contextmanager
def _model_file(spec: ModelSpec) -> Iterator[FileIO]:
    """The model's file, open for reading; a missing or unreadable one is refused by name."""
    try:
        with open(spec.file, "rb", buffering=0) as fh:
            yield fh
    except FileNotFoundError:
        hint = " (run `python models/fetch.py` in a source checkout)" if spec.source == "bundled" else ""
        raise ModelMissing(f"model {spec.id}: file {spec.file} is missing{hint}") from None
    except OSError as exc:
        raise ModelMissing(f"model {spec.id}: cannot read {spec.file} ({exc.strerror or exc})") from None


def verify_file(spec: ModelSpec) -> None:
    """Refuse the model by name if its file is missing, unreadable, or its sha256 differs.

    Streamed, for reports (``knockout models``, diagnose); loading uses ``read_verified``."""
    with _model_file(spec) as fh:
        actual = sha256_stream(fh)
    _check_digest(spec, actual)


def read_verified(spec: ModelSpec) -> bytes:
    """The model's bytes, read once from one open file and hashed: exactly what was checked."""
    with _model_file(spec) as fh:
        data = fh.readall()
    _check_digest(spec, hashlib.sha256(data).hexdigest())
    return data


def _check_digest(spec: ModelSpec, actual: str) -> None:
    if actual != spec.sha256:
        raise ModelTampered(
            f"model {spec.id}: {spec.file.name} does not match its manifest (sha256 {actual[:16]}…, "
            f"expected {spec.sha256[:16]}…); the file is damaged or was replaced, so it is refused"
        )


def file_status(spec: ModelSpec) -> tuple[str, str | None]:
    """``ok``, ``missing`` or ``MISMATCH`` for a model's file, and the reason when not ok."""
    try:
        verify_file(spec)
    except ModelError as exc:
        return ("missing" if exc.code == ModelMissing.code else "MISMATCH"), str(exc)
    return "ok", None


EXTERNAL_DATA_FOLDER = "session.model_external_initializers_file_folder_path"
_arena_registered: set[int] = set()  # ids of the onnxruntime modules that have our arena


def _register_cpu_arena(ort: Any) -> None:
    if id(ort) in _arena_registered:
        return
    info = ort.OrtMemoryInfo("Cpu", ort.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0, ort.OrtMemType.DEFAULT)
    same_as_requested = 1  # arena_extend_strategy: kNextPowerOfTwo = 0, kSameAsRequested = 1
    ort.create_and_register_allocator(info, ort.OrtArenaCfg(0, same_as_requested, -1, -1))
    _arena_registered.add(id(ort))


def _options(ort: Any, threads: int, model_file: Path) -> Any:
    """Sequential execution without a memory pattern suits every provider (DirectML requires it)."""
    so = ort.SessionOptions()
    # A model loaded from bytes would look for external data in the working directory; point
    # it at a folder that cannot exist (it is "inside" the model file) so none is ever read.
    so.add_session_config_entry(EXTERNAL_DATA_FOLDER, str(model_file / "external-data-is-not-supported"))
    so.log_severity_level = 3
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # One CPU arena shared by our sessions that grows by exactly what is requested
    # (onnxruntime's default doubles, ending near 2 GB for ISNet at 1024²) and is reused
    # across runs, so there is no per-run allocation cost either.
    _register_cpu_arena(ort)
    so.add_session_config_entry("session.use_env_allocators", "1")
    so.enable_mem_pattern = False
    # Idle inference threads sleep instead of spinning, leaving the cores to decode/encode.
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return so


def open_session(
    spec: ModelSpec, device: str = "auto", threads: int | None = None, cache_dir: Path | None = None
) -> LoadedModel:
    """Verify and load ``spec``; report the execution provider actually in use."""
    import onnxruntime as ort

    data = read_verified(spec)
    threads = threads or providers.cpu_threads()
    wanted = providers.choose(ort.get_available_providers(), device, cache_dir)
    notes: list[str] = []
    try:
        session = ort.InferenceSession(
            data, _options(ort, threads, spec.file), providers=[(c.name, c.options) for c in wanted]
        )
    except Exception as exc:
        if len(wanted) == 1:
            raise _cannot_load(spec, exc) from None
        notes.append(f"{wanted[0].name} failed ({exc}); using CPU")
        try:
            session = ort.InferenceSession(
                data, _options(ort, threads, spec.file), providers=["CPUExecutionProvider"]
            )
        except Exception as exc2:
            raise _cannot_load(spec, exc2) from None
    in_use = session.get_providers()[0]
    if in_use != wanted[0].name and not notes:
        notes.append(f"{wanted[0].name} was requested but onnxruntime uses {in_use}")
    input_name, output_name = _io_names(session, spec)
    return LoadedModel(spec, session, in_use, providers.describe(in_use, threads), input_name, output_name,
                       threads, notes)


def _cannot_load(spec: ModelSpec, exc: Exception) -> ModelError:
    if "external data" in str(exc).lower():
        return ModelError(f"model {spec.id}: its weights are in a separate external data file, which is not "
                          f"supported (a model must be one file, the one its manifest's sha256 names) ({exc})")
    return ModelError(f"model {spec.id}: onnxruntime cannot load it ({exc})")


def _io_names(session: Any, spec: ModelSpec) -> tuple[str, str]:
    inputs = [i.name for i in session.get_inputs()]
    outputs = [o.name for o in session.get_outputs()]
    input_name = spec.input.name or inputs[0]
    if input_name not in inputs:
        raise ModelError(f"model {spec.id}: has no input {input_name!r} (it has {', '.join(inputs)})")
    if spec.output.name is not None:
        output_name = spec.output.name
        if output_name not in outputs:
            raise ModelError(f"model {spec.id}: has no output {output_name!r} (it has {', '.join(outputs)})")
    else:
        try:
            output_name = outputs[spec.output.index]
        except IndexError:
            raise ModelError(f"model {spec.id}: has no output #{spec.output.index}") from None
    return input_name, output_name
