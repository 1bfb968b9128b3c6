"""Which model the window loads, and finding out which variant is fastest on this CPU.

Someone's choice always wins: the user's setting, or IT's policy (a pinned or default model,
or ``allowed_models`` without the default). Otherwise the default's fastest variant measured
on this CPU (app.inference.variants) is loaded, said in the status bar. A CPU never measured
is measured in the background on the one worker, a step (one inference) at a time when
nothing else is queued, starting a while after the window opened (the first photos are
usually dropped at once: they never wait behind a timing run); the pick is used from the next start (a session never
changes model halfway, so a hot folder's journal names the model that made its files) and the
status bar says so at once when the model in use is the fastest.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from app.desktop.jobs import JobRunner
from app.governance.policy import Policy
from app.governance.settings import load_settings, settings_file
from app.inference import variants
from app.inference.manifest import Catalogue, ModelSpec, bundled_default

log = logging.getLogger(__name__)
DELAY = 30.0  # seconds after the window opens before the timing runs may start


def chosen_model(policy: Policy, settings: Mapping[str, Any]) -> str | None:
    """The model someone chose (the user in Settings, IT by policy), or None: nobody did."""
    if ("model" in policy.locked_settings() or "model" in policy.settings
            or (policy.allowed_models is not None and bundled_default() not in policy.allowed_models)):
        return str(settings["model"])
    try:
        stored = json.loads(settings_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return str(settings["model"]) if isinstance(stored, dict) and stored.get("model") else None


def choose(catalogue: Catalogue, policy: Policy, settings: Mapping[str, Any], device: str) -> variants.Choice:
    return variants.choose(catalogue, chosen_model(policy, settings), device, policy.allowed_models)


def engine_factory(catalogue: Catalogue, policy: Policy) -> Callable[[str | None, str], Any]:
    """The bridge's engine for a new model or device setting: the chosen model, or (nobody chose
    one, say only the device changed) the default's fastest variant measured for that device."""

    def make(model: str | None, device: str) -> Any:
        from app.inference.engine import Engine

        picked = choose(catalogue, policy, {**load_settings(policy).values, "model": model}, device).model
        return Engine(model=picked, device=device, catalogue=catalogue)

    return make


def measure_in_background(runner: JobRunner, catalogue: Catalogue, policy: Policy, settings: Mapping[str, Any],
                          device: str, in_use: str, delay: float = DELAY) -> bool:
    """Time the default's variants when the worker is idle, from ``delay`` seconds on, if nobody
    chose a model and this CPU was never measured; returns whether it will."""
    if chosen_model(policy, settings) is not None or not variants.needs_measuring(catalogue, device):
        return False
    specs = variants.siblings(catalogue)
    weights = specs[0].weights
    assert weights is not None
    cpu = variants.this_cpu()

    def engine(spec: ModelSpec) -> Any:
        from app.inference.engine import Engine

        return Engine(model=spec.id, device=device, catalogue=catalogue)

    def measured(pick: variants.Pick) -> None:
        variants.store(cpu, device, weights, pick)
        log.info("fastest variant on %s: %s (%s)", cpu.key, pick.model, pick.seconds)
        if variants.choose(catalogue, None, device, policy.allowed_models, cpu).model == in_use:
            runner.note_model(variants.NOTE)

    def queue() -> None:
        runner.when_idle(variants.measuring(specs, engine), measured)

    if delay <= 0:
        queue()
    else:
        timer = threading.Timer(delay, queue)
        timer.daemon = True
        timer.start()
    return True
