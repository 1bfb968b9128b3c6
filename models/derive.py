"""Build-time graph transforms that derive a shipped model from a published one.

``fp32-activations``: IMG.LY's ISNet "medium" export stores fp16 weights and computes
parts of the network in fp16. onnxruntime's CPU kernels have no fp16 convolution, so it
casts activations back and forth around every such node (about 110 Cast nodes) and
cannot keep its blocked NCHWc layout across them. The transform keeps the fp16 weights
(so the file stays 88 MB) but casts each weight to fp32 once — onnxruntime folds those
casts at load time — and makes every activation fp32. Same weights, same operators, more
precise arithmetic; measured 1.7 s → 1.55 s per 1024² inference on 2 cores, and it lets
the session run without a memory arena at no speed cost.

``prune-outputs``: keep only the graph output the manifest reads (ISNet also exports a
dozen deep-supervision side outputs), so onnxruntime drops the nodes that only feed
them: about 4 % faster and 100 MB less peak memory.

``fold-weight-casts`` + ``int8-static`` (isnet-medium-int8): fp32 weights as initializers, then
static QDQ int8 (per-channel int8 weights, uint8 activations) calibrated on fixed augmentations
of the bundled sample photo: measured 1.55 s → 0.49 s per 1024² inference on 2 AVX512-VNNI
cores at equal eval quality. Calibration runs the model (onnxruntime, ~4 GB, a few minutes);
its ranges are snapped to a coarse grid so the output file is byte-identical run to run.

``any-input-size``: the exported graph resizes each decoder stage to a size fixed at export
(``Resize`` to a constant [32, 32] and so on), so it only runs at 1024². The step makes each
resize take its size from the tensor it is joined to (the other input of the ``Concat`` it
feeds, or the image for the final upsampling), and marks batch, height and width as free.
At 1024² the output is the same (bit-identical for int8, within 3e-7 for fp32); any other size
and a batch of several photos now run (512² takes about a fifth of 1024²: the window's quick
first look, a smaller second view).

Needs the ``onnx`` package (a build dependency, not a runtime one).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def fp32_activations(model: Any, keep_output: str) -> None:
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    del keep_output
    graph = model.graph
    half = sorted(i.name for i in graph.initializer if i.data_type == TensorProto.FLOAT16)
    half_set = set(half)
    casts = [helper.make_node("Cast", [name], [f"{name}__fp32"], to=TensorProto.FLOAT, name=f"{name}__to_fp32")
             for name in half]
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name in half_set:
                node.input[i] = f"{name}__fp32"
        if node.op_type == "Cast":  # every tensor is fp32 now: the old casts do nothing
            node.op_type = "Identity"
            del node.attribute[:]
        elif node.op_type == "Constant":
            for attr in node.attribute:
                if attr.t.data_type == TensorProto.FLOAT16:
                    value = numpy_helper.to_array(attr.t).astype(np.float32)
                    attr.t.CopyFrom(numpy_helper.from_array(value, attr.t.name))
    nodes = casts + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    for info in (*graph.value_info, *graph.input, *graph.output):
        if info.type.tensor_type.elem_type == TensorProto.FLOAT16:
            info.type.tensor_type.elem_type = TensorProto.FLOAT


def prune_outputs(model: Any, keep_output: str) -> None:
    outputs = [o for o in model.graph.output if o.name == keep_output]
    if not outputs:
        raise ValueError(f"the model has no output {keep_output!r}")
    del model.graph.output[:]
    model.graph.output.extend(outputs)


def fold_weight_casts(model: Any, keep_output: str) -> None:
    """Store every initializer as fp32 and drop Cast/Identity nodes that only pass a tensor on.

    After ``fp32-activations`` the weights reach each Conv through a Cast (fp16 -> fp32) and the
    old activation casts are Identity nodes. The quantiser needs the weights themselves as
    initializers (to quantise them per channel), so fold the casts into the file (twice the
    size) and rewire around the identities.
    """
    import numpy as np
    from onnx import TensorProto, numpy_helper

    del keep_output
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    outputs = {o.name for o in graph.output}
    rename: dict[str, str] = {}
    keep = []
    for node in graph.node:
        to_fp32 = (node.op_type == "Cast" and node.input[0] in inits
                   and any(a.name == "to" and a.i == TensorProto.FLOAT for a in node.attribute))
        if to_fp32 and node.output[0] not in outputs:
            src = inits[node.input[0]]
            folded = numpy_helper.from_array(numpy_helper.to_array(src).astype(np.float32), node.output[0])
            graph.initializer.append(folded)
            inits[folded.name] = folded
        elif node.op_type == "Identity" and node.output[0] not in outputs:
            rename[node.output[0]] = node.input[0]
        else:
            keep.append(node)

    def resolve(name: str) -> str:
        while name in rename:
            name = rename[name]
        return name

    for node in keep:
        for i, name in enumerate(node.input):
            node.input[i] = resolve(name)
    # The published file is not in topological order (onnxruntime sorts it; the quantiser does not).
    keep = _topological(keep, graph)
    del graph.node[:]
    graph.node.extend(keep)
    used = {name for node in keep for name in node.input} | outputs
    live = [i for i in graph.initializer if i.name in used]
    del graph.initializer[:]
    graph.initializer.extend(live)
    vis = [v for v in graph.value_info if v.name not in rename]
    del graph.value_info[:]
    graph.value_info.extend(vis)


# ``int8-static`` calibration: the bundled sample photo and fixed augmentations of it, so a
# source checkout can rebuild the model without any data set. ISNet normalisation (manifest).
CALIBRATION_PHOTO = Path(__file__).resolve().parent.parent / "app" / "assets" / "sample-coffee.jpg"
ISNET_MEAN, ISNET_STD = 128.0, 256.0
PERCENTILE = 99.999
RANGE_STEPS_PER_OCTAVE = 8
# The snapped activation ranges, computed once with ``python models/derive.py calibrate`` and
# committed: deriving then runs no inference, so every machine writes the same bytes.
RANGES_FILE = Path(__file__).resolve().parent / "calibration" / "isnet-medium-int8-ranges.json"


def calibration_photos(photo: Path = CALIBRATION_PHOTO) -> list[Any]:
    """Twelve deterministic variants of ``photo``: crops, flips, turns, light, grey, padding."""
    from PIL import Image, ImageEnhance, ImageOps

    with Image.open(photo) as im:
        base = ImageOps.exif_transpose(im).convert("RGB")
    w, h = base.size

    def crop(fx: float, fy: float, share: float) -> Any:
        cw, ch = int(w * share), int(h * share)
        left, top = int((w - cw) * fx), int((h - ch) * fy)
        return base.crop((left, top, left + cw, top + ch))

    def pad(fill: tuple[int, int, int]) -> Any:
        canvas = Image.new("RGB", (w * 3 // 2, h * 3 // 2), fill)
        canvas.paste(base, (w // 4, h // 4))
        return canvas

    return [
        base,
        ImageOps.mirror(base),
        crop(0.0, 0.0, 0.6), crop(1.0, 1.0, 0.6), crop(0.5, 0.5, 0.45),
        base.transpose(Image.Transpose.ROTATE_90), base.transpose(Image.Transpose.ROTATE_270),
        ImageEnhance.Brightness(base).enhance(0.55), ImageEnhance.Brightness(base).enhance(1.4),
        ImageEnhance.Contrast(base).enhance(0.5), ImageOps.grayscale(base).convert("RGB"),
        pad((255, 255, 255)),
    ]


def _snap(value: float) -> float:
    """Round a range end away from zero onto a fixed log grid, so floating-point noise between
    machines (thread counts, SIMD widths) almost never changes the quantised file."""
    import math

    if value == 0.0 or not math.isfinite(value):
        return 0.0
    steps = math.ceil(math.log2(abs(value)) * RANGE_STEPS_PER_OCTAVE)
    return math.copysign(2.0 ** (steps / RANGE_STEPS_PER_OCTAVE), value)


def calibrate(model: Any) -> dict[str, tuple[float, float]]:
    """Snapped activation ranges for ``int8_static``: 99.999th percentile of |x| over
    ``calibration_photos`` (min/max ranges wreck ISNet: its side-output logits reach -2600).
    Runs the model (onnxruntime, ~4 GB, a few minutes)."""
    import tempfile

    import numpy as np
    from onnxruntime.quantization import CalibrationMethod
    from onnxruntime.quantization.calibrate import create_calibrator
    from PIL import Image

    name = model.graph.input[0].name
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    if len(dims) != 4 or dims[2] <= 0 or dims[3] <= 0:
        raise ValueError(f"int8-static needs a fixed NCHW input, not {dims}")
    height, width = dims[2], dims[3]
    with tempfile.TemporaryDirectory(prefix="knockout-calib.") as tmp:
        src = Path(tmp, "float.onnx")
        src.write_bytes(model.SerializeToString(deterministic=True))
        calibrator = create_calibrator(
            src, augmented_model_path=str(Path(tmp, "augmented.onnx")),
            calibrate_method=CalibrationMethod.Percentile, providers=["CPUExecutionProvider"],
            extra_options={"percentile": PERCENTILE},
        )
        for photo in calibration_photos():
            small = photo.resize((width, height), Image.Resampling.BILINEAR, reducing_gap=3.0)  # as the app
            inv_std = np.float32(1.0) / np.float32(ISNET_STD)
            x = (np.asarray(small, dtype=np.float32) - np.float32(ISNET_MEAN)) * inv_std
            tensor = np.ascontiguousarray(x.transpose(2, 0, 1)[np.newaxis], dtype=np.float32)
            calibrator.collect_data(_OneShot({name: tensor}))
        computed = calibrator.compute_data()
        del calibrator
    return {k: (_snap(float(np.asarray(v.range_value[0]).ravel()[0])),
                _snap(float(np.asarray(v.range_value[1]).ravel()[0])))
            for k, v in sorted(computed.data.items())}


def int8_static(model: Any, keep_output: str, ranges_file: Path | None = None) -> None:
    """Static int8 quantisation (QDQ; per-channel int8 weights, uint8 activations: the VNNI path
    of onnxruntime's x86 kernels) with the committed ranges from ``calibrate`` (RANGES_FILE).
    Run ``fold-weight-casts`` first. Needs onnxruntime's quantisation tools as well as onnx."""
    import json
    import tempfile

    import numpy as np
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.calibrate import TensorData, TensorsData, save_tensors_data

    del keep_output
    ranges_file = ranges_file or RANGES_FILE
    try:
        stored = json.loads(ranges_file.read_text())["ranges"]
    except (OSError, ValueError, KeyError) as exc:
        raise ValueError(f"int8-static needs the calibration ranges in {ranges_file} "
                         f"(python models/derive.py calibrate): {exc}") from None
    ranges = {k: TensorData(lowest=np.float32(lo), highest=np.float32(hi)) for k, (lo, hi) in sorted(stored.items())}
    with tempfile.TemporaryDirectory(prefix="knockout-int8.") as tmp:
        src, out, cache = Path(tmp, "float.onnx"), Path(tmp, "int8.onnx"), Path(tmp, "ranges.json")
        src.write_bytes(model.SerializeToString(deterministic=True))
        save_tensors_data(TensorsData(CalibrationMethod.Percentile, ranges), cache)
        quantize_static(
            src, out, None, quant_format=QuantFormat.QDQ, per_channel=True, reduce_range=False,
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.Percentile, calibration_cache_path=cache,
        )
        quantized = onnx.load(str(out))
    model.CopyFrom(quantized)


class _OneShot:
    """A CalibrationDataReader over one input."""

    def __init__(self, feed: dict[str, Any]) -> None:
        self.feed: dict[str, Any] | None = feed

    def get_next(self) -> dict[str, Any] | None:
        feed, self.feed = self.feed, None
        return feed


# Nodes a tensor passes through unchanged in shape on its way from a Resize to the Concat
# it feeds (the int8 graph adds a QuantizeLinear/DequantizeLinear pair).
_SHAPE_KEEPING = {"QuantizeLinear", "DequantizeLinear", "Identity", "Cast"}


def any_input_size(model: Any, keep_output: str) -> None:
    """Let the graph run at any input size and batch (see the module docstring)."""
    from onnx import helper

    del keep_output
    graph = model.graph
    image = graph.input[0].name
    producers = {out: node for node in graph.node for out in node.output}
    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)

    def joined_to(name: str) -> str:
        """The tensor a resized one is concatenated with (the image when there is none)."""
        path, frontier = {name}, [name]
        for _ in range(4):
            following = []
            for tensor in frontier:
                for node in consumers.get(tensor, []):
                    if node.op_type == "Concat":
                        others = [i for i in node.input if i not in path]
                        if others:
                            return others[0]
                    elif node.op_type in _SHAPE_KEEPING:
                        path.add(node.output[0])
                        following.append(node.output[0])
            frontier = following
        return image

    shapes, dropped = [], set()
    for node in graph.node:
        if node.op_type != "Resize" or len(node.input) < 4 or not node.input[3]:
            continue
        sizes = producers.get(node.input[3])
        fixed = [i for i in (sizes.input if sizes is not None and sizes.op_type == "Concat" else [])
                 if i in producers and producers[i].op_type == "Constant"]
        if len(fixed) != 1:
            raise ValueError(f"{node.name or node.output[0]}: its output size is not a Concat of one "
                             "constant height and width")
        label = f"{node.name or node.output[0]}__size"
        shape = helper.make_node("Shape", [joined_to(node.output[0])], [label], name=label, start=2, end=4)
        shapes.append(shape)
        sizes.input[list(sizes.input).index(fixed[0])] = shape.output[0]
        dropped.add(fixed[0])
    still_used = {name for node in graph.node for name in node.input}
    kept = [n for n in graph.node if not (n.op_type == "Constant" and n.output[0] in dropped - still_used)]
    del graph.node[:]
    graph.node.extend(_topological(shapes + kept, graph))
    for info in (*graph.input, *graph.output):
        dims = info.type.tensor_type.shape.dim
        if len(dims) == 4:
            for dim, name in zip(dims, ("batch", None, "height", "width"), strict=True):
                if name:
                    dim.dim_param = name
    del graph.value_info[:]  # shapes recorded for 1024² no longer hold


