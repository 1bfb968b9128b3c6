"""Open an onnxruntime session for a model, after checking the file is the one we expect.

The file is read once; its bytes are hashed and then handed to onnxruntime, so the
weights that run are exactly the weights that were verified.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.inference import providers
from app.inference.manifest import ModelSpec


class ModelError(Exception):
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


def verified_bytes(spec: ModelSpec) -> bytes:
    """The model file's bytes, refused by name if missing or if the sha256 differs."""
    try:
        data = spec.file.read_bytes()
    except FileNotFoundError:
        hint = " (run `python models/fetch.py` in a source checkout)" if spec.source == "bundled" else ""
        raise ModelMissing(f"model {spec.id}: file {spec.file} is missing{hint}") from None
    except OSError as exc:
        raise ModelMissing(f"model {spec.id}: cannot read {spec.file} ({exc.strerror or exc})") from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != spec.sha256:
        raise ModelTampered(
            f"model {spec.id}: {spec.file.name} does not match its manifest (sha256 {actual[:16]}…, "
            f"expected {spec.sha256[:16]}…); the file is damaged or was replaced, so it is refused"
        )
    return data


def _options(ort: Any, threads: int, sequential: bool) -> Any:
    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # Free activations after each run instead of keeping a 1-2 GB arena for the session.
    so.enable_cpu_mem_arena = False
    so.enable_mem_pattern = False
    # Idle inference threads sleep instead of spinning, leaving the cores to decode/encode.
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if sequential:
        so.enable_mem_pattern = False
    return so


def open_session(
    spec: ModelSpec, device: str = "auto", threads: int | None = None, cache_dir: Path | None = None
) -> LoadedModel:
    """Verify and load ``spec``; report the execution provider actually in use."""
    import onnxruntime as ort

    data = verified_bytes(spec)
    threads = threads or providers.cpu_threads()
    wanted = providers.choose(ort.get_available_providers(), device, cache_dir)
    notes: list[str] = []
    sequential = any(choice.sequential for choice in wanted)
    try:
        session = ort.InferenceSession(
            data, _options(ort, threads, sequential), providers=[(c.name, c.options) for c in wanted]
        )
    except Exception as exc:
        if len(wanted) == 1:
            raise ModelError(f"model {spec.id}: onnxruntime cannot load it ({exc})") from None
        notes.append(f"{wanted[0].name} failed ({exc}); using CPU")
        try:
            session = ort.InferenceSession(
                data, _options(ort, threads, False), providers=["CPUExecutionProvider"]
            )
        except Exception as exc2:
            raise ModelError(f"model {spec.id}: onnxruntime cannot load it ({exc2})") from None
    in_use = session.get_providers()[0]
    if in_use != wanted[0].name and not notes:
        notes.append(f"{wanted[0].name} was requested but onnxruntime uses {in_use}")
    input_name, output_name = _io_names(session, spec)
    return LoadedModel(spec, session, in_use, providers.describe(in_use, threads), input_name, output_name,
                       threads, notes)


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
