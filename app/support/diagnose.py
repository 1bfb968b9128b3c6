"""``knockout diagnose``: one report IT can read, attach to a ticket, or parse (``--json``).

It says what this machine is, which onnxruntime providers exist and which one really
runs the model, whether every model file matches its manifest, how long one 1024×1024
inference takes, where Knockout keeps its files, and that the network guard is on. It
never writes anything except the ``--output`` file, and it must run on a fresh machine:
every probe degrades to "unknown" instead of failing. Exit code 0 when all is well, 1
when it found a problem (each listed under "Problems").
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from app import __version__, paths
from app.core.atomic import write_atomic
from app.governance import netguard
from app.inference import providers, variants
from app.inference.manifest import TRAINING_DATA_UNKNOWN, Catalogue, ManifestError, ModelSpec, discover, legal_facts
from app.support import compare, timings

EXIT_OK, EXIT_FAILED = 0, 1
BENCH_SIZE = timings.BENCH_SIZE
BENCH_RUNS = 3
NEVER_USED = {"AzureExecutionProvider": "never used: remote inference"}


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``diagnose`` on the ``knockout`` sub-command parser."""
    p = subparsers.add_parser(
        "diagnose", help="report this machine, models, execution provider and network guard (for IT)",
        description="Print a diagnostics report: system, onnxruntime and the provider in use, every model "
        "with its hash check, a timed 1024×1024 inference, Knockout's folders and the network guard. "
        "Exit code 1 when a problem was found.")
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")
    p.add_argument("--output", type=Path, metavar="FILE", help="write the report to FILE instead of stdout")
    p.add_argument("--model", help="model to load and time (default: the bundled default)")
    p.add_argument("--device", choices=providers.DEVICES, default="auto", help="as for `knockout cut`")
    p.add_argument("--compare", type=Path, metavar="OLD_REPORT",
                   help="instead of the report, say what changed since OLD_REPORT (saved with --json --output): "
                        "CPU, instruction sets, provider, each model's time and the sample photo's, and whether "
                        "this machine is slower")
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace, context: object = None) -> int:
    saved = compare.load_report(args.compare) if args.compare else None  # a bad file fails before the timings
    report = collect(model=args.model, device=args.device)
    shown: dict[str, Any] = report if saved is None else compare.compare(saved, report)
    if args.json:
        text = json.dumps(shown, indent=2) + "\n"
    else:
        text = render(report) if saved is None else compare.render(shown)
    if args.output is None:
        sys.stdout.write(text)
    else:
        def write(fh: BinaryIO) -> None:
            fh.write(text.encode("utf-8"))

        try:
            write_atomic(args.output, write)
        except OSError as exc:
            print(f"knockout: cannot write {args.output} ({exc.strerror or exc})", file=sys.stderr)
            return EXIT_FAILED
        print(f"knockout: diagnostics written to {args.output}", file=sys.stderr)
    for problem in report["problems"]:
        print(f"knockout: problem: {problem}", file=sys.stderr)
    return EXIT_FAILED if report["problems"] else EXIT_OK


def collect(catalogue: Catalogue | None = None, model: str | None = None, device: str = "auto",
            runs: int = BENCH_RUNS, every_model: bool = True) -> dict[str, Any]:
    """The whole report as JSON-safe data; ``problems`` lists what IT should act on. ``every_model``
    False times only the chosen model (and the sample photo): quicker, for the window's report."""
    problems: list[str] = []
    if catalogue is None:
        catalogue = discover()
    problems.extend(catalogue.problems)
    models = [_model_row(spec, spec.id == catalogue.default) for spec in catalogue.models.values()]
    problems.extend(row["problem"] for row in models if row["problem"])
    runtime = _onnxruntime()
    wanted = model or catalogue.default
    inference: dict[str, Any] = {"model": wanted, "provider": None, "description": None, "notes": [],
                                 "seconds": None, "runs": runs, "image_size": [BENCH_SIZE, BENCH_SIZE],
                                 "input_size": None, "error": None}
    unusable = next((row for row in models if row["id"] == wanted and row["problem"]), None)
    engine = None
    if runtime["error"]:
        problems.append(runtime["error"])
        inference["error"] = "not run: onnxruntime is not usable"
    elif unusable is not None:  # already listed as a problem with its reason
        inference["error"] = f"not run: model {wanted} is {unusable['hash']}"
    else:
        engine = timings.time_inference(inference, catalogue, device)
        if inference["error"]:
            problems.append(inference["error"])
    usable = set() if runtime["error"] or not every_model else {row["id"] for row in models if not row["problem"]}
    timed = {"models": timings.model_timings(catalogue, device, usable, inference),
             "sample": timings.sample_timing(engine)}
    policy = _policy(problems)
    cpu = variants.this_cpu()
    return {
        "knockout": __version__,
        "generated": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "python": {"version": platform.python_version(), "implementation": platform.python_implementation(),
                   "executable": sys.executable, "frozen": bool(getattr(sys, "frozen", False))},
        "os": {"system": platform.system(), "release": platform.release(), "machine": platform.machine(),
               "platform": platform.platform()},
        "cpu": {"model": cpu_model(), "logical_cores": os.cpu_count(), "usable_cores": providers.cpu_threads(),
                "flags": list(cpu.flags)},
        "memory": {"total_bytes": total_memory()},
        "onnxruntime": runtime,
        "inference": inference,
        "timings": timed,
        "models": [{k: v for k, v in row.items() if k != "problem"} for row in models],
        "folders": _folders(),
        "network": {"guard_installed": netguard.is_installed(),
                    "blocked_attempts": netguard.blocked_count()},
        "policy": policy,
        "variant": _variant(catalogue, device, policy.get("allowed_models")),
        "problems": problems,
    }


