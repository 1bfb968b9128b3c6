"""The engine end to end on tiny graphs of each family, its locking, and the real model once."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from app import paths
from app.inference import engine as engine_module
from app.inference.engine import Engine
from app.inference.manifest import IMAGENET_MEAN, IMAGENET_STD, Catalogue, ManifestError, discover
from app.inference.session import LoadedModel, ModelMissing, ModelTampered
from tests import onnx_graphs as g

WHITE, GREY, BLACK = (255, 255, 255), (128, 128, 128), (0, 0, 0)
WARM, COOL = (230, 200, 180), (20, 40, 60)
BLUE, RED = (0, 0, 255), (255, 0, 0)


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory: pytest.TempPathFactory) -> Catalogue:
    cat = g.install(tmp_path_factory.mktemp("models"), g.all_models())
    assert cat.problems == []
    return cat


def _engine(cat: Catalogue, model: str | None, **kw: Any) -> Engine:
    return Engine(model, device="cpu", threads=1, catalogue=cat, **kw)


def _u2net_grey() -> float:
    """By hand: ImageNet-normalised sum -> 0.25 + 0.5·σ -> min-max over white..black."""
    def d0(v: float) -> float:
        z = sum((v - m) / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD, strict=True))
        return 0.25 + 0.5 * float(g.sigmoid(z))
    return (d0(128) - d0(0)) / (d0(255) - d0(0))


def _birefnet(c: tuple[int, int, int]) -> float:
    w, b = (2.0, -1.0, 0.5), 0.3
    z = sum(wi * (ci - m) / s for wi, ci, m, s in zip(w, c, IMAGENET_MEAN, IMAGENET_STD, strict=True))
    return float(g.sigmoid(z + b))


# model id, band colours left to right, expected matte value at each band's centre (by hand)
CASES = [
    ("tiny-isnet", [WHITE, BLACK], [g.sigmoid(12 * 127 / 256), g.sigmoid(12 * -128 / 256)]),
    ("tiny-u2net", [WHITE, GREY, BLACK], [1.0, _u2net_grey(), 0.0]),
    ("tiny-birefnet", [WARM, COOL], [_birefnet(WARM), _birefnet(COOL)]),
    # linear graph + min-max: the matte is just v / 255
    ("tiny-rmbg", [WHITE, (100, 100, 100), BLACK], [1.0, 100 / 255, 0.0]),
    # only blue counts, against its own mean 100: the left (blue) band is foreground
    ("tiny-nhwc-bgr", [BLUE, RED], [g.sigmoid(3 * (255 - 100) / 100), g.sigmoid(3 * (0 - 100) / 100)]),
]
SHAPES = {"tiny-isnet": (64, 64), "tiny-u2net": (320, 320), "tiny-birefnet": (1024, 1024),
          "tiny-rmbg": (1024, 1024), "tiny-nhwc-bgr": (32, 48)}


@pytest.mark.parametrize(("model_id", "colours", "expected"), CASES, ids=[c[0] for c in CASES])
def test_family_end_to_end(catalogue: Catalogue, model_id: str, colours: list[Any], expected: list[float]) -> None:
    engine = _engine(catalogue, model_id)
    matte = engine.predict(g.bands(colours, width=300, height=200))
    assert matte.shape == SHAPES[model_id] and matte.dtype == np.float32
    assert matte.min() >= 0.0 and matte.max() <= 1.0
    width = matte.shape[1]
    half = width // (4 * len(colours))
    for centre, value in zip(g.band_centres(len(colours), width), expected, strict=True):
        np.testing.assert_allclose(matte[:, centre - half:centre + half + 1], value, atol=2e-6)
    left, right = matte[:, : width // 5], matte[:, -width // 5:]
    assert left.min() > 0.9 and right.max() < 0.1, "bright on the left, dark on the right"
    assert np.all(np.diff(matte[matte.shape[0] // 2]) <= 1e-6), "falls monotonically left to right"


def test_mirrored_photo_gives_a_mirrored_matte(catalogue: Catalogue) -> None:
    engine = _engine(catalogue, "tiny-nhwc-bgr")
    matte = engine.predict(g.bands([RED, BLUE], width=300, height=200))
    assert matte[:, :8].max() < 0.1 and matte[:, -8:].min() > 0.9


class _SpySession:
    """Wraps a real session: records each run, and how many ran at once."""

    def __init__(self, inner: Any, delay: float = 0.0) -> None:
        self.inner, self.delay = inner, delay
        self.calls: list[tuple[list[str], list[str]]] = []
        self.active = self.most_active = 0
        self._lock = threading.Lock()

    def run(self, output_names: list[str], feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        with self._lock:
            self.active += 1
            self.most_active = max(self.most_active, self.active)
            self.calls.append((list(output_names), sorted(feed)))
        try:
            time.sleep(self.delay)
            return self.inner.run(output_names, feed)
        finally:
            with self._lock:
                self.active -= 1


def _spy(monkeypatch: pytest.MonkeyPatch, delay: float = 0.0, load_delay: float = 0.0) -> list[_SpySession]:
    """Make the engine's sessions spies; ``load_delay`` widens the window for a racing load."""
    spies: list[_SpySession] = []
    real_open = engine_module.open_session

    def open_session(*args: Any, **kw: Any) -> LoadedModel:
        time.sleep(load_delay)
        loaded = real_open(*args, **kw)
        spies.append(_SpySession(loaded.session, delay))
        return replace(loaded, session=spies[-1])

    monkeypatch.setattr(engine_module, "open_session", open_session)
    return spies


