"""One or two views of a photo through the engine (tiny graphs built in the tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.inference import views
from app.inference.engine import Engine
from app.inference.manifest import Catalogue
from tests import onnx_graphs as g


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory: pytest.TempPathFactory) -> Catalogue:
    return g.install(tmp_path_factory.mktemp("models"), [g.isnet(), g.resizable_isnet()])


class _Counting:
    def __init__(self, inner: object) -> None:
        self.inner, self.batches = inner, []

    def run(self, names: list[str], feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        self.batches.append(len(next(iter(feed.values()))))
        return self.inner.run(names, feed)  # type: ignore[attr-defined]


def _engine(cat: Catalogue, model: str) -> tuple[Engine, _Counting]:
    engine = Engine(model, device="cpu", threads=1, catalogue=cat)
    loaded = engine.load()
    spy = _Counting(loaded.session)
    loaded.session = spy
    return engine, spy


@pytest.mark.parametrize(("model", "runs"), [("tiny-isnet-any-size", [2]), ("tiny-isnet", [1, 1])])
def test_two_views_run_as_one_batch_when_the_model_allows_it(catalogue: Catalogue, model: str,
                                                             runs: list[int]) -> None:
    engine, spy = _engine(catalogue, model)
    photo = g.bands([(250, 250, 250), (120, 120, 120), (5, 5, 5)])
    one = views.answer(engine, photo, 1)
    spy.batches.clear()
    two = views.answer(engine, photo, 2)
    assert spy.batches == runs
    # a per-pixel model answers the mirror image with the mirrored matte: both views agree
    np.testing.assert_allclose(two, one, atol=1e-4)
    assert two[:, 0].mean() > 0.9 and two[:, -1].mean() < 0.1  # not fused the wrong way round


def test_views_other_than_one_or_two_are_refused(catalogue: Catalogue, tmp_path: Path) -> None:
    engine, _ = _engine(catalogue, "tiny-isnet")
    with pytest.raises(ValueError, match="views must be 1 or 2"):
        views.answer(engine, g.bands([(0, 0, 0)]), 3)
