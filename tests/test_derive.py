"""models/derive.py on a tiny ISNet-like graph: fp16 weights, activations cast to fp16 and
back, a side output; checks the int8 derivation's structure, determinism and accuracy."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from tests.scripts import load_script

ROOT = Path(__file__).resolve().parent.parent
SIZE = 32  # the calibration photos are resized to the graph's input size
INT8_STEPS = ["fp32-activations", "prune-outputs", "fold-weight-casts", "int8-static"]


def _derive_module():
    return load_script("knockout_models_derive", ROOT / "models" / "derive.py")


def _tiny_isnet(path: Path) -> None:
    """input -> Cast fp16 -> Conv 3→4 (3x3) -> Relu -> Conv 4→1 (1x1) -> Cast fp32 -> Sigmoid = output;
    a second Sigmoid on the first conv is a side output the derivation prunes. Like the published
    ISNet file, the nodes are not in topological order (here: reversed)."""
    rng = np.random.default_rng(7)
    w1 = (rng.standard_normal((4, 3, 3, 3)) * 0.5).astype(np.float16)
    b1 = rng.standard_normal(4).astype(np.float16)
    w2 = (rng.standard_normal((1, 4, 1, 1)) * 2.0).astype(np.float16)
    b2 = np.asarray([-1.0], dtype=np.float16)
    nodes = [
        helper.make_node("Cast", ["input"], ["x16"], to=TensorProto.FLOAT16),
        helper.make_node("Conv", ["x16", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1], name="conv1"),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], name="conv2"),
        helper.make_node("Cast", ["c2"], ["c2f"], to=TensorProto.FLOAT),
        helper.make_node("Sigmoid", ["c2f"], ["output"]),
        helper.make_node("Sigmoid", ["c1"], ["side"]),
    ]
    graph = helper.make_graph(
        nodes[::-1], "tiny-isnet",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, SIZE, SIZE])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 1, SIZE, SIZE]),
         helper.make_tensor_value_info("side", TensorProto.FLOAT16, [1, 4, SIZE, SIZE])],
        [numpy_helper.from_array(a, n) for a, n in ((w1, "w1"), (b1, "b1"), (w2, "w2"), (b2, "b2"))],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])
    model.ir_version = 8
    path.write_bytes(model.SerializeToString())


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tiny-fp16.onnx"
    _tiny_isnet(path)
    return path


def _run(path: Path, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["output"], {"input": x})[0]


def test_fold_weight_casts_leaves_fp32_initializers_and_no_casts(tiny: Path, tmp_path: Path) -> None:
    derive = _derive_module()
    out = tmp_path / "float.onnx"
    derive.derive(tiny, out, INT8_STEPS[:3], "output")
    model = onnx.load(str(out))
    assert {n.op_type for n in model.graph.node} == {"Conv", "Relu", "Sigmoid"}
    assert all(i.data_type == TensorProto.FLOAT for i in model.graph.initializer)
    assert [o.name for o in model.graph.output] == ["output"]


def test_int8_static_quantises_per_channel_deterministically_and_stays_close(tiny: Path, tmp_path: Path) -> None:
    derive = _derive_module()
    derive.RANGES_FILE = tmp_path / "ranges.json"
    derive.write_ranges(tiny, derive.RANGES_FILE)  # the maintainer step, on the tiny graph
    reference, first, second = tmp_path / "float.onnx", tmp_path / "a.onnx", tmp_path / "b.onnx"
    derive.derive(tiny, reference, INT8_STEPS[:3], "output")
    derive.derive(tiny, first, INT8_STEPS, "output")
    derive.derive(tiny, second, INT8_STEPS, "output")
    assert hashlib.sha256(first.read_bytes()).digest() == hashlib.sha256(second.read_bytes()).digest()

    model = onnx.load(str(first))
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    weight_dq = [n for n in model.graph.node if n.op_type == "DequantizeLinear" and inits.get(n.input[0]) is not None
                 and inits[n.input[0]].dtype == np.int8 and inits[n.input[0]].ndim == 4]
    assert len(weight_dq) == 2  # both convs' weights, int8, one scale per output channel
    assert sorted(inits[n.input[1]].shape[0] for n in weight_dq) == [1, 4]
    activation_q = [n for n in model.graph.node if n.op_type == "QuantizeLinear"
                    and inits[n.input[2]].dtype == np.uint8]
    assert activation_q  # activations are uint8 (the x86 VNNI path)

    photo = derive.calibration_photos()[0].resize((SIZE, SIZE))
    x = ((np.asarray(photo, dtype=np.float32) - 128.0) / 256.0).transpose(2, 0, 1)[np.newaxis].copy()
    assert np.abs(_run(first, x) - _run(reference, x)).max() < 0.05


def test_int8_static_without_committed_ranges_says_how_to_make_them(tiny: Path, tmp_path: Path) -> None:
    derive = _derive_module()
    derive.RANGES_FILE = tmp_path / "missing.json"
    with pytest.raises(ValueError, match=r"derive\.py calibrate"):
        derive.derive(tiny, tmp_path / "out.onnx", INT8_STEPS, "output")


def test_calibration_photos_are_fixed() -> None:
    derive = _derive_module()
    photos = derive.calibration_photos()
    again = derive.calibration_photos()
    assert len(photos) == 12
    assert all(p.mode == "RGB" and p.tobytes() == q.tobytes() for p, q in zip(photos, again, strict=True))


def test_snap_rounds_away_from_zero_on_a_log_grid() -> None:
    derive = _derive_module()
    assert derive._snap(0.0) == 0.0
    assert derive._snap(1.0) == 1.0
    assert derive._snap(-3.0) == -(2.0 ** (13 / 8))
    assert 3.0 <= derive._snap(3.0) < 3.0 * 2 ** (1 / 8)
    assert derive._snap(3.0) == derive._snap(3.0 * (1 + 1e-6))


def _fixed_size_unet(path: Path, size: int = 32) -> None:
    """An ISNet-shaped graph exported at one size: pool, conv, resize back to a *constant*
    size, concatenate with the skip, conv, then a final resize to the (constant) input size."""
    rng = np.random.default_rng(3)
    w1 = (rng.standard_normal((2, 3, 3, 3)) * 0.5).astype(np.float32)
    w2 = (rng.standard_normal((1, 5, 1, 1)) * 0.5).astype(np.float32)

    def sizes(name: str, hw: int) -> list[onnx.NodeProto]:
        return [helper.make_node("Shape", [f"{name}_src"], [f"{name}_shape"]),
                helper.make_node("Slice", [f"{name}_shape", "zero", "two", "zero"], [f"{name}_nc"]),
                helper.make_node("Constant", [], [f"{name}_hw"],
                                 value=numpy_helper.from_array(np.asarray([hw, hw], np.int64))),
                helper.make_node("Concat", [f"{name}_nc", f"{name}_hw"], [f"{name}_sizes"], axis=0)]

    nodes = [
        helper.make_node("MaxPool", ["input"], ["pooled"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["pooled", "w1"], ["low"], pads=[1, 1, 1, 1]),
        helper.make_node("Identity", ["low"], ["up_src"]),
        *sizes("up", size),
        helper.make_node("Resize", ["low", "", "", "up_sizes"], ["up"], mode="linear"),
        helper.make_node("Concat", ["up", "input"], ["joined"], axis=1),
        helper.make_node("Conv", ["joined", "w2"], ["head"]),
        helper.make_node("Identity", ["head"], ["out_src"]),
        *sizes("out", size),
        helper.make_node("Resize", ["head", "", "", "out_sizes"], ["logit"], mode="linear"),
        helper.make_node("Sigmoid", ["logit"], ["output"]),
    ]
    graph = helper.make_graph(
        nodes, "fixed-unet", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 1, size, size])],
        [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2"),
         numpy_helper.from_array(np.asarray([0], np.int64), "zero"),
         numpy_helper.from_array(np.asarray([2], np.int64), "two")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])
    model.ir_version = 8
    path.write_bytes(model.SerializeToString())


def test_any_input_size_runs_other_sizes_and_batches_and_matches_at_the_exported_size(tmp_path: Path) -> None:
    derive = _derive_module()
    fixed, free = tmp_path / "fixed.onnx", tmp_path / "free.onnx"
    _fixed_size_unet(fixed)
    derive.derive(fixed, free, ["any-input-size"], "output")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 3, 32, 32)).astype(np.float32)
    np.testing.assert_allclose(_run(free, x), _run(fixed, x), atol=1e-6)
    with pytest.raises(Exception, match=r"(?i)dimension|shape"):
        _run(fixed, rng.standard_normal((1, 3, 48, 64)).astype(np.float32))
    other = rng.standard_normal((2, 3, 48, 64)).astype(np.float32)
    out = _run(free, other)
    assert out.shape == (2, 1, 48, 64)
    np.testing.assert_allclose(out[1:], _run(free, other[1:]), atol=1e-6)  # a batch = photo by photo
    model = onnx.load(str(free))
    constants = [n for n in model.graph.node if n.op_type == "Constant"]
    assert constants == []  # the fixed sizes are gone, not left dangling


def test_any_input_size_refuses_a_graph_whose_resize_size_it_cannot_trace(tiny: Path, tmp_path: Path) -> None:
    derive = _derive_module()
    model = onnx.load(str(tiny))
    model.graph.node.append(helper.make_node("Resize", ["output", "", "", "input"], ["odd"], name="odd"))
    odd = tmp_path / "odd.onnx"
    odd.write_bytes(model.SerializeToString())
    with pytest.raises(ValueError, match="odd: its output size is not a Concat"):
        derive.derive(odd, tmp_path / "out.onnx", ["any-input-size"], "output")