def _policy(problems: list[str]) -> dict[str, Any]:
    """The machine policy in force and where it came from; a broken one is a problem to fix."""
    from app.governance.policy import PolicyError, load_policy

    try:
        return load_policy().as_dict()
    except PolicyError as exc:
        problems.append(f"machine policy is broken, Knockout refuses to run: {exc}")
        return {"source": None, "error": str(exc)}


def _variant(catalogue: Catalogue, device: str, allowed: list[str] | None) -> dict[str, Any]:
    """This CPU, and which variant of the default's weights runs when nobody chose a model: the
    fastest measured here (``knockout self-test`` measures it, or the window on first start)."""
    cpu = variants.this_cpu()
    row: dict[str, Any] = {"cpu": cpu.model, "flags": list(cpu.flags), "device": device, "measured": None,
                           "seconds": None, "model": catalogue.default, "note": None, "variants": []}
    try:
        default = catalogue.get(None)
    except ManifestError:
        return row
    pick = variants.stored(cpu, device, default.weights) if default.weights else None
    choice = variants.choose(catalogue, None, device, allowed, cpu)
    if pick is not None:
        row.update(measured=pick.measured, seconds=pick.seconds)
    row.update(model=choice.model, note=choice.note, variants=[spec.id for spec in variants.siblings(catalogue)])
    return row


def _variant_line(variant: dict[str, Any] | None) -> str:
    if not variant:
        return "unknown"
    if len(variant.get("variants", [])) < 2:
        return f"{variant['model']} (the default; it has no variants to compare)"
    if variant["seconds"] is None:
        return (f"{variant['model']} (the default: which variant is fastest on this CPU was not measured yet; "
                "`knockout self-test` measures it)")
    timed = ", ".join(f"{model} {seconds:.2f} s" for model, seconds in sorted(variant["seconds"].items(),
                                                                               key=lambda pair: pair[1]))
    why = variant["note"] or "the default (the fastest is not allowed here)"
    return f"{variant['model']} · {why} (measured {variant['measured']}, per {BENCH_SIZE}²: {timed})"


def _flags(variant: dict[str, Any] | None) -> str:
    flags = set(variant["flags"]) if variant else set()
    vnni = "VNNI" if flags & {"avx512_vnni", "avx_vnni"} else "no VNNI"
    return f"{' '.join(sorted(flags)) or 'no AVX2, no AVX-512'} ({vnni})"


def _policy_line(policy: dict[str, Any] | None) -> str:
    if not policy:
        return "unknown"
    if policy.get("error"):
        return f"BROKEN: {policy['error']}"
    if policy["source"] == "none":
        return "none (no machine policy file or registry key)"
    keys = ("lock_presets", "force_cpu", "default_output_dir", "max_megapixels", "keep_exif_fields", "audit",
            "allowed_models", "allow_policy_override")
    pinned = [f"{k}={json.dumps(policy[k])}" for k in keys if policy.get(k) not in (None, False)]
    locked = ", ".join(policy["locked_settings"]) or "none"
    line = f"{policy['source']} · {'; '.join(pinned) or 'no keys set'} · locked settings: {locked}"
    if policy.get("override_ignored"):
        line += (f" · KNOCKOUT_POLICY_FILE={policy['override_ignored']} ignored (the machine policy does not "
                 "set allow_policy_override)")
    return line


