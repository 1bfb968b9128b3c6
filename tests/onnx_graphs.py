"""Tiny ONNX graphs in the style of each model family, their manifests, and synthetic photos.

Real u2net/birefnet/rmbg weights are not available to the tests, so each family is
imitated by a graph small enough to compute by hand: a fixed 1x1 convolution (a weighted
sum of the normalised channels plus a bias) followed by what that family's head does.
Each builder's docstring and constants are what the tests' hand-computed values rely on.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

from app.inference.manifest import Catalogue, discover

OPSET = 17
IR_VERSION = 8  # readable by every onnxruntime we support


def sigmoid(x: Any) -> Any:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


@dataclass(frozen=True)
class TinyModel:
    """One tiny graph plus the manifest entry that describes it."""

    id: str
    family: str
    proto: onnx.ModelProto
    input: dict[str, Any] = field(default_factory=dict)  # manifest overrides
    output: dict[str, Any] = field(default_factory=dict)

    @property
    def file(self) -> str:
        return f"{self.id}.onnx"


def _graph(
    name: str,
    nodes: list[onnx.NodeProto],
    inputs: list[onnx.ValueInfoProto],
    outputs: list[onnx.ValueInfoProto],
    weights: Sequence[float],
    bias: float,
) -> onnx.ModelProto:
    inits = [
        numpy_helper.from_array(np.asarray(weights, dtype=np.float32).reshape(1, 3, 1, 1), "W"),
        numpy_helper.from_array(np.asarray([bias], dtype=np.float32), "B"),
        numpy_helper.from_array(np.asarray(0.5, dtype=np.float32), "half"),
        numpy_helper.from_array(np.asarray(0.25, dtype=np.float32), "quarter"),
        numpy_helper.from_array(np.asarray(1.0, dtype=np.float32), "one"),
    ]
    graph = helper.make_graph(nodes, name, inputs, outputs, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="knockout-tests")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    return model


def _nchw(name: str, w: int, h: int) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, 3, h, w])


def _matte(name: str, w: int, h: int) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, 1, h, w])


def isnet(size: int = 64) -> TinyModel:
    """``input`` -> ``output`` already 0..1, listed *after* three side outputs (d1 is inverted)."""
    w = (4.0, 4.0, 4.0)
    nodes = [
        helper.make_node("Conv", ["input", "W", "B"], ["logit"]),
        helper.make_node("Sigmoid", ["logit"], ["output"]),
        helper.make_node("Sub", ["one", "output"], ["d1"]),
        helper.make_node("Identity", ["logit"], ["d2"]),
        helper.make_node("Mul", ["output", "half"], ["d3"]),
    ]
    outs = [_matte(n, size, size) for n in ("d1", "d2", "d3", "output")]
    proto = _graph("isnet", nodes, [_nchw("input", size, size)], outs, w, 0.0)
    return TinyModel("tiny-isnet", "isnet", proto,
                     input={"name": "input", "size": [size, size], "mean": [128, 128, 128],
                            "std": [256, 256, 256]},
                     output={"name": "output", "activation": "none", "normalize": "none"})


def resizable_isnet() -> TinyModel:
    """``isnet`` with free batch, height and width, declared ``resizable`` in its manifest entry."""
    base = isnet()
    proto = onnx.ModelProto()
    proto.CopyFrom(base.proto)
    for info in (*proto.graph.input, *proto.graph.output):
        dims = info.type.tensor_type.shape.dim
        dims[0].dim_param, dims[2].dim_param, dims[3].dim_param = "batch", "height", "width"
    return TinyModel("tiny-isnet-any-size", "isnet", proto, input={**base.input, "resizable": True},
                     output=base.output)


def u2net() -> TinyModel:
    """320x320, ImageNet; d0 (the first output) lies in 0.25..0.75, so min-max matters."""
    w = (1.0, 1.0, 1.0)
    nodes = [
        helper.make_node("Conv", ["input.1", "W", "B"], ["logit"]),
        helper.make_node("Sigmoid", ["logit"], ["s"]),
        helper.make_node("Mul", ["s", "half"], ["scaled"]),
        helper.make_node("Add", ["scaled", "quarter"], ["d0"]),
        helper.make_node("Sub", ["one", "s"], ["d1"]),
        helper.make_node("Identity", ["s"], ["d2"]),
    ]
    outs = [_matte(n, 320, 320) for n in ("d0", "d1", "d2")]
    proto = _graph("u2net", nodes, [_nchw("input.1", 320, 320)], outs, w, 0.0)
    return TinyModel("tiny-u2net", "u2net", proto)


def birefnet(size: int = 1024) -> TinyModel:
    """ImageNet normalisation; a single output of raw logits (the family adds the sigmoid)."""
    w, b = (2.0, -1.0, 0.5), 0.3
    nodes = [helper.make_node("Conv", ["input_image", "W", "B"], ["output_image"])]
    proto = _graph("birefnet", nodes, [_nchw("input_image", size, size)],
                   [_matte("output_image", size, size)], w, b)
    overrides = {} if size == 1024 else {"size": [size, size]}
    return TinyModel("tiny-birefnet", "birefnet", proto, input=overrides)


def rmbg(size: int = 1024) -> TinyModel:
    """RMBG-1.4 style: (x/255 - 0.5), an output in an arbitrary range, min-max normalised."""
    w, b = (3.0, 3.0, 3.0), 7.0
    nodes = [helper.make_node("Conv", ["input", "W", "B"], ["output"])]
    proto = _graph("rmbg", nodes, [_nchw("input", size, size)], [_matte("output", size, size)], w, b)
    overrides = {} if size == 1024 else {"size": [size, size]}
    return TinyModel("tiny-rmbg", "rmbg", proto, input=overrides)


def nhwc_bgr(width: int = 48, height: int = 32) -> TinyModel:
    """[1,H,W,3] BGR input -> [1,H,W,1]; only tensor channel 0 (blue) and its own mean count."""
    w, b = (3.0, 0.0, 0.0), 0.0
    mean, std = (100.0, 50.0, 10.0), (100.0, 100.0, 100.0)  # in tensor (B, G, R) order
    nodes = [
        helper.make_node("Transpose", ["image"], ["nchw"], perm=[0, 3, 1, 2]),
        helper.make_node("Conv", ["nchw", "W", "B"], ["logit"]),
        helper.make_node("Transpose", ["logit"], ["logit_nhwc"], perm=[0, 2, 3, 1]),
        helper.make_node("Sigmoid", ["logit_nhwc"], ["matte"]),
    ]
    inp = helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, height, width, 3])
    out = helper.make_tensor_value_info("matte", TensorProto.FLOAT, [1, height, width, 1])
    proto = _graph("nhwc_bgr", nodes, [inp], [out], w, b)
    return TinyModel("tiny-nhwc-bgr", "modnet", proto,
                     input={"size": [width, height], "layout": "NHWC", "channels": "BGR",
                            "mean": list(mean), "std": list(std)})


def all_models() -> list[TinyModel]:
    return [isnet(), u2net(), birefnet(), rmbg(), nhwc_bgr(), resizable_isnet()]


def save(model: TinyModel, folder: Path) -> str:
    """Write the .onnx file into ``folder``; returns its sha256."""
    folder.mkdir(parents=True, exist_ok=True)
    data = model.proto.SerializeToString()
    (folder / model.file).write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def entry(model: TinyModel, sha256: str, **extra: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {"id": model.id, "name": f"Tiny {model.family}", "file": model.file,
                           "sha256": sha256, "family": model.family, "license": "MIT",
                           "provenance": "built inside the test suite"}
    if model.input:
        raw["input"] = dict(model.input)
    if model.output:
        raw["output"] = dict(model.output)
    raw.update(extra)
    return raw


def write_manifest(folder: Path, entries: list[dict[str, Any]], default: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = {"schema": 1, "models": entries}
    if default is not None:
        data["default"] = default
    path = folder / "manifest.json"
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


def install(folder: Path, models: Sequence[TinyModel], source: str = "bundled") -> Catalogue:
    """Save ``models`` with a correct manifest in ``folder`` and read it back as a catalogue."""
    write_manifest(folder, [entry(m, save(m, folder)) for m in models], default=models[0].id)
    return discover([(folder, source)])


def bands(colours: Sequence[tuple[int, int, int]], width: int = 300, height: int = 200) -> Image.Image:
    """A synthetic photo of vertical bands, left to right, each a uniform colour."""
    arr = np.zeros((height, width, 3), dtype=np.uint8)
    edges = np.linspace(0, width, len(colours) + 1).round().astype(int)
    for colour, lo, hi in zip(colours, edges[:-1], edges[1:], strict=True):
        arr[:, lo:hi] = colour
    return Image.fromarray(arr, "RGB")


def band_centres(n: int, width: int) -> list[int]:
    """Column at the centre of each of ``n`` equal bands in a matte ``width`` wide."""
    return [int((i + 0.5) * width / n) for i in range(n)]
