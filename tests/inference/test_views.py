"""One or two views of a photo through the engine (tiny graphs built in the tests)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from app.inference import views
from app.inference.engine import Engine
from app.inference.manifest import Catalogue
from tests import onnx_graphs as g


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory: pytest.TempPathFactory) -> Catalogue:
    return g.install(tmp_path_factory.mktemp("models"), [g.isnet(), g.resizable_isnet()])


class _Counting:
    """Records the shape of every batch the session runs."""

    def __init__(self, inner: object) -> None:
        self.inner, self.shapes = inner, []

    def run(self, names: list[str], feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        self.shapes.append(next(iter(feed.values())).shape)
        return self.inner.run(names, feed)  # type: ignore[attr-defined]


def _engine(cat: Catalogue, model: str) -> tuple[Engine, _Counting]:
    engine = Engine(model, device="cpu", threads=1, catalogue=cat)
    loaded = engine.load()
    spy = _Counting(loaded.session)
    loaded.session = spy
    return engine, spy


def _subject(size: tuple[int, int] = (400, 300)) -> Image.Image:
    """A white subject in the left half of a black photo."""
    arr = np.zeros((size[1], size[0], 3), np.uint8)
    arr[60:240, 40:180] = 250
    return Image.fromarray(arr, "RGB")


@pytest.mark.parametrize(("model", "shapes"), [
    ("tiny-isnet-any-size", [(2, 3, 64, 64)]),
    ("tiny-isnet", [(1, 3, 64, 64), (1, 3, 64, 64)]),
])
def test_the_mirror_view_runs_with_the_photo_as_one_batch_when_the_model_allows_it(
        catalogue: Catalogue, model: str, shapes: list[tuple[int, ...]]) -> None:
    engine, spy = _engine(catalogue, model)
    photo = _subject()
    one = views.answer(engine, photo, 1)
    spy.shapes.clear()
    two = views.finish(engine, photo, views.prepare(engine, photo), 2, second="mirror")
    assert spy.shapes == shapes
    # a per-pixel model answers the mirror image with the mirrored matte: both views agree
    np.testing.assert_allclose(two, one, atol=1e-4)


@pytest.mark.parametrize(("model", "zoom_shape"), [
    ("tiny-isnet-any-size", (1, 3, views.ZOOM_SIDE, views.ZOOM_SIDE)),
    ("tiny-isnet", (1, 3, 64, 64)),  # a fixed-size model looks at the crop at its own size
])
@pytest.mark.parametrize("second", ["zoom", "zoom-mirror"])
def test_the_zoom_view_looks_again_at_the_subject_and_is_pasted_back_in_place(
        catalogue: Catalogue, model: str, zoom_shape: tuple[int, ...], second: str) -> None:
    engine, spy = _engine(catalogue, model)
    photo = _subject()
    two = views.finish(engine, photo, views.prepare(engine, photo), 2, second=second)
    assert spy.shapes == [(1, 3, 64, 64), zoom_shape]
    assert two.shape == (64, 64)
    # the subject (x 40..180 of 400, y 60..240 of 300) stays where it is, the rest stays background
    assert two[20:44, 10:25].min() > 0.9
    assert two[:, 40:].max() < 0.1 and two[:8].max() < 0.1


def test_with_nothing_to_zoom_in_on_the_first_answer_stands(catalogue: Catalogue) -> None:
    engine, spy = _engine(catalogue, "tiny-isnet-any-size")
    dark = Image.new("RGB", (200, 100), (5, 5, 5))
    two = views.answer(engine, dark, 2)
    assert len(spy.shapes) == 1 and two.max() < 0.1


def test_views_other_than_one_or_two_are_refused(catalogue: Catalogue) -> None:
    engine, _ = _engine(catalogue, "tiny-isnet")
    with pytest.raises(ValueError, match="views must be 1 or 2"):
        views.answer(engine, _subject(), 3)


@pytest.mark.model
def test_two_views_of_a_real_photo_differ_from_one_and_keep_the_subject() -> None:
    from app import paths
    from app.inference.manifest import discover

    engine = Engine(device="cpu", catalogue=discover([(paths.bundled_models_dir(), "bundled")]))
    with Image.open(paths.sample_photo()) as img:
        photo = img.convert("RGB")
    one, two = views.answer(engine, photo, 1), views.answer(engine, photo, 2)
    assert one.shape == two.shape == (1024, 1024)
    changed = np.abs(two - one) > 0.05
    assert 0.001 < changed.mean() < 0.2  # a second opinion on the edges, not a different cutout
    assert ((two > 0.5) == (one > 0.5)).mean() > 0.97
    cup = two[280:480, 430:560]  # the coffee inside the cup (photo 250..330 x 110..190 of 600 x 400)
    assert cup.mean() > 0.95