def cpu_model() -> str:
    """The CPU's marketing name where the OS tells us cheaply, else the architecture."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Hardware", "Model") and value.strip():
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def total_memory() -> int | None:
    """Physical memory in bytes, or None where neither /proc nor sysconf knows (Windows)."""
    try:
        with open("/proc/meminfo", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None
    return pages * page_size if pages > 0 and page_size > 0 else None


def _model_row(spec: ModelSpec, default: bool) -> dict[str, Any]:
    from app.inference.session import file_status

    status, problem = file_status(spec)
    try:
        size: int | None = spec.file.stat().st_size
    except OSError:
        size = None
    return {"id": spec.id, "default": default, "file": str(spec.file), "size_bytes": size, "family": spec.family,
            "license": spec.license, "training_data": spec.training_data, "hash": status, "source": spec.source,
            "problem": problem}


def _onnxruntime() -> dict[str, Any]:
    try:
        import onnxruntime as ort
    except Exception as exc:  # a broken install must not stop the rest of the report
        return {"version": None, "providers": [], "error": f"onnxruntime cannot be imported ({exc})"}
    available = list(ort.get_available_providers())
    listed = [{"name": name, "note": NEVER_USED.get(name, "")} for name in available]
    return {"version": ort.__version__, "providers": listed, "error": None}


def _folders() -> dict[str, dict[str, Any]]:
    found = {
        "bundled models": paths.bundled_models_dir(),
        "machine models": paths.machine_models_dir(),
        "user data": paths.user_data_dir(),
        "user models": paths.user_models_dir(),
        "cache": paths.user_cache_dir(),
        "logs": paths.user_log_dir(),
    }
    return {name: {"path": str(path), "exists": path.is_dir()} for name, path in found.items()}


def _timing_lines(timed: dict[str, Any] | None) -> list[str]:
    """Per model, seconds per 1024² inference; then the sample photo end to end."""
    if not timed:
        return []
    lines = ["", f"Timings (per {BENCH_SIZE}×{BENCH_SIZE} inference; the sample photo from file to PNG)"]
    width = max([len(row["id"]) for row in timed["models"]] + [len("sample photo")])
    for row in timed["models"]:
        if row["error"]:
            lines.append(f"  {row['id']:<{width}}  {row['error']}")
        else:
            runs = f"median of {row['runs']}" if row["runs"] > 1 else "1 run after a warm-up"
            lines.append(f"  {row['id']:<{width}}  {row['seconds']:.2f} s ({runs})")
    sample = timed["sample"]
    if sample["error"]:
        lines.append(f"  {'sample photo':<{width}}  {sample['error']}")
    else:
        w, h = sample["image_size"]
        lines.append(f"  {'sample photo':<{width}}  {sample['seconds']:.2f} s with {sample['model']} ({w}×{h})")
    return lines


def _bytes(n: int | None) -> str:
    if n is None:
        return "unknown"
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 1e6:.0f} MB"


def render(report: dict[str, Any]) -> str:
    """The report as aligned text lines for a person (and a support ticket)."""
    py, osinfo, cpu, rt, inf, net = (report[k] for k in ("python", "os", "cpu", "onnxruntime", "inference",
                                                         "network"))
    if rt["error"]:
        runtime, provs = f"not usable: {rt['error']}", "none"
    else:
        runtime = rt["version"]
        provs = ", ".join(f"{p['name']} ({p['note']})" if p["note"] else p["name"] for p in rt["providers"])
    if inf["error"]:
        in_use = timing = f"unavailable: {inf['error']}"
    else:
        in_use = f"{inf['description']} ({inf['provider']}, model {inf['model']})"
        in_use += "".join(f"; {note}" for note in inf["notes"])
        timing = (f"{inf['seconds']:.2f} s per {BENCH_SIZE}×{BENCH_SIZE} image "
                  f"(median of {inf['runs']} after a warm-up run)")
    attempts = net["blocked_attempts"]
    if net["guard_installed"]:
        network = f"Offline (guard installed, {attempts} connection attempt{'s' if attempts != 1 else ''} " \
                  "blocked this session)"
    else:
        network = "Offline by design (guard not installed in this process)"
    fields = [
        ("Knockout", report["knockout"]),
        ("Generated", report["generated"]),
        ("Python", f"{py['version']} ({py['implementation']}{', frozen' if py['frozen'] else ''}) "
                   f"{py['executable']}"),
        ("OS", f"{osinfo['system']} {osinfo['release']} ({osinfo['machine']}) · {osinfo['platform']}"),
        ("CPU", f"{cpu['model']} · {cpu['logical_cores'] or 'unknown'} logical cores "
                f"({cpu['usable_cores']} usable) · {_flags(report.get('variant'))}"),
        ("Memory", _bytes(report["memory"]["total_bytes"])),
        ("onnxruntime", runtime),
        ("Providers", provs),
        ("In use", in_use),
        ("Inference", timing),
        ("Variant", _variant_line(report.get("variant"))),
        ("Network", network),
        ("Policy", _policy_line(report.get("policy"))),
    ]
    lines = ["Knockout diagnostics", ""]
    lines += [f"{name + ':':<13}{value}" for name, value in fields]
    lines += ["", "Models (* default)"]
    rows = [("id", "family", "size", "licence", "hash", "source", "file")]
    for m in report["models"]:
        size = _bytes(m["size_bytes"]) if m["size_bytes"] is not None else "-"
        rows.append((m["id"] + ("*" if m["default"] else ""), m["family"], size, m["license"], m["hash"],
                     m["source"], m["file"]))
    if len(rows) == 1:
        rows.append(("(none)", "", "", "", "", "", ""))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines += ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines += _timing_lines(report.get("timings"))
    if report["models"]:
        lines += ["", "Licences and training data"]
        lines += [f"  {m['id']}: {legal_facts(m['license'], m.get('training_data', TRAINING_DATA_UNKNOWN))}"
                  for m in report["models"]]
    lines += ["", "Folders"]
    for name, folder in report["folders"].items():
        lines.append(f"  {name + ':':<16}{folder['path']}{'' if folder['exists'] else '  (not present)'}")
    lines += ["", "Problems"]
    lines += [f"  - {p}" for p in report["problems"]] or ["  none"]
    return "\n".join(lines) + "\n"
