"""How fast this machine runs Knockout, for ``knockout diagnose`` and for comparing two machines.

Three measurements, each degrading to an ``error`` instead of failing the report:

- the chosen model's inference on a 1024×1024 picture (median of ``runs`` after a warm-up);
- every other usable model the same way, with one run after its warm-up (enough to compare
  one machine with another, and a whole median per model would make the report slow);
- the embedded sample photo end to end with the chosen model, as ``knockout sample`` does it:
  decode, model, edges, render, PNG encode (in memory: nothing is written).
"""

from __future__ import annotations

import io
import statistics
import time
from typing import Any

from app import paths
from app.inference.manifest import Catalogue, ManifestError

BENCH_SIZE = 1024
OTHER_RUNS = 1


def time_inference(result: dict[str, Any], catalogue: Catalogue, device: str) -> Any:
    """Load ``result["model"]`` as ``knockout cut`` would; time one warm-up, then ``result["runs"]`` runs.
    Fills ``result`` (provider, description, notes, input_size, seconds or error); returns the loaded
    engine, or None when it could not be loaded."""
    import numpy as np
    from PIL import Image

    from app.inference.engine import Engine
    from app.inference.session import ModelError

    try:
        engine = Engine(model=result["model"], device=device, catalogue=catalogue)
        loaded = engine.load()
    except (ManifestError, ModelError) as exc:
        result["error"] = str(exc)
        return None
    result.update(provider=loaded.provider, description=loaded.description, notes=list(loaded.notes),
                  input_size=list(engine.spec.input.size))
    pixels = np.random.default_rng(0).integers(0, 256, (BENCH_SIZE, BENCH_SIZE, 3), dtype=np.uint8)
    tensor = engine.prepare(Image.fromarray(pixels, "RGB"))
    try:
        engine.infer(tensor)  # warm-up: first-run allocations and kernel selection
        times = []
        for _ in range(result["runs"]):
            started = time.perf_counter()
            engine.infer(tensor)
            times.append(time.perf_counter() - started)
    except Exception as exc:  # onnxruntime raises its own types; report, don't crash
        result["error"] = f"inference with {result['model']} failed ({exc})"
        return None
    result["seconds"] = round(statistics.median(times), 4)
    return engine


def model_timings(catalogue: Catalogue, device: str, usable: set[str], chosen: dict[str, Any]) -> list[dict[str, Any]]:
    """Seconds per 1024×1024 inference for every model: the chosen one as ``chosen`` measured it,
    each other one in ``usable`` with OTHER_RUNS run(s) after a warm-up, the rest "not timed" (a
    missing or altered file, listed with its problem, or not asked for)."""
    rows = []
    for spec in catalogue.models.values():
        row: dict[str, Any] = {"id": spec.id, "name": spec.name, "seconds": None, "runs": None, "error": None}
        if spec.id == chosen["model"]:
            row.update(seconds=chosen["seconds"], runs=chosen["runs"], error=chosen["error"])
        elif spec.id not in usable:
            row["error"] = "not timed"
        else:
            timed: dict[str, Any] = {"model": spec.id, "runs": OTHER_RUNS, "seconds": None, "error": None}
            time_inference(timed, catalogue, device)
            row.update(seconds=timed["seconds"], runs=OTHER_RUNS, error=timed["error"])
        rows.append(row)
    return rows


def sample_timing(engine: Any) -> dict[str, Any]:
    """The embedded sample photo cut out end to end with ``engine`` (already loaded and warm)."""
    from app.batch.pipeline import cut_image
    from app.core.decode import open_image
    from app.core.export import ExportSettings, encode

    row: dict[str, Any] = {"model": engine.spec.id if engine is not None else None, "seconds": None,
                           "image_size": None, "error": None}
    if engine is None:
        row["error"] = "not run: the model could not be loaded"
        return row
    settings = ExportSettings(format="png")
    try:
        started = time.perf_counter()
        decoded = open_image(paths.sample_photo())
        encode(cut_image(engine, decoded, settings), io.BytesIO(), settings)
        row.update(seconds=round(time.perf_counter() - started, 4), image_size=list(decoded.size))
    except Exception as exc:  # a broken install must not stop the rest of the report
        row["error"] = f"the sample photo could not be cut out ({exc})"
    return row
