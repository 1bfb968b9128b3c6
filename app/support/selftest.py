"""``knockout self-test``: prove an installed copy works, for IT and for release CI.

It loads the bundled default model, checks its sha256 against the manifest, cuts out the
embedded sample photo in memory (nothing is written), checks the alpha looks like a
cut-out (some opaque and some transparent pixels), and prints the execution provider in
use with timings. Then it times the bundled variants of the default's weights (int8, fp32)
and keeps the fastest for this CPU in the user data folder (app.inference.variants): what
runs when nobody chose a model. Exit code 0 when everything passed; 1 with one clear line
otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from app import __version__, paths
from app.core.errors import KnockoutError
from app.governance import netguard
from app.inference.providers import DEVICES

EXIT_OK, EXIT_FAILED = 0, 1
MIN_SHARE = 0.05  # at least this share of the sample must be clearly opaque, and as much clearly transparent
OPAQUE, TRANSPARENT = 250, 5


class SelfTestFailed(KnockoutError):
    """One failed check, worded for the person reading the terminal."""

    code = "self_test_failed"


@dataclass
class Report:
    version: str = __version__
    model: str | None = None
    model_file: str | None = None
    provider: str | None = None
    description: str | None = None
    opaque_share: float | None = None
    transparent_share: float | None = None
    timings: dict[str, float] = field(default_factory=dict)
    variants: dict[str, float] = field(default_factory=dict)  # seconds per 1024² inference of each variant
    fastest: str | None = None
    cpu: str | None = None
    notes: list[str] = field(default_factory=list)
    ok: bool = False
    error: str | None = None


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``self-test`` on the ``knockout`` sub-command parser."""
    p = subparsers.add_parser(
        "self-test", help="check this installation: bundled model, its hash, a cut-out of the sample",
        description="Load the bundled default model, verify its sha256, cut out the embedded sample photo "
        "in memory and print the execution provider with timings. Exit code 0 when all checks pass.")
    p.add_argument("--device", choices=DEVICES, default="auto", help="as for `knockout cut`")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.add_argument("--skip-variants", action="store_true",
                   help="do not time the default model's variants to find the fastest on this CPU")
    p.set_defaults(run=run)
    return p


def _engine(catalogue: Any, device: str) -> Any:
    from app.inference.engine import Engine

    return Engine(device=device, catalogue=catalogue)


def _variant_engine(catalogue: Any, spec: Any, device: str) -> Any:
    from app.inference.engine import Engine

    return Engine(model=spec.id, device=device, catalogue=catalogue)


def check(catalogue: Any = None, device: str = "auto",
          engine_factory: Callable[[Any, str], Any] = _engine, time_variants: bool = True,
          variant_factory: Callable[[Any, Any, str], Any] = _variant_engine) -> Report:
    """Run every check; never raises for an expected failure, the report carries the error."""
    report = Report()
    try:
        _run(report, catalogue, device, engine_factory)
        report.ok = True
    except SelfTestFailed as exc:
        report.error = str(exc)
    if report.ok and time_variants:
        _time_variants(report, catalogue, device, variant_factory)
    return report


def _time_variants(report: Report, catalogue: Any, device: str,
                   variant_factory: Callable[[Any, Any, str], Any]) -> None:
    """Time the default's variants and keep the fastest for this CPU; a variant that cannot be
    timed is a note, not a failure (the default itself passed)."""
    from app.inference import variants
    from app.inference.manifest import discover
    from app.inference.session import ModelError

    catalogue = catalogue or discover()
    specs = variants.siblings(catalogue)
    if len(specs) < 2 or specs[0].weights is None:
        return
    cpu = variants.this_cpu()
    report.cpu = cpu.key
    started = time.perf_counter()
    try:
        pick = variants.measure(specs, lambda spec: variant_factory(catalogue, spec, device))
        variants.store(cpu, device, specs[0].weights, pick)
    except (ModelError, OSError) as exc:
        report.notes.append(f"variants not timed: {exc}")
        return
    report.variants, report.fastest = pick.seconds, pick.model
    _timed(report, "time_variants", started)


def _timed(report: Report, name: str, started: float) -> None:
    report.timings[name] = round(time.perf_counter() - started, 3)


