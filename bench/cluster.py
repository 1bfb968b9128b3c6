"""Cluster benchmark: photos per minute with 1 and 2 Ray workers against the local pipeline.

    .venv/bin/python bench/cluster.py                          # a 2-node Ray cluster on this machine
    .venv/bin/python bench/cluster.py -n 24 --size 4000x3000 --cpus 4
    .venv/bin/python bench/cluster.py --cluster 10.0.0.5:6379  # a real cluster (run on one of its nodes)

Needs the cluster extra (pip install -e '.[cluster]'). Without --cluster it starts a head and a
second node on this machine (tests/ray_cluster.py, --cpus each, torn down at the end): both then
share this machine's cores, so 2 workers show Ray's overhead and scheduling, not a real
speed-up; on a real cluster they show the scale-out. The photos (N seeded synthetic JPEGs) go to
.bench/cluster/ (git-ignored), which must be on the shared drive for --cluster.

The same photos and settings, the same model (default: the one `knockout cut` picks), each
timed from the first photo handed out to the last result, model loading apart:
- local pipeline (app.batch.pipeline.run_batch) with as many threads as one worker gets, and
  with all of this machine's CPUs;
- the cluster (app.batch.cluster.ClusterBatch) with 1 worker, then 2 (one per node);
- Ray's overhead per photo: (1 worker's time − the local pipeline's with the same threads) / N.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent))
from throughput import BENCH, REPO, cpu_line  # the CPU's model and flags, printed the same way

from app.batch.pipeline import Job, run_batch  # throughput.cpu_line put the repository on the path
from app.core.export import ExportSettings
from app.inference.engine import Engine
from app.inference.manifest import discover
from app.inference.variants import choose

sys.path.insert(0, str(REPO))
from tests.ray_cluster import local_cluster  # the tests' throwaway cluster: ray start, torn down by id


def photos(n: int, size: tuple[int, int], folder: Path) -> list[Path]:
    """N seeded synthetic product shots (a dark shape on a light, slightly noisy backdrop)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(11)
    made = []
    for i in range(n):
        path = folder / f"sku-{size[0]}x{size[1]}-{i:03d}.jpg"
        made.append(path)
        if path.exists():
            continue
        image = Image.new("RGB", size, tuple(int(v) for v in rng.integers(170, 250, 3)))
        w, h = size
        x, y = int(rng.integers(w // 8, w // 3)), int(rng.integers(h // 8, h // 3))
        ImageDraw.Draw(image).ellipse((x, y, x + w // 2, y + h // 2),
                                      fill=tuple(int(v) for v in rng.integers(0, 110, 3)))
        noisy = np.asarray(image, dtype=np.float32) + rng.normal(0, 2.5, (h, w, 3))
        Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(path, quality=90)
    return made


def jobs_into(sources: list[Path], out: Path) -> list[Job]:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    return [Job(s, out / f"{s.stem}.png", s.name) for s in sources]


def local_rate(model: str, threads: int, sources: list[Path], out: Path) -> float:
    engine = Engine(model, "cpu", threads)
    engine.load()
    started = time.perf_counter()
    results = list(run_batch(engine, jobs_into(sources, out), ExportSettings()))
    seconds = time.perf_counter() - started
    assert all(r.status == "written" for r in results), [r.message for r in results if r.status != "written"]
    return seconds


def cluster_rate(address: str, model: str, workers: int, sources: list[Path], out: Path) -> tuple[float, float, str]:
    from app.batch.cluster import ClusterBatch

    jobs = jobs_into(sources, out)
    batch = ClusterBatch(address, out, discover().get(model), workers=workers)
    described = batch.prepare(sources)
    up = time.perf_counter()
    batch.start_workers(ExportSettings())
    up = time.perf_counter() - up
    started = time.perf_counter()
    results = list(batch(None, jobs, ExportSettings()))
    seconds = time.perf_counter() - started
    assert all(r.status == "written" for r in results), [r.message for r in results if r.status != "written"]
    return seconds, up, described


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=12, help="photos (default 12)")
    ap.add_argument("--size", default="2000x1500", help="photo size WxH (default 2000x1500)")
    ap.add_argument("--model", help="model id (default: what `knockout cut` picks on this CPU)")
    ap.add_argument("--cpus", type=int, default=1, help="CPUs of each local node without --cluster (default 1)")
    ap.add_argument("--cluster", metavar="ADDRESS", help="an existing cluster instead of a local one")
    args = ap.parse_args()
    size = tuple(int(v) for v in args.size.lower().split("x"))
    model = choose(discover(), args.model, "cpu").model
    sources = photos(args.n, (size[0], size[1]), BENCH / "cluster" / "photos")
    out = BENCH / "cluster" / "out"
    print(f"CPU: {cpu_line()}", flush=True)
    print(f"photos: {args.n} × {size[0]}x{size[1]} · model {model}", flush=True)

    def measure(address: str, per_worker: int) -> None:
        rows = [(f"local pipeline, {per_worker} thread{'s' if per_worker != 1 else ''}",
                 local_rate(model, per_worker, sources, out / "local"))]
        if (cpus := os.cpu_count() or 1) != per_worker:
            rows.append((f"local pipeline, {cpus} threads", local_rate(model, cpus, sources, out / "local-all")))
        for workers in (1, 2):
            seconds, up, described = cluster_rate(address, model, workers, sources, out / f"cluster-{workers}")
            rows.append((f"cluster, {workers} worker{'s' if workers != 1 else ''} (up in {up:.1f} s)", seconds))
        print(f"cluster: {described}")
        for name, seconds in rows:
            print(f"  {name:<42} {60 * args.n / seconds:7.1f} photos/min  ({seconds / args.n:.2f} s/photo)")
        overhead = (rows[-2][1] - rows[0][1]) / args.n
        print(f"Ray's overhead per photo (1 worker vs the local pipeline, {per_worker} threads): {overhead:+.3f} s")

    if args.cluster:
        import ray

        from app.batch.cluster import ClusterBatch

        ClusterBatch(args.cluster, out, discover().get(model)).prepare(sources)  # joins the cluster
        first = next(n for n in ray.nodes() if n["Alive"] and n["Resources"].get("CPU", 0) >= 1)
        measure(args.cluster, int(first["Resources"]["CPU"]))  # a worker has all of its node's CPUs
        return 0
    with tempfile.TemporaryDirectory(prefix="kb-") as home, local_cluster(Path(home), cpus=args.cpus) as cluster:
        import ray

        try:
            measure(cluster.address, args.cpus)
        finally:
            ray.shutdown()  # leave the cluster before it is torn down
    return 0


if __name__ == "__main__":
    sys.exit(main())
