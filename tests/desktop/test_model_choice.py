"""Which model the window loads: someone's choice, else the fastest variant measured on this CPU."""

import json

import pytest

from app.desktop import model_choice
from app.desktop.events import EventHub
from app.desktop.jobs import JobRunner
from app.governance.policy import Policy
from app.governance.settings import settings_file
from app.inference import variants
from app.inference.manifest import Catalogue, InputSpec, ModelSpec, OutputSpec
from tests.fakes import FakeEngine, wait_for

DEFAULTS = {"model": "isnet-medium-int8"}


def _catalogue(tmp_path):
    specs = []
    for model_id in ("isnet-medium-int8", "isnet-medium"):
        (tmp_path / f"{model_id}.onnx").write_bytes(b"x")
        specs.append(ModelSpec(model_id, model_id, tmp_path / f"{model_id}.onnx", "0" * 64, "isnet",
                               InputSpec(size=(32, 32)), OutputSpec(), weights="isnet-medium"))
    return Catalogue({s.id: s for s in specs}, "isnet-medium-int8")


def test_nobody_chose_a_model_on_a_fresh_install():
    assert model_choice.chosen_model(Policy(), DEFAULTS) is None


def test_a_model_stored_in_the_users_settings_is_their_choice():
    settings_file().parent.mkdir(parents=True, exist_ok=True)
    settings_file().write_text(json.dumps({"knockout_settings": 1, "model": "isnet-medium-int8"}))
    assert model_choice.chosen_model(Policy(), DEFAULTS) == "isnet-medium-int8"


@pytest.mark.parametrize("policy", [Policy(allowed_models=("isnet-medium",)), Policy(lock=("model",)),
                                    Policy(settings={"model": "isnet-medium-int8"})])
def test_it_policy_naming_the_model_is_a_choice(policy):
    assert model_choice.chosen_model(policy, DEFAULTS) == "isnet-medium-int8"


def test_policy_allowing_the_default_among_others_leaves_the_pick_to_the_cpu():
    assert model_choice.chosen_model(Policy(allowed_models=("isnet-medium-int8", "isnet-medium")), DEFAULTS) is None


def test_a_cpu_never_measured_is_timed_in_the_background_and_the_status_says_so(tmp_path, monkeypatch):
    catalogue, hub = _catalogue(tmp_path), EventHub()
    runner = JobRunner(FakeEngine, hub, tmp_path).start()
    monkeypatch.setattr(variants, "measuring", lambda specs, engine: iter(
        [None, None, variants.Pick("isnet-medium-int8", {"isnet-medium-int8": 1.47, "isnet-medium": 3.18}, "t")]))
    assert model_choice.measure_in_background(runner, catalogue, Policy(), DEFAULTS, "auto", "isnet-medium-int8",
                                              delay=0)
    assert wait_for(lambda: runner.status.get("note") == variants.NOTE)
    assert variants.stored(variants.this_cpu(), "auto", "isnet-medium").model == "isnet-medium-int8"
    assert not model_choice.measure_in_background(runner, catalogue, Policy(), DEFAULTS, "auto", "x")  # measured
    choice = model_choice.choose(catalogue, Policy(), DEFAULTS, "auto")
    assert choice == variants.Choice("isnet-medium-int8", variants.NOTE)
    runner.stop()


def test_a_faster_variant_found_in_the_background_is_used_from_the_next_start(tmp_path, monkeypatch):
    catalogue = _catalogue(tmp_path)
    runner = JobRunner(FakeEngine, EventHub(), tmp_path).start()
    monkeypatch.setattr(variants, "measuring", lambda specs, engine: iter(
        [variants.Pick("isnet-medium", {"isnet-medium-int8": 1.6, "isnet-medium": 1.2}, "t")]))
    model_choice.measure_in_background(runner, catalogue, Policy(), DEFAULTS, "auto", "isnet-medium-int8", delay=0)
    assert runner.wait_idle() and wait_for(lambda: variants.stored(variants.this_cpu(), "auto", "isnet-medium"))
    assert runner.status.get("note") is None  # this session keeps the model its photos were cut with
    assert model_choice.choose(catalogue, Policy(), DEFAULTS, "auto").model == "isnet-medium"
    runner.stop()


def test_a_chosen_model_is_never_timed_against_its_variants(tmp_path):
    runner = JobRunner(FakeEngine, EventHub(), tmp_path)
    policy = Policy(allowed_models=("isnet-medium",))
    assert not model_choice.measure_in_background(runner, _catalogue(tmp_path), policy, DEFAULTS, "auto", "x")


def test_a_device_change_keeps_the_pick_for_that_device_unless_a_model_was_chosen(tmp_path):
    catalogue = _catalogue(tmp_path)
    variants.store(variants.this_cpu(), "cpu", "isnet-medium",
                   variants.Pick("isnet-medium", {"isnet-medium": 1.2, "isnet-medium-int8": 1.5}, "t"))
    make = model_choice.engine_factory(catalogue, Policy())
    assert make("isnet-medium-int8", "cpu").spec.id == "isnet-medium"  # the settings' value is only the default
    assert make("isnet-medium-int8", "auto").spec.id == "isnet-medium-int8"  # not measured for "auto"
    settings_file().parent.mkdir(parents=True, exist_ok=True)
    settings_file().write_text(json.dumps({"knockout_settings": 1, "model": "isnet-medium-int8"}))
    assert make("isnet-medium-int8", "cpu").spec.id == "isnet-medium-int8"  # chosen in Settings
