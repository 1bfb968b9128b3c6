"""Where a photo's time goes: each step of the batch recipe timed on its own, one photo at a time.

    .venv/bin/python bench/stages.py [-n 4] [--views 2] [--model isnet-medium-int8]

Uses the 4000x3000 JPEGs bench/throughput.py builds in .bench/images (run it once first). Prints
the median milliseconds of each step over the photos and its share of their sum, with the CPU and
its VNNI flags. The batch runs decode, the model, the mask and export recipe, and encoding in four
threads side by side, so a batch's wall time is about its slowest stage, not this sum: the table
says which stage that is and what the others take from the same cores.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from throughput import BENCH, REPO, cpu_line

sys.path.insert(0, str(REPO))
from app.batch.pipeline import MaskOptions, alpha_for
from app.core import qa
from app.core.compose import Cutout
from app.core.decode import open_image
from app.core.export import ExportSettings, render, save
from app.inference import views
from app.inference.engine import Engine


def timed(step: Callable[[], Any], into: list[float]) -> Any:
    start = time.perf_counter()
    result = step()
    into.append((time.perf_counter() - start) * 1000)
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=4, help="photos (from .bench/images)")
    ap.add_argument("--views", type=int, choices=(1, 2), default=1)
    ap.add_argument("--model", default=None, help="model id (default: the bundled default)")
    a = ap.parse_args()
    photos = sorted((BENCH / "images").glob("bench_*.jpg"))[: a.n]
    if not photos:
        sys.exit("error: no photos in .bench/images; run bench/throughput.py once to build them")
    engine = Engine(a.model)
    settings = ExportSettings(views=a.views)
    options = MaskOptions.of(settings)
    steps: dict[str, list[float]] = {k: [] for k in ("decode", "model input", "model", "mask (edges, clean-up)",
                                                     "QA flags", "render (decontaminate, compose)",
                                                     "encode + write PNG")}
    engine.infer(engine.prepare(open_image(photos[0]).image))  # load and warm up
    with tempfile.TemporaryDirectory() as tmp:
        for i, path in enumerate(photos):
            decoded = timed(lambda p=path: open_image(p), steps["decode"])
            tensor = timed(lambda d=decoded: views.prepare(engine, d.image), steps["model input"])
            prob = timed(lambda d=decoded, t=tensor: views.finish(engine, d.image, t, a.views), steps["model"])
            alpha = timed(lambda d=decoded, p=prob: alpha_for(d, p, options), steps["mask (edges, clean-up)"])
            timed(lambda d=decoded, m=alpha: qa.assess_images(d.image, m), steps["QA flags"])
            image = timed(lambda d=decoded, m=alpha: render(Cutout(d.image, m), settings),
                          steps["render (decontaminate, compose)"])
            timed(lambda im=image, k=i: save(im, Path(tmp, f"{k}.png"), settings, None), steps["encode + write PNG"])
    medians = {k: statistics.median(v) for k, v in steps.items()}
    total = sum(medians.values())
    print(f"CPU: {cpu_line()}")
    print(f"{len(photos)} photos 4000x3000, model {engine.spec.id}, {a.views} view(s); median ms per photo")
    for k, v in medians.items():
        print(f"  {k:34s} {v:7.0f} ms  {100 * v / total:4.0f} %")
    print(f"  {'sum':34s} {total:7.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