def _topological(nodes: list[Any], graph: Any) -> list[Any]:
    ready = {i.name for i in graph.input} | {i.name for i in graph.initializer} | {""}
    ordered: list[Any] = []
    pending = nodes
    while pending:
        waiting = []
        for node in pending:
            if all(name in ready for name in node.input):
                ordered.append(node)
                ready.update(node.output)
            else:
                waiting.append(node)
        if len(waiting) == len(pending):
            raise ValueError(f"graph has a cycle or a dangling input at {waiting[0].name!r}")
        pending = waiting
    return ordered


TRANSFORMS = {"fp32-activations": fp32_activations, "prune-outputs": prune_outputs,
              "fold-weight-casts": fold_weight_casts, "int8-static": int8_static,
              "any-input-size": any_input_size}


def derive(src: Path, dst: Path, steps: list[str], keep_output: str) -> None:
    """Apply ``steps`` in order to the model at ``src``; write the result to ``dst``."""
    import onnx

    unknown = [s for s in steps if s not in TRANSFORMS]
    if unknown:
        raise ValueError(f"unknown transform(s): {', '.join(unknown)}")
    model = onnx.load(str(src))
    for step in steps:
        TRANSFORMS[step](model, keep_output)
    dst.write_bytes(model.SerializeToString(deterministic=True))


