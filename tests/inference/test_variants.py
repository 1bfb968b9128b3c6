"""The fastest variant of the default weights on this CPU: measured, kept per CPU, used only
when nobody chose a model."""

import json

import numpy as np

from app.inference import variants
from app.inference.manifest import Catalogue, InputSpec, ModelSpec, OutputSpec
from app.inference.variants import Cpu, Pick

VNNI = Cpu("Intel Xeon", ("avx2", "avx512f", "avx512_vnni"))
ZEN3 = Cpu("AMD EPYC", ("avx2",))


def _spec(tmp_path, model_id, weights="isnet-medium", source="bundled", present=True):
    file = tmp_path / f"{model_id}.onnx"
    if present:
        file.write_bytes(b"onnx")
    return ModelSpec(model_id, model_id, file, "0" * 64, "isnet", InputSpec(size=(64, 64)), OutputSpec(),
                     source=source, weights=weights)


def _catalogue(tmp_path, *extra):
    specs = [_spec(tmp_path, "medium-int8"), _spec(tmp_path, "medium"), *extra]
    return Catalogue({s.id: s for s in specs}, "medium-int8")


class _TimedEngine:
    """Each inference advances a fake clock by the variant's cost: no wall-clock in the test."""

    def __init__(self, clock, cost):
        self.clock, self.cost, self.runs = clock, cost, 0

    def prepare(self, rgb):
        return np.zeros((1, 3, *rgb.size), np.float32)

    def infer(self, tensor):
        self.runs += 1
        self.clock.now += self.cost


class _Clock:
    now = 0.0

    def __call__(self):
        return self.now


def test_the_cpu_is_named_with_the_instruction_sets_that_decide_the_variant(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags\t\t: fpu sse avx2 fma\n"
                    "processor\t: 1\nmodel name\t: AMD EPYC 7B13\nflags\t\t: fpu sse avx2 fma\n")
    cpu = variants.this_cpu(info)
    assert cpu == Cpu("AMD EPYC 7B13", ("avx2",)) and cpu.key == "AMD EPYC 7B13 [avx2]"
    info.write_text("model name : Intel Core i7-1265U\nflags : avx2 avx_vnni\n")
    assert variants.this_cpu(info).flags == ("avx2", "avx_vnni")


def test_only_bundled_variants_of_the_same_weights_with_their_files_are_compared(tmp_path):
    catalogue = _catalogue(tmp_path, _spec(tmp_path, "it-copy", source="machine"),
                           _spec(tmp_path, "medium-fp16", present=False), _spec(tmp_path, "u2net", weights=None))
    assert [s.id for s in variants.siblings(catalogue)] == ["medium-int8", "medium"]
    assert [s.id for s in variants.siblings(catalogue, "u2net")] == ["u2net"]


def test_the_fastest_variant_is_picked_from_the_median_of_its_runs(tmp_path):
    catalogue, clock = _catalogue(tmp_path), _Clock()
    costs = {"medium-int8": 1.47, "medium": 1.2}
    engines = {}

    def factory(spec):
        engines[spec.id] = _TimedEngine(clock, costs[spec.id])
        return engines[spec.id]

    steps = list(variants.measuring(variants.siblings(catalogue), factory, runs=2, clock=clock))
    pick = steps[-1]
    assert steps[:-1] == [None] * 6  # a warm-up and two timed runs per variant, one step each
    assert pick.model == "medium" and pick.seconds == {"medium-int8": 1.47, "medium": 1.2}
    assert all(engine.runs == 3 for engine in engines.values())


def test_picks_are_kept_per_cpu_and_device_and_written_atomically(tmp_path):
    path = tmp_path / "data" / "fastest-variants.json"
    int8 = Pick("medium-int8", {"medium-int8": 0.49, "medium": 1.55}, "2026-12-04T00:00:00Z")
    fp32 = Pick("medium", {"medium-int8": 1.47, "medium": 1.3}, "2026-12-04T00:00:00Z")
    variants.store(VNNI, "auto", "isnet-medium", int8, path)
    variants.store(ZEN3, "auto", "isnet-medium", fp32, path)
    assert variants.stored(VNNI, "auto", "isnet-medium", path) == int8
    assert variants.stored(ZEN3, "auto", "isnet-medium", path) == fp32
    assert variants.stored(ZEN3, "cpu", "isnet-medium", path) is None
    assert [p.name for p in path.parent.iterdir()] == ["fastest-variants.json"]  # no temporary file left
    assert json.loads(path.read_text())["schema"] == 1


def test_an_unreadable_picks_file_counts_as_never_measured(tmp_path):
    path = tmp_path / "fastest-variants.json"
    for text in ("{not json", '{"schema": 1, "picks": {"x": 1}}', '{"schema": 99, "picks": {}}'):
        path.write_text(text)
        assert variants.stored(ZEN3, "auto", "isnet-medium", path) is None
    variants.store(ZEN3, "auto", "isnet-medium", Pick("medium", {"medium": 1.0}, "t"), path)
    assert variants.stored(ZEN3, "auto", "isnet-medium", path).model == "medium"


def test_the_measured_variant_stands_in_only_when_nobody_chose_a_model(tmp_path):
    catalogue, path = _catalogue(tmp_path), tmp_path / "picks.json"
    assert variants.choose(catalogue, None, "auto", cpu=ZEN3, path=path) == variants.Choice("medium-int8", None)
    assert variants.needs_measuring(catalogue, "auto", cpu=ZEN3, path=path)
    variants.store(ZEN3, "auto", "isnet-medium", Pick("medium", {"medium": 1.3, "medium-int8": 1.47}, "t"), path)
    assert not variants.needs_measuring(catalogue, "auto", cpu=ZEN3, path=path)
    assert variants.choose(catalogue, None, "auto", cpu=ZEN3, path=path) == variants.Choice("medium", variants.NOTE)
    assert variants.choose(catalogue, "medium-int8", "auto", cpu=ZEN3, path=path).model == "medium-int8"
    assert variants.choose(catalogue, None, "auto", cpu=VNNI, path=path).model == "medium-int8"  # another CPU


def test_it_policy_allowed_models_are_honoured_by_the_pick(tmp_path):
    catalogue, path = _catalogue(tmp_path), tmp_path / "picks.json"
    variants.store(ZEN3, "auto", "isnet-medium", Pick("medium", {"medium": 1.3, "medium-int8": 1.47}, "t"), path)
    choice = variants.choose(catalogue, None, "auto", allowed=["medium-int8", "u2net"], cpu=ZEN3, path=path)
    assert choice == variants.Choice("medium-int8", None)


def test_a_pick_whose_file_is_gone_falls_back_to_the_default(tmp_path):
    catalogue, path = _catalogue(tmp_path), tmp_path / "picks.json"
    variants.store(ZEN3, "auto", "isnet-medium", Pick("medium", {"medium": 1.3}, "t"), path)
    catalogue.models["medium"].file.unlink()
    assert variants.choose(catalogue, None, "auto", cpu=ZEN3, path=path).model == "medium-int8"
    assert not variants.needs_measuring(catalogue, "cpu", cpu=ZEN3, path=path)  # nothing left to compare