@pytest.mark.parametrize(("model_id", "output", "feed"), [("tiny-isnet", "output", "input"),
                                                          ("tiny-u2net", "d0", "input.1")])
def test_only_the_matte_output_is_requested(
    catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch, model_id: str, output: str, feed: str
) -> None:
    spies = _spy(monkeypatch)
    engine = _engine(catalogue, model_id)
    engine.predict(g.bands([WHITE, BLACK]))
    engine.predict(g.bands([BLACK, WHITE]))
    assert len(spies) == 1, "the session is opened once and reused"
    assert spies[0].calls == [([output], [feed])] * 2


def test_loading_is_lazy_and_reports_the_provider(catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch) -> None:
    spies = _spy(monkeypatch)
    engine = _engine(catalogue, "tiny-isnet")
    assert spies == [] and engine.spec.id == "tiny-isnet"
    assert engine.description == "CPU · 1 thread"
    assert engine.load() is engine.load() and len(spies) == 1
    assert engine.load().provider == "CPUExecutionProvider"


def test_default_model_and_unknown_model(catalogue: Catalogue) -> None:
    assert _engine(catalogue, None).spec.id == catalogue.default == "tiny-isnet"
    with pytest.raises(ManifestError, match="unknown model 'nope'"):
        _engine(catalogue, "nope")


def test_prepare_then_infer_equals_predict(catalogue: Catalogue) -> None:
    engine = _engine(catalogue, "tiny-birefnet")
    photo = g.bands([WARM, GREY, COOL])
    tensor = engine.prepare(photo)
    assert tensor.shape == (1, 3, 1024, 1024)
    np.testing.assert_array_equal(engine.infer(tensor), engine.predict(photo))


