"""The driver of a cluster batch, against an in-process stand-in for Ray (tests/ray_double.py):
the share check per node, the hand-out with the journal's start lines, lost workers, the summary.
The same code on a real local Ray cluster: tests/batch/test_cluster_on_ray.py."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from app import cli, paths
from app.batch.cluster import ClusterBatch, host_of, samples_of
from app.batch.cluster_node import PROBE_PREFIX, ClusterError, Cutter
from app.batch.pipeline import Job
from app.core.export import ExportSettings
from app.governance import netguard
from app.inference.manifest import discover
from tests import onnx_graphs as g
from tests import ray_double
from tests.fakes import photo


@pytest.mark.parametrize(("address", "host"), [("10.0.0.5:6379", "10.0.0.5"), ("head.lan:6379", "head.lan"),
                                               ("[fd00::5]:6379", "fd00::5"), ("head.lan", "head.lan"),
                                               ("auto", None)])
def test_the_host_of_a_ray_address_is_what_the_guard_lets_through(address, host):
    assert host_of(address) == host


def test_a_ray_client_address_is_refused_with_what_to_give_instead():
    with pytest.raises(ClusterError, match="host:port"):
        host_of("ray://10.0.0.5:10001")


def test_samples_are_spread_over_the_batch_with_the_sizes_the_driver_sees(tmp_path):
    files = []
    for i in range(50):
        files.append(tmp_path / f"{i:02d}.jpg")
        files[-1].write_bytes(b"x" * i)
    picked = samples_of(files, limit=5)
    assert [Path(s.path).name for s in picked] == ["00.jpg", "10.jpg", "20.jpg", "30.jpg", "40.jpg"]
    assert [s.size for s in picked] == [0, 10, 20, 30, 40]
    assert samples_of([tmp_path], limit=5)[0].size is None  # a watched folder: only there


def _batch(tmp_path: Path, ray: ray_double.FakeRay, nodes: list[dict], model_id: str = "tiny-isnet") -> ClusterBatch:
    batch = ClusterBatch("192.0.2.10:6379", tmp_path / "out", discover().get(model_id), chunk=2)
    batch.use(ray, nodes, ray_double.affinity)
    return batch


@pytest.fixture
def tiny_model() -> str:
    model = g.isnet()
    g.write_manifest(paths.user_models_dir(), [g.entry(model, g.save(model, paths.user_models_dir()))])
    return model.id


@pytest.fixture
def jobs(tmp_path) -> list[Job]:
    found = []
    for i in range(7):
        src = tmp_path / "in" / f"p{i}.jpg"
        photo(src, size=(96 + i, 64))
        found.append(Job(src, tmp_path / "out" / f"p{i}.png", src.name))
    (tmp_path / "out").mkdir()
    return found


def test_every_node_is_checked_and_one_that_mounts_the_share_elsewhere_is_named(tmp_path, jobs, tiny_model):
    elsewhere = tmp_path / "mnt"
    ray = ray_double.FakeRay(mounts={"bbbbbbbb2": (str(tmp_path.resolve()), str(elsewhere))})
    nodes = [ray_double.node("aaaaaaaa1", "studio-1"), ray_double.node("bbbbbbbb2", "studio-2")]
    batch = _batch(tmp_path, ray, nodes)
    with pytest.raises(ClusterError, match=r"node studio-2 \[bbbbbbbb\]: cannot read .*not shared at this path") as err:
        batch._check_nodes(samples_of([j.source for j in jobs]))
    assert "studio-1" not in str(err.value)
    assert ray.probed == ["aaaaaaaa1", "bbbbbbbb2"]
    assert not [p for p in os.listdir(tmp_path / "out") if p.startswith(PROBE_PREFIX)]  # the probe is gone


def test_nodes_that_see_the_share_pass_and_their_addresses_are_let_through(tmp_path, jobs, tiny_model):
    ray = ray_double.FakeRay()
    batch = _batch(tmp_path, ray, [ray_double.node("aaaaaaaa1", "studio-1")])
    batch._check_nodes(samples_of([j.source for j in jobs]))
    assert "192.0.2.10" in netguard.allowed_hosts()


def test_each_photo_is_started_in_the_journal_before_it_is_handed_out_and_written_once(tmp_path, jobs, tiny_model):
    ray = ray_double.FakeRay()
    batch = _batch(tmp_path, ray, [ray_double.node("aaaaaaaa1", "studio-1"), ray_double.node("bbbbbbbb2", "studio-2")])
    started: list[str] = []

    def on_start(job: Job) -> None:
        assert not job.output.exists()  # the start line comes before the output can appear
        started.append(job.label)

    results = list(batch(None, jobs, ExportSettings(), on_start=on_start))
    assert sorted(r.label for r in results) == sorted(started) == sorted(j.label for j in jobs)
    assert all(r.status == "written" for r in results)
    assert sorted(os.listdir(tmp_path / "out")) == sorted(j.output.name for j in jobs)
    assert sum(t.written for t in batch.tallies.nodes.values()) == len(jobs)
    assert len(ray.killed) == 2  # the workers are stopped when the batch ends


def test_a_worker_lost_for_good_fails_its_photos_by_name_and_the_others_finish(tmp_path, jobs, tiny_model):
    ray = ray_double.FakeRay()
    batch = _batch(tmp_path, ray, [ray_double.node("aaaaaaaa1", "studio-1"), ray_double.node("bbbbbbbb2", "studio-2")])
    batch.start_workers(ExportSettings())
    batch._workers[1].die()
    results = list(batch(None, jobs, ExportSettings()))
    lost = [r for r in results if r.status == "failed"]
    assert lost and all(r.code == "cluster_error" and "rerun" in r.message for r in lost)
    assert sorted(r.label for r in results) == sorted(j.label for j in jobs)  # every photo reported once
    written = [r for r in results if r.status == "written"]
    assert sorted(os.listdir(tmp_path / "out")) == sorted(Path(r.output).name for r in written)


def test_when_every_worker_is_lost_the_batch_says_so_and_can_be_rerun(tmp_path, jobs, tiny_model):
    ray = ray_double.FakeRay()
    batch = _batch(tmp_path, ray, [ray_double.node("aaaaaaaa1", "studio-1")])
    batch.start_workers(ExportSettings())
    batch._workers[0].die()
    seen = []
    with pytest.raises(ClusterError, match=r"every worker .* was lost; rerun"):
        for result in batch(None, jobs, ExportSettings()):
            seen.append(result)
    assert seen and all(r.status == "failed" for r in seen)


def test_cluster_without_ray_installed_says_how_to_get_it(tmp_path, fake_engine, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    photo(tmp_path / "a.jpg")
    code = cli.main(["cut", str(tmp_path / "a.jpg"), "-o", str(tmp_path / "out"), "--cluster", "192.0.2.10:6379"])
    assert code == 1
    assert "pip install 'knockout[cluster]'" in capsys.readouterr().err
    assert not (tmp_path / "out" / "a.png").exists()


def test_a_hot_folder_on_the_cluster_cuts_each_file_once_and_journals_it(tmp_path, tiny_model):
    from app.batch.journal import Journal, header_for
    from app.batch.watch import Watcher
    from app.inference.engine import Engine

    inbox, out = tmp_path / "inbox", tmp_path / "out"
    for name in ("a.jpg", "sub/b.jpg"):
        photo(inbox / name)
    ray = ray_double.FakeRay()
    batch = ClusterBatch("192.0.2.10:6379", out, discover().get(tiny_model))
    batch.use(ray, [ray_double.node("aaaaaaaa1", "studio-1")], ray_double.affinity)
    watcher = Watcher(inbox, out, ExportSettings(), interval=0.05, once=True, quiet=True)
    out.mkdir()
    with Journal.open(out, header_for(ExportSettings(), tiny_model, "{stem}")) as journal:
        engine = Engine(tiny_model)
        failures = watcher.run(engine, journal, runner=batch)
        assert failures == 0 and watcher.counts["written"] == 2
        assert journal.is_done(inbox / "a.jpg") and journal.is_done(inbox / "sub" / "b.jpg")
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.png")) == ["a.png", "sub/b.png"]
    assert sum(t.written for t in batch.tallies.nodes.values()) == 2
    assert engine._loaded is None  # the driver never loads the model: the workers do


def test_a_versioned_output_is_pinned_on_the_driver_so_a_retry_rewrites_it_and_the_version_is_reported(
        tmp_path, tiny_model):
    from app.batch.cluster import as_pinned, pin_version
    from app.core.versions import Versioned

    src = tmp_path / "in" / "a.jpg"
    photo(src)
    versions = Versioned(tmp_path / "out", "a-", ".png")
    job = Job(src, versions.path(1), "a.jpg", versions=versions)
    (tmp_path / "out").mkdir()
    versions.path(1).write_bytes(b"another program took v1 after the plan")
    pin_version(job)
    assert job.output == versions.path(2) and job.version == "v2"
    sent = as_pinned(job)
    assert sent.output == job.output and sent.versions is None
    sha = discover().get(tiny_model).sha256
    cutter = Cutter(tiny_model, sha, "cpu", 1, ExportSettings(), 10**8, [])
    for _attempt in range(2):  # Ray's retry of a killed worker's call is the same call again
        assert [r.status for r in cutter.cut([sent]).results] == ["written"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a-v1.png", "a-v2.png"]  # v2 once
    batch = _batch(tmp_path, ray_double.FakeRay(), [ray_double.node("aaaaaaaa1", "studio-1")])
    results = list(batch(None, [Job(src, versions.path(1), "a.jpg", versions=versions)], ExportSettings()))
    assert [(r.status, r.version) for r in results] == [("written", "v3")]  # named by the driver
