"""The quick first look: which input size, and only for models that run at any size."""

from dataclasses import replace

import numpy as np
from PIL import Image

from app.inference import preview
from tests.fakes import FakeEngine, ResizableFakeEngine


def test_a_resizable_model_gets_a_quick_pass_at_640():
    assert preview.size_for(ResizableFakeEngine(1024).spec) == (640, 640)


def test_a_model_that_only_runs_at_its_own_size_has_no_quick_pass():
    assert preview.size_for(FakeEngine(1024).spec) is None
    assert preview.quick_look(FakeEngine(1024), Image.new("RGB", (40, 30))) is None


def test_a_model_already_small_has_no_quicker_pass():
    assert preview.size_for(ResizableFakeEngine(320).spec) is None


def test_a_non_square_model_keeps_its_shape_in_whole_multiples_of_32():
    spec = ResizableFakeEngine(1024).spec
    wide = replace(spec, input=replace(spec.input, size=(1280, 720)))
    assert preview.size_for(wide) == (640, 352)


def test_quick_look_runs_the_model_once_at_the_quick_size():
    engine = ResizableFakeEngine(1024)
    prob = preview.quick_look(engine, Image.new("RGB", (400, 300), (200, 200, 200)))
    assert engine.sizes == [(640, 640)]
    assert prob is not None and prob.shape == (640, 640) and np.all(prob == 1.0)
