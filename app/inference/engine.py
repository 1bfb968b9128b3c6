"""The engine: one model, one session, one inference at a time."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
from PIL import Image

from app.inference import processing
from app.inference.manifest import Catalogue, ModelSpec, discover
from app.inference.session import LoadedModel, open_session


class Engine:
    """Loads its model lazily (verified by sha256) and serialises runs.

    Threads may share an engine; only one ``run`` reaches onnxruntime at a time, which
    is what DirectML requires and what keeps memory bounded on CPU.
    """

    def __init__(
        self,
        model: str | None = None,
        device: str = "auto",
        threads: int | None = None,
        catalogue: Catalogue | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        self.catalogue = catalogue or discover()
        self.spec: ModelSpec = self.catalogue.get(model)
        self.device = device
        self.threads = threads
        self.cache_dir = cache_dir
        self._loaded: LoadedModel | None = None
        self._load_lock = threading.Lock()
        self._run_lock = threading.Lock()

    def load(self) -> LoadedModel:
        with self._load_lock:
            if self._loaded is None:
                self._loaded = open_session(self.spec, self.device, self.threads, self.cache_dir)
            return self._loaded

    @property
    def description(self) -> str:
        return self.load().description

    @property
    def resizable(self) -> bool:
        """Whether the model runs at sizes other than its manifest's and on batches of photos."""
        return self.spec.input.resizable

    def prepare(self, rgb: Image.Image, size: tuple[int, int] | None = None) -> np.ndarray:
        """The model input for a photo (safe to run on another thread than ``infer``), at
        ``size`` (width, height) when the model is resizable, else at the manifest's size."""
        if size is not None and size != self.spec.input.size and not self.resizable:
            raise ValueError(f"model {self.spec.id} only runs at {self.spec.input.size}, not {size}")
        return processing.preprocess(rgb, self.spec.input, size)

    def infer(self, tensor: np.ndarray) -> np.ndarray:
        """Run the model on a prepared tensor; returns the foreground probability map."""
        return self.infer_batch(tensor)[0]

    def infer_batch(self, tensors: np.ndarray) -> list[np.ndarray]:
        """One probability map per photo of a batch (N, ...) of same-sized tensors: one
        ``session.run`` when the model is resizable, one run per photo otherwise."""
        loaded = self.load()
        feeds = [tensors] if self.resizable or len(tensors) == 1 else [tensors[i : i + 1] for i in range(len(tensors))]
        with self._run_lock:
            raws = [loaded.session.run([loaded.output_name], {loaded.input_name: t})[0] for t in feeds]
        return [prob for raw in raws for prob in processing.postprocess_batch(raw, self.spec.output)]

    def predict(self, rgb: Image.Image) -> np.ndarray:
        return self.infer(self.prepare(rgb))
