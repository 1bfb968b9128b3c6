"""Pre- and post-processing driven by manifest fields, checked against numpy by hand."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from PIL import Image

from app.inference.manifest import IMAGENET_MEAN, IMAGENET_STD, InputSpec, OutputSpec
from app.inference.processing import postprocess, preprocess
from tests import onnx_graphs as g

COLOUR = (200, 100, 30)


def _uniform(colour: tuple[int, int, int] = COLOUR, size: tuple[int, int] = (37, 23)) -> Image.Image:
    return Image.new("RGB", size, colour)


# --- preprocess --------------------------------------------------------------------------------


def test_nchw_rgb_values_and_shape() -> None:
    spec = InputSpec(size=(40, 24), mean=IMAGENET_MEAN, std=IMAGENET_STD)
    tensor = preprocess(_uniform(), spec)
    assert tensor.shape == (1, 3, 24, 40), "size is (width, height)"
    assert tensor.dtype == np.float32 and tensor.flags.c_contiguous
    expected = (np.asarray(COLOUR) - np.asarray(IMAGENET_MEAN)) / np.asarray(IMAGENET_STD)
    for c in range(3):
        np.testing.assert_allclose(tensor[0, c], expected[c], rtol=1e-6)


def test_nhwc_layout() -> None:
    spec = InputSpec(size=(40, 24), mean=(0, 0, 0), std=(1, 1, 1), layout="NHWC")
    tensor = preprocess(_uniform(), spec)
    assert tensor.shape == (1, 24, 40, 3) and tensor.flags.c_contiguous
    np.testing.assert_array_equal(tensor[0, 5, 7], COLOUR)


def test_bgr_swaps_channels_and_mean_is_in_tensor_order() -> None:
    mean, std = (10.0, 20.0, 40.0), (2.0, 4.0, 8.0)
    for layout in ("NCHW", "NHWC"):
        spec = InputSpec(size=(8, 8), mean=mean, std=std, layout=layout, channels="BGR")
        tensor = preprocess(_uniform(), spec)
        pixel = tensor[0, :, 3, 3] if layout == "NCHW" else tensor[0, 3, 3, :]
        b, gr, r = COLOUR[2], COLOUR[1], COLOUR[0]
        np.testing.assert_allclose(pixel, [(b - 10) / 2, (gr - 20) / 4, (r - 40) / 8], rtol=1e-6)
        assert tensor.flags.c_contiguous


def test_resize_keeps_left_and_right() -> None:
    photo = g.bands([(255, 255, 255), (0, 0, 0)], width=300, height=120)
    tensor = preprocess(photo, InputSpec(size=(64, 64)))
    left, right = tensor[0, :, :, :28], tensor[0, :, :, 36:]
    np.testing.assert_allclose(left, 127.5 / 255, rtol=1e-6)
    np.testing.assert_allclose(right, -127.5 / 255, rtol=1e-6)


@pytest.mark.parametrize(("mode", "colour"), [("L", 120), ("RGBA", (*COLOUR, 0)), ("P", None)])
def test_non_rgb_images_are_converted(mode: str, colour: object) -> None:
    spec = InputSpec(size=(8, 8))
    if mode == "P":
        image = _uniform().convert("P")
        reference = _uniform().convert("P").convert("RGB")
    else:
        image = Image.new(mode, (9, 9), colour)  # type: ignore[arg-type]
        reference = image.convert("RGB")
    np.testing.assert_array_equal(preprocess(image, spec), preprocess(reference, spec))
    assert image.mode == mode, "the caller's image is left alone"


# --- postprocess -------------------------------------------------------------------------------

MATTE = np.array([[0.0, 0.25, 0.5], [0.75, 1.0, 0.125]], dtype=np.float32)


@pytest.mark.parametrize(
    "shape",
    [(2, 3), (1, 2, 3), (1, 1, 2, 3), (1, 2, 3, 1), (2, 3, 1), (1, 1, 1, 2, 3)],
)
def test_shapes(shape: tuple[int, ...]) -> None:
    out = postprocess(MATTE.reshape(shape), OutputSpec())
    assert out.shape == (2, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(out, MATTE)


def test_small_nhwc_output() -> None:
    matte = np.arange(24, dtype=np.float32).reshape(4, 6) / 23
    out = postprocess(matte.reshape(1, 4, 6, 1), OutputSpec())
    np.testing.assert_array_equal(out, matte)


def test_several_channels_first_one_is_the_matte() -> None:
    matte = np.linspace(0, 1, 35, dtype=np.float32).reshape(5, 7)
    stack = np.stack([matte, 1 - matte, np.zeros_like(matte)])
    np.testing.assert_array_equal(postprocess(stack[np.newaxis], OutputSpec()), matte)  # (1, 3, H, W)
    np.testing.assert_array_equal(postprocess(stack.transpose(1, 2, 0), OutputSpec()), matte)  # (H, W, 3)


@pytest.mark.parametrize("shape", [(6,), (1, 6, 1, 1, 1, 1), (2, 2, 2, 3), (1, 2, 1, 3, 2)])
def test_unusable_shapes(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="unexpected model output shape"):
        postprocess(np.zeros(shape, np.float32), OutputSpec())


def test_sigmoid() -> None:
    logits = np.linspace(-8, 8, 33, dtype=np.float32).reshape(1, 1, 3, 11)
    out = postprocess(logits, OutputSpec(activation="sigmoid"))
    np.testing.assert_allclose(out, g.sigmoid(logits[0, 0]), rtol=1e-6, atol=1e-7)
    assert out[1, 5] == pytest.approx(0.5)


def test_sigmoid_of_extreme_logits_is_clean() -> None:
    logits = np.array([[-1e4, -100.0, 0.0], [100.0, 1e4, -89.0]], dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = postprocess(logits, OutputSpec(activation="sigmoid"))
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out, [[0.0, 0.0, 0.5], [1.0, 1.0, 0.0]], atol=1e-6)


def test_minmax() -> None:
    raw = np.array([[2.0, 4.0], [6.0, 10.0]], dtype=np.float32)
    out = postprocess(raw[np.newaxis, np.newaxis], OutputSpec(normalize="minmax"))
    np.testing.assert_allclose(out, [[0, 0.25], [0.5, 1]], rtol=1e-6)


def test_sigmoid_then_minmax() -> None:
    raw = np.array([[-1.0, 0.0, 3.0]], dtype=np.float32).reshape(1, 1, 1, 3)
    out = postprocess(raw, OutputSpec(activation="sigmoid", normalize="minmax"))
    s = g.sigmoid([-1.0, 0.0, 3.0])
    np.testing.assert_allclose(out[0], (s - s.min()) / (s.max() - s.min()), rtol=1e-6)


@pytest.mark.parametrize("value", [0.0, 0.7, 5.0])
def test_constant_output_with_minmax_is_zero_not_nan(value: float) -> None:
    raw = np.full((1, 1, 4, 4), value, dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = postprocess(raw, OutputSpec(normalize="minmax"))
    np.testing.assert_array_equal(out, np.zeros((4, 4), np.float32))


def test_values_are_clipped_without_normalisation() -> None:
    raw = np.array([[-0.2, 0.5, 1.3]], dtype=np.float32)
    np.testing.assert_array_equal(postprocess(raw, OutputSpec()), [[0.0, 0.5, 1.0]])


@pytest.mark.parametrize("dtype", [np.float16, np.float64])
def test_other_dtypes_give_float32(dtype: type) -> None:
    out = postprocess(MATTE.astype(dtype)[np.newaxis, np.newaxis], OutputSpec())
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, MATTE, atol=1e-3)


def test_input_array_is_not_modified_and_may_be_read_only() -> None:
    raw = np.array([[[[-0.5, 0.5], [1.5, 0.25]]]], dtype=np.float32)
    before = raw.copy()
    raw.setflags(write=False)
    out = postprocess(raw, OutputSpec())
    np.testing.assert_array_equal(raw, before)
    np.testing.assert_array_equal(out, [[0.0, 0.5], [1.0, 0.25]])
    out[0, 0] = 0.9  # the result is the caller's own array