def _run(report: Report, catalogue: Any, device: str, engine_factory: Callable[[Any, str], Any]) -> None:
    import numpy as np

    from app.batch.pipeline import matte
    from app.core.decode import open_image
    from app.core.errors import ImageError
    from app.inference.manifest import ManifestError, discover
    from app.inference.session import ModelError, verify_file

    if catalogue is None:
        catalogue = discover()
    report.notes.extend(catalogue.problems)
    try:
        spec = catalogue.get(None)
    except ManifestError as exc:
        raise SelfTestFailed(f"no usable default model: {exc}") from None
    report.model, report.model_file = spec.id, str(spec.file)
    if spec.source != "bundled":
        raise SelfTestFailed(f"the default model {spec.id} is not the bundled one (it comes from {spec.source})")

    started = time.perf_counter()
    try:
        verify_file(spec)
    except ModelError as exc:
        repair = "; reinstall Knockout to repair it" if getattr(sys, "frozen", False) else ""
        raise SelfTestFailed(f"{exc}{repair}") from None
    _timed(report, "verify_sha256", started)

    started = time.perf_counter()
    try:
        engine = engine_factory(catalogue, device)
        loaded = engine.load()
    except (ModelError, ManifestError) as exc:
        raise SelfTestFailed(str(exc)) from None
    _timed(report, "load_model", started)
    report.provider = getattr(loaded, "provider", None)
    report.description = engine.description
    report.notes.extend(getattr(loaded, "notes", []))
    if report.provider == "AzureExecutionProvider":
        raise SelfTestFailed("onnxruntime chose AzureExecutionProvider (remote inference); refusing")

    started = time.perf_counter()
    try:
        data = paths.sample_photo().read_bytes()
        decoded = open_image(data, name=paths.sample_photo().name)
    except (OSError, ImageError) as exc:
        raise SelfTestFailed(f"cannot read the embedded sample photo {paths.sample_photo()}: {exc}") from None
    alpha = np.asarray(matte(engine, decoded))
    _timed(report, "cut_sample", started)
    report.opaque_share = round(float((alpha >= OPAQUE).mean()), 3)
    report.transparent_share = round(float((alpha <= TRANSPARENT).mean()), 3)
    if alpha.shape != (decoded.size[1], decoded.size[0]):
        raise SelfTestFailed(f"the alpha has shape {alpha.shape}, expected the photo's {decoded.size}")
    if report.opaque_share < MIN_SHARE or report.transparent_share < MIN_SHARE:
        raise SelfTestFailed(
            f"the sample's cut-out looks wrong: {report.opaque_share:.0%} opaque and "
            f"{report.transparent_share:.0%} transparent (expected at least {MIN_SHARE:.0%} of each)")


def render(report: Report) -> str:
    lines = [f"knockout self-test {report.version}"]
    if report.model:
        lines.append(f"  model      {report.model} ({report.model_file})")
    if "verify_sha256" in report.timings:
        lines.append(f"  sha256     matches the manifest ({report.timings['verify_sha256']:.2f} s)")
    if report.description:
        lines.append(f"  provider   {report.provider} · {report.description} "
                     f"(loaded in {report.timings['load_model']:.2f} s)")
    if report.opaque_share is not None:
        lines.append(f"  cut-out    {paths.sample_photo().name} in {report.timings['cut_sample']:.2f} s: "
                     f"{report.opaque_share:.0%} opaque, {report.transparent_share:.0%} transparent")
    if report.fastest:
        timed = ", ".join(f"{model} {seconds:.2f} s" for model, seconds in sorted(report.variants.items(),
                                                                                   key=lambda pair: pair[1]))
        lines.append(f"  variants   {timed} per 1024² on {report.cpu}: {report.fastest} is used when no "
                     "model is chosen")
    lines.append(f"  network    guard {'on' if netguard.is_installed() else 'off'}")
    lines.extend(f"  note       {note}" for note in report.notes)
    total = sum(report.timings.values())
    lines.append(f"self-test passed in {total:.1f} s" if report.ok else f"self-test FAILED: {report.error}")
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace, context: object = None) -> int:
    report = check(device=args.device, time_variants=not args.skip_variants)
    if args.json:
        sys.stdout.write(json.dumps(asdict(report), indent=2) + "\n")
    else:
        sys.stdout.write(render(report))
    if not report.ok:
        print(f"knockout: self-test failed: {report.error}", file=sys.stderr)
    return EXIT_OK if report.ok else EXIT_FAILED
