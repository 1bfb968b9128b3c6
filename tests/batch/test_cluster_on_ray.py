"""``knockout cut --cluster`` on a real Ray cluster: a head and a second node on this machine
(tests/ray_cluster.py), the tiny ISNet-style graph, 30 photos. Every output once, the pixels of a
local batch, and exactly one output per photo after a worker or the driver is killed mid-batch."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from tests import onnx_graphs as g
from tests.ray_cluster import REPO, Cluster, local_cluster, models_dir

if importlib.util.find_spec("ray") is None:
    pytest.skip("Ray is not installed: these tests need the cluster extra (pip install -e '.[cluster]')",
                allow_module_level=True)

pytestmark = [pytest.mark.slow, pytest.mark.cluster]
PHOTOS = 30
WORKER_TITLE = "ray::Cutter"  # Ray names an actor's process after its class


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    home = tmp_path_factory.mktemp("cluster-home")
    model = g.isnet()
    g.write_manifest(models_dir(home), [g.entry(model, g.save(model, models_dir(home)))])
    with local_cluster(home) as started:
        yield started


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30 photos on the 'shared drive' (here the one disk every node of this machine sees)."""
    folder = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(7)
    for i in range(PHOTOS):
        image = Image.new("RGB", (480, 360), tuple(int(v) for v in rng.integers(150, 255, 3)))
        draw = ImageDraw.Draw(image)
        x, y = int(rng.integers(40, 200)), int(rng.integers(40, 150))
        draw.ellipse((x, y, x + 200, y + 160), fill=tuple(int(v) for v in rng.integers(0, 120, 3)))
        image.save(folder / f"sku-{i:02d}.jpg", quality=90)
    return folder


def knockout(cluster: Cluster, *args: str) -> list[str]:
    return [sys.executable, "-m", "app", "cut", *args, "--model", "tiny-isnet"]


def run(cluster: Cluster, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(knockout(cluster, *args), env=cluster.env, cwd=REPO, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def local(cluster: Cluster, photos: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same batch on this machine alone, one thread like each worker: the pixels to match."""
    out = tmp_path_factory.mktemp("local")
    done = run(cluster, str(photos), "-o", str(out), "--threads", "1")
    assert done.returncode == 0, done.stderr
    return out


def outputs(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


def temporaries(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith(".part") or p.name.startswith(".knockout-cluster")]


def assert_same_pixels(folder: Path, local: Path) -> None:
    assert outputs(folder) == outputs(local) == [f"sku-{i:02d}.png" for i in range(PHOTOS)]
    for name in outputs(local):
        with Image.open(folder / name) as ours, Image.open(local / name) as theirs:
            assert np.array_equal(np.asarray(ours), np.asarray(theirs)), name


def done_lines(folder: Path) -> int:
    journal = folder / ".knockout-journal.jsonl"
    if not journal.exists():
        return 0
    return sum(1 for line in journal.read_text(errors="replace").splitlines() if '"kind": "done"' in line)


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_a_cluster_batch_writes_every_photo_once_with_the_pixels_of_a_local_batch(cluster, photos, local,
                                                                                   tmp_path):
    out = tmp_path / "out"
    done = run(cluster, str(photos), "-o", str(out), "--cluster", cluster.address, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["summary"]["written"] == PHOTOS and report["provider"].startswith("Ray cluster")
    assert_same_pixels(out, local)
    assert temporaries(out) == []
    assert done_lines(out) == PHOTOS
    assert "blocked" not in done.stderr  # the network guard let Ray reach the cluster and refused nothing
    nodes = [line for line in done.stderr.splitlines() if line.startswith("knockout: node ")]
    assert len(nodes) == 2 and sum(int(line.split(": ")[2].split()[0]) for line in nodes) == PHOTOS


def test_a_killed_worker_has_its_photos_redone_and_each_output_is_written_once(cluster, photos, local, tmp_path):
    out = tmp_path / "out"
    driver = subprocess.Popen(knockout(cluster, str(photos), "-o", str(out), "--cluster", cluster.address, "-q"),
                              env=cluster.env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: out.is_dir() and len(outputs(out)) >= 3, "the first outputs")
        workers = cluster.pids(WORKER_TITLE)
        assert workers, "no worker process found"
        os.kill(workers[0], signal.SIGKILL)
        assert len(outputs(out)) < PHOTOS, "the batch ended before a worker was killed"
        _, err = driver.communicate(timeout=300)
    finally:
        driver.kill()
    assert driver.returncode == 0, err
    assert workers[0] not in cluster.pids()
    assert_same_pixels(out, local)
    assert temporaries(out) == []


def test_a_rerun_after_the_driver_is_killed_resumes_and_ends_with_one_output_per_photo(cluster, photos, local,
                                                                                      tmp_path):
    out = tmp_path / "out"
    driver = subprocess.Popen(knockout(cluster, str(photos), "-o", str(out), "--cluster", cluster.address, "-q"),
                              env=cluster.env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: done_lines(out) >= 4, "the first journal lines")
    finally:
        driver.send_signal(signal.SIGKILL)
        driver.wait(timeout=30)
    assert done_lines(out) < PHOTOS, "the batch ended before the driver was killed"
    wait_for(lambda: not cluster.pids(WORKER_TITLE), "the killed driver's workers to go", timeout=60)
    rerun = run(cluster, str(photos), "-o", str(out), "--cluster", cluster.address, "--json")
    assert rerun.returncode == 0, rerun.stderr
    summary = json.loads(rerun.stdout)["summary"]
    assert summary["skipped"] >= 4 and summary["written"] + summary["skipped"] == PHOTOS
    assert_same_pixels(out, local)
    assert temporaries(out) == []


def test_a_hot_folder_on_the_cluster_cuts_what_is_there_with_the_pixels_of_a_local_batch(cluster, photos, local,
                                                                                          tmp_path):
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "app", "watch", str(photos), "-o", str(out), "--once",
                           "--interval", "0.2", "--cluster", cluster.address, "--model", "tiny-isnet"],
                          env=cluster.env, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Ray cluster" in done.stderr and f"{PHOTOS} written" in done.stderr
    assert_same_pixels(out, local)
    assert temporaries(out) == []
