"""What runs on each node: the share check, and a cutter that is the local batch on that node."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from app import paths
from app.batch.cluster_node import ClusterError, Cutter, Sample, check_share
from app.batch.pipeline import Job, run_batch
from app.core.export import ExportSettings
from app.governance import netguard
from app.inference.engine import Engine
from tests import onnx_graphs as g
from tests.fakes import photo


@pytest.fixture
def tiny_model() -> tuple[str, str]:
    """The tiny ISNet-style graph as a user model (this test's private data folder)."""
    model = g.isnet()
    sha = g.save(model, paths.user_models_dir())
    g.write_manifest(paths.user_models_dir(), [g.entry(model, sha)])
    return model.id, sha


@pytest.fixture
def shared(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    probe = out / ".knockout-cluster-probe-1"
    probe.write_text("token-1", encoding="utf-8")
    src = tmp_path / "in" / "a.jpg"
    photo(src)
    return probe, src


def test_a_node_that_reads_the_probe_and_sees_the_inputs_passes(shared):
    probe, src = shared
    assert check_share(str(probe), "token-1", [Sample(str(src), src.stat().st_size)]) is None
    assert sorted(os.listdir(probe.parent)) == [probe.name]  # its scratch file is gone again


def test_a_node_without_the_probe_is_told_the_folder_is_not_shared_at_this_path(shared, tmp_path):
    probe, _ = shared
    problem = check_share(str(tmp_path / "elsewhere" / probe.name), "token-1", [])
    assert problem is not None and "not shared at this path" in problem


def test_a_node_whose_probe_holds_another_token_sees_another_folder(shared):
    probe, _ = shared
    problem = check_share(str(probe), "token-2", [])
    assert problem is not None and "another folder on this node" in problem


def test_an_input_a_node_cannot_see_is_named(shared, tmp_path):
    probe, _ = shared
    missing = tmp_path / "in" / "b.jpg"
    problem = check_share(str(probe), "token-1", [Sample(str(missing), 10)])
    assert problem is not None and str(missing) in problem and "cannot see" in problem


def test_an_input_of_another_size_on_a_node_is_named(shared):
    probe, src = shared
    problem = check_share(str(probe), "token-1", [Sample(str(src), src.stat().st_size + 1)])
    assert problem is not None and "differs here" in problem and str(src) in problem


def test_a_watched_folder_only_needs_to_be_there(shared):
    probe, src = shared
    assert check_share(str(probe), "token-1", [Sample(str(src.parent), None)]) is None


def test_a_cutter_writes_the_same_pixels_as_a_local_batch(tmp_path, tiny_model):
    model_id, sha = tiny_model
    sources = []
    for i in range(3):
        sources.append(tmp_path / "in" / f"p{i}.jpg")
        photo(sources[-1], size=(120 + 10 * i, 80))
    settings = ExportSettings()
    cutter = Cutter(model_id, sha, "cpu", 1, settings, 10**8, ["192.0.2.10"], node="node-a")
    done = cutter.cut([Job(s, tmp_path / "cluster" / f"{s.stem}.png", s.name) for s in sources])
    local = list(run_batch(Engine(model_id, "cpu", 1), [Job(s, tmp_path / "local" / f"{s.stem}.png", s.name)
                                                         for s in sources], settings))
    assert done.node == "node-a" and [r.status for r in done.results] == ["written"] * 3
    assert [r.status for r in local] == ["written"] * 3
    for s in sources:
        with Image.open(tmp_path / "cluster" / f"{s.stem}.png") as a, \
                Image.open(tmp_path / "local" / f"{s.stem}.png") as b:
            assert np.array_equal(np.asarray(a), np.asarray(b))
    assert cutter.ready().startswith("CPU")


def test_a_cutter_refuses_a_model_that_differs_from_the_drivers_naming_the_node(tiny_model):
    model_id, _ = tiny_model
    with pytest.raises(ClusterError, match=r"node \S+: model tiny-isnet is another file here"):
        Cutter(model_id, "f" * 64, "cpu", 1, ExportSettings(), 10**8, [])


def test_a_cutter_guards_its_process_letting_only_the_cluster_through(tiny_model):
    model_id, sha = tiny_model
    Cutter(model_id, sha, "cpu", 1, ExportSettings(), 10**8, ["192.0.2.10", "192.0.2.11"])
    assert netguard.is_installed()
    assert netguard.allowed_hosts() == {"192.0.2.10", "192.0.2.11"}
