"""Test doubles shared by the pipeline and CLI tests."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from PIL import Image

from app.inference.manifest import InputSpec, ModelSpec, OutputSpec


class FakeEngine:
    """Stands in for Engine: 'foreground' is every pixel brighter than mid-grey.

    It records how many inferences ran and never runs two at once (like the real one).
    """

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self.spec = ModelSpec("fake", "Fake", None, "0" * 64, "isnet",  # type: ignore[arg-type]
                              InputSpec(size=(size, size)), OutputSpec())
        self.description = "CPU · fake"
        self.resizable = False
        self.runs = 0
        self.batch_sizes: list[int] = []
        self._lock = threading.Lock()
        self.active = 0
        self.max_active = 0

    def load(self) -> FakeEngine:
        return self

    def prepare(self, rgb: Image.Image, size: tuple[int, int] | None = None) -> np.ndarray:
        """A batch of one: (1, height, width) brightness in 0..1."""
        grey = rgb.convert("L").resize(size or (self.size, self.size), Image.Resampling.BILINEAR)
        return np.asarray(grey, dtype=np.float32)[np.newaxis] / 255.0

    def infer(self, tensor: np.ndarray) -> np.ndarray:
        return self.infer_batch(tensor)[0]

    def infer_batch(self, tensors: np.ndarray) -> list[np.ndarray]:
        with self._lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            self.runs += 1
            self.batch_sizes.append(len(tensors))
            return [(t > 0.5).astype(np.float32) for t in tensors]
        finally:
            with self._lock:
                self.active -= 1

    def predict(self, rgb: Image.Image) -> np.ndarray:
        return self.infer(self.prepare(rgb))


def photo(path, size=(96, 64), fmt=None, **save_args) -> None:
    """A bright square 'subject' on a dark background."""
    img = Image.new("RGB", size, (20, 30, 40))
    w, h = size
    img.paste((230, 200, 180), (w // 4, h // 4, 3 * w // 4, 3 * h // 4))
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, format=fmt, **save_args)


def wait_for(check, timeout: float = 30.0) -> bool:
    """Poll ``check`` until it is true; the bound only keeps a broken test from hanging."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return bool(check())


def finish_within(seconds: float, fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` on a daemon thread: its value (or its exception), or a test failure
    if it has not returned in ``seconds``, so a regression that hangs fails instead of hanging
    the suite. The bound is generous; it is never what a test measures."""

    box: dict = {}

    def run() -> None:
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # handed to the test's thread as is, SystemExit too
            box["error"] = exc

    thread = threading.Thread(target=run, name="test-finish-within", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        pytest.fail(f"{getattr(fn, '__name__', fn)} did not return within {seconds} s: it hangs")
    if "error" in box:
        raise box["error"]
    return box.get("value")


class ResizableFakeEngine(FakeEngine):
    """A FakeEngine whose model runs at any input size (manifest ``input.resizable``), like the
    bundled ISNet variants: at its own size it answers like FakeEngine, at any smaller size (the
    window's quick first look) it says 'foreground' everywhere, so a preview and its full answer
    differ in every test. It records the input sizes it ran at; ``hold_full`` (set by default)
    can be cleared to keep the full pass waiting."""

    def __init__(self, size: int = 1024) -> None:
        super().__init__(size)
        self.spec = ModelSpec("fake", "Fake", None, "0" * 64, "isnet",  # type: ignore[arg-type]
                              InputSpec(size=(size, size), resizable=True), OutputSpec())
        self.resizable = True
        self.sizes: list[tuple[int, int]] = []
        self.hold_full = threading.Event()
        self.hold_full.set()
        self.full_entered = threading.Event()

    def infer(self, tensor: np.ndarray) -> np.ndarray:
        height, width = tensor.shape[-2:]
        self.sizes.append((width, height))
        if (width, height) != (self.size, self.size):
            self.runs += 1
            return np.ones((height, width), np.float32)
        self.full_entered.set()
        assert self.hold_full.wait(10)
        return super().infer(tensor)