def test_a_resizable_model_runs_at_another_size_and_a_batch_in_one_run(
    catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = _engine(catalogue, "tiny-isnet-any-size")
    spies = _spy(monkeypatch)
    photo = g.bands([WHITE, BLACK], width=300, height=200)
    small = engine.prepare(photo, size=(48, 32))
    assert small.shape == (1, 3, 32, 48)
    assert engine.infer(small).shape == (32, 48)
    pair = np.concatenate([small, small[..., ::-1]])
    left, mirrored = engine.infer_batch(pair)
    assert len(spies[0].calls) == 2  # the single photo, then the pair in one run
    np.testing.assert_allclose(mirrored, left[:, ::-1], atol=1e-6)


def test_a_fixed_size_model_refuses_another_size_and_runs_a_batch_photo_by_photo(
    catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = _engine(catalogue, "tiny-isnet")
    photo = g.bands([WHITE, BLACK], width=300, height=200)
    with pytest.raises(ValueError, match=r"only runs at \(64, 64\)"):
        engine.prepare(photo, size=(32, 32))
    spies = _spy(monkeypatch)
    x = engine.prepare(photo)
    first, second = engine.infer_batch(np.concatenate([x, x[..., ::-1]]))
    assert len(spies[0].calls) == 2
    np.testing.assert_allclose(second, first[:, ::-1], atol=1e-6)


def test_missing_and_tampered_models_fail_on_first_use(tmp_path: Path) -> None:
    cat = g.install(tmp_path, [g.isnet(size=16), g.rmbg(size=16)])
    (tmp_path / "tiny-isnet.onnx").unlink()
    missing = _engine(cat, "tiny-isnet")  # constructing does not touch the file
    with pytest.raises(ModelMissing, match="tiny-isnet"):
        missing.predict(g.bands([WHITE, BLACK]))
    rmbg = tmp_path / "tiny-rmbg.onnx"
    data = bytearray(rmbg.read_bytes())
    data[-1] ^= 0xFF
    rmbg.write_bytes(bytes(data))
    tampered = _engine(cat, "tiny-rmbg")
    with pytest.raises(ModelTampered, match=r"tiny-rmbg\.onnx"):
        tampered.load()


def test_concurrent_predict_matches_serial(catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(7)
    photos = [Image.fromarray(rng.integers(0, 256, (30 + i, 50, 3), dtype=np.uint8), "RGB") for i in range(16)]
    serial_engine = _engine(catalogue, "tiny-isnet")
    serial = [serial_engine.predict(p) for p in photos]
    spies = _spy(monkeypatch, delay=0.002, load_delay=0.05)
    engine = _engine(catalogue, "tiny-isnet")

    results: dict[int, np.ndarray] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def worker(indices: range) -> None:
        try:
            barrier.wait()
            for i in indices:
                results[i] = engine.predict(photos[i])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(range(k, 16, 2),)) for k in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == [] and sorted(results) == list(range(16))
    for i, expected in enumerate(serial):
        np.testing.assert_array_equal(results[i], expected)
    assert len(spies) == 1, "two threads racing to load still open one session"
    assert len(spies[0].calls) == 16
    assert spies[0].most_active == 1, "only one run reaches onnxruntime at a time"


# --- the real bundled model ----------------------------------------------------------------------



@pytest.mark.model
def test_real_model_on_the_sample_photo() -> None:
    cat = discover([(paths.bundled_models_dir(), "bundled")])
    engine = Engine("isnet-medium", device="cpu", catalogue=cat)
    with Image.open(paths.sample_photo()) as img:
        photo = img.convert("RGB")
    assert photo.size == (600, 400)
    matte = engine.predict(photo)
    assert matte.shape == (1024, 1024) and engine.load().provider == "CPUExecutionProvider"
    sy, sx = 1024 / 400, 1024 / 600  # photo pixel -> matte pixel

    def patch(x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
        return matte[round(y0 * sy):round(y1 * sy), round(x0 * sx):round(x1 * sx)]

    cup = patch(250, 110, 330, 190)  # the coffee inside the cup
    assert cup.mean() > 0.95 and np.quantile(cup, 0.05) > 0.8, "the cup's centre is opaque"
    for corner in (patch(0, 0, 40, 40), patch(560, 0, 600, 40), patch(0, 360, 40, 400),
                   patch(560, 360, 600, 400)):
        assert corner.mean() < 0.05 and corner.max() < 0.25, "the table in the corners is transparent"
