"""``knockout diagnose --compare OLD.json``: what changed since a saved diagnostics report.

After a hardware refresh IT wants to know, in a line, whether the new machine is slower.
The comparison reads the saved report (``knockout diagnose --json --output FILE``, any
version: reports from before per-model timings still give the chosen model's time) and the
report just made, and says what changed: the CPU and its instruction sets, the provider in
use, each model's inference time old → new with the ratio, and the sample photo end to end.
Any timing more than SLOWER (10 %) slower is said plainly.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from app.core.errors import KnockoutError

SLOWER = 1.10  # a timing this much longer than the saved one is "slower"
MAX_REPORT_BYTES = 4 * 1024 * 1024
SAVE_HINT = "save one with `knockout diagnose --json --output FILE`"


class ReportError(KnockoutError):
    """A saved report that cannot be compared with: missing, unreadable, not JSON, or not a diagnostics report."""

    code = "report_error"


def load_report(path: Path) -> dict[str, Any]:
    """The saved report at ``path``; ReportError says why it cannot be used."""
    try:
        if path.stat().st_size > MAX_REPORT_BYTES:
            raise ReportError(f"{path} is too large to be a Knockout diagnostics report", str(path))
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReportError(f"{path} does not exist: {SAVE_HINT} on the old machine", str(path)) from None
    except IsADirectoryError:
        raise ReportError(f"{path} is a folder, not a saved report", str(path)) from None
    except OSError as exc:
        raise ReportError(f"cannot read {path} ({exc.strerror or exc})", str(path)) from None
    except UnicodeDecodeError:
        raise ReportError(f"{path} is not a text file, so not a saved diagnostics report", str(path)) from None
    if text.startswith("Knockout diagnostics"):
        raise ReportError(f"{path} is the text form of a report, which cannot be compared: {SAVE_HINT}", str(path))
    try:
        report = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportError(f"{path} is not valid JSON (line {exc.lineno}: {exc.msg}), so it cannot be compared; "
                          f"{SAVE_HINT}", str(path)) from None
    if not (isinstance(report, dict) and isinstance(report.get("knockout"), str)
            and isinstance(report.get("cpu"), dict) and isinstance(report.get("inference"), dict)):
        raise ReportError(f"{path} is JSON but not a Knockout diagnostics report; {SAVE_HINT}", str(path))
    return report


def _flags(report: dict[str, Any]) -> list[str]:
    """Instruction sets: ``cpu.flags``, or where reports before it kept them (``variant.flags``)."""
    flags = report["cpu"].get("flags")
    if flags is None:
        flags = (report.get("variant") or {}).get("flags") or []
    return [str(f) for f in flags]


def _provider(report: dict[str, Any]) -> str | None:
    inference = report["inference"]
    if not inference.get("provider"):
        return None
    return f"{inference['provider']} ({inference['description']})" if inference.get("description") \
        else str(inference["provider"])


def _seconds(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 else None


def _model_times(report: dict[str, Any]) -> dict[str, tuple[str, float]]:
    """id → (name, seconds per inference) of every model the report timed."""
    timed = (report.get("timings") or {}).get("models")
    if timed is None:  # a report from before per-model timings: the chosen model only
        inference = report["inference"]
        seconds = _seconds(inference.get("seconds"))
        return {str(inference["model"]): (str(inference["model"]), seconds)} if seconds and inference.get("model") \
            else {}
    found = {}
    for row in timed:
        if isinstance(row, dict) and (seconds := _seconds(row.get("seconds"))) and row.get("id"):
            found[str(row["id"])] = (str(row.get("name") or row["id"]), seconds)
    return found


def _sample(report: dict[str, Any]) -> float | None:
    return _seconds(((report.get("timings") or {}).get("sample") or {}).get("seconds"))


def _timing(what: str, model: str | None, old: float, new: float) -> dict[str, Any]:
    return {"what": what, "model": model, "old": old, "new": new, "ratio": round(new / old, 3)}


def compare(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """What changed from ``old`` to ``new`` (both diagnostics reports), as JSON-safe data;
    ``slower`` lists the timings more than SLOWER slower than in ``old``."""
    old_flags, new_flags = set(_flags(old)), set(_flags(new))
    old_times, new_times = _model_times(old), _model_times(new)
    timings = [_timing(new_times[model][0], model, old_times[model][1], new_times[model][1])
               for model in new_times if model in old_times]
    old_sample, new_sample = _sample(old), _sample(new)
    if old_sample and new_sample:
        timings.append(_timing("the sample photo end to end", None, old_sample, new_sample))
    return {
        "old": {"generated": old.get("generated"), "knockout": old.get("knockout")},
        "new": {"generated": new.get("generated"), "knockout": new.get("knockout")},
        "cpu": {"old": old["cpu"].get("model"), "new": new["cpu"].get("model")},
        "flags": {"added": sorted(new_flags - old_flags), "removed": sorted(old_flags - new_flags),
                  "kept": sorted(old_flags & new_flags)},
        "provider": {"old": _provider(old), "new": _provider(new)},
        "timings": timings,
        "not_compared": sorted(set(old_times) ^ set(new_times)),
        "slower": [t for t in timings if t["ratio"] > SLOWER],
    }


def _ratio(ratio: float) -> str:
    if ratio > SLOWER:
        return f"{ratio:.2f}× slower"
    if ratio < 1 / SLOWER:
        return f"{1 / ratio:.2f}× faster"
    return "about the same"


def render(comparison: dict[str, Any]) -> str:
    """The comparison as lines for a person, ending with the plain verdict."""
    old, new = comparison["old"], comparison["new"]
    cpu, flags, provider = comparison["cpu"], comparison["flags"], comparison["provider"]
    lines = ["Knockout diagnostics compared with a saved report", "",
             f"{'Saved:':<11}{old['generated'] or 'unknown date'} (Knockout {old['knockout']})",
             f"{'Now:':<11}{new['generated'] or 'unknown date'} (Knockout {new['knockout']})",
             f"{'CPU:':<11}" + (f"{cpu['old']} (unchanged)" if cpu["old"] == cpu["new"]
                                else f"{cpu['old']} → {cpu['new']}")]
    changes = [f"added {' '.join(flags['added'])}"] if flags["added"] else []
    changes += [f"removed {' '.join(flags['removed'])}"] if flags["removed"] else []
    lines.append(f"{'Flags:':<11}" + ("; ".join(changes) if changes else
                                      f"unchanged ({' '.join(flags['kept']) or 'none of AVX2, AVX-512, VNNI'})"))
    lines.append(f"{'Provider:':<11}" + (f"{provider['old']} (unchanged)" if provider["old"] == provider["new"]
                                         else f"{provider['old'] or 'none'} → {provider['new'] or 'none'}"))
    lines += ["", "Timings (saved → now)"]
    rows = comparison["timings"]
    width = max([len(row["what"]) for row in rows] + [0])
    lines += [f"  {row['what']:<{width}}  {row['old']:.2f} s → {row['new']:.2f} s  {_ratio(row['ratio'])}"
              for row in rows] or ["  none in common (the saved report has no timing of these models)"]
    if comparison["not_compared"]:
        lines.append(f"  not in both reports: {', '.join(comparison['not_compared'])}")
    lines.append("")
    if comparison["slower"]:
        lines += [f"This machine is {row['ratio']:.1f}× slower than the saved report at {row['what']}."
                  for row in comparison["slower"]]
    elif rows:
        lines.append(f"This machine is not slower than the saved report (no timing more than "
                     f"{round((SLOWER - 1) * 100)} % slower).")
    else:
        lines.append("No timing could be compared.")
    return "\n".join(lines) + "\n"