CALIBRATED_FROM = ("isnet-medium-fp16", ["fp32-activations", "prune-outputs", "fold-weight-casts"], "output")


def write_ranges(source: Path, out: Path = RANGES_FILE) -> None:
    """Calibrate the float graph ``int8-static`` quantises and store the snapped ranges (JSON).

    A maintainer step (after changing the calibration photos, the percentile or the graph
    transforms before ``int8-static``), not part of ``make setup``."""
    import json

    import onnx

    model_id, steps, keep = CALIBRATED_FROM
    model = onnx.load(str(source))
    for step in steps:
        TRANSFORMS[step](model, keep)
    ranges = calibrate(model)
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {"from": model_id, "steps": steps, "percentile": PERCENTILE,
               "steps_per_octave": RANGE_STEPS_PER_OCTAVE, "ranges": {k: list(v) for k, v in ranges.items()}}
    out.write_text(json.dumps(payload, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    import sys

    if sys.argv[1:2] != ["calibrate"]:
        sys.exit("usage: python models/derive.py calibrate [PUBLISHED.onnx]  (writes " + str(RANGES_FILE) + ")")
    published = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(__file__).resolve().parent / "isnet-medium-fp16.onnx"
    write_ranges(published)
    print(f"wrote {RANGES_FILE}")
