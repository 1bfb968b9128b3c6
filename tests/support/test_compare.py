"""``knockout diagnose --compare``: what changed since a saved report, and whether this machine is slower."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.support import compare
from app.support.compare import ReportError, load_report


def _report(cpu: str, flags: list[str], seconds: dict[str, float], sample: float | None,
            provider: str = "CPUExecutionProvider", chosen: str = "isnet-medium-int8") -> dict[str, Any]:
    names = {"isnet-medium-int8": "ISNet (fast)", "isnet-medium": "ISNet (full precision)"}
    return {
        "knockout": "0.1.0", "generated": "2026-12-01T09:00:00Z",
        "cpu": {"model": cpu, "logical_cores": 8, "usable_cores": 8, "flags": flags},
        "inference": {"model": chosen, "provider": provider, "description": "CPU · 8 threads",
                      "seconds": seconds.get(chosen), "runs": 3, "error": None},
        "timings": {"models": [{"id": i, "name": names.get(i, i), "seconds": s, "runs": 1, "error": None}
                               for i, s in seconds.items()],
                    "sample": {"model": chosen, "seconds": sample, "image_size": [600, 400], "error": None}},
        "problems": [],
    }


OLD = _report("Intel Core i7-1185G7", ["avx2", "avx512f", "avx512_vnni"],
              {"isnet-medium-int8": 0.50, "isnet-medium": 1.50}, 1.20)


def test_a_slower_machine_is_named_with_the_ratio_per_timing() -> None:
    new = _report("Intel Core i5-1235U", ["avx2", "avx_vnni"], {"isnet-medium-int8": 0.70, "isnet-medium": 1.55},
                  1.60, provider="DmlExecutionProvider")
    result = compare.compare(OLD, new)
    assert result["cpu"] == {"old": "Intel Core i7-1185G7", "new": "Intel Core i5-1235U"}
    assert result["flags"]["added"] == ["avx_vnni"] and result["flags"]["removed"] == ["avx512_vnni", "avx512f"]
    assert [(t["what"], t["ratio"]) for t in result["timings"]] == [
        ("ISNet (fast)", 1.4), ("ISNet (full precision)", 1.033), ("the sample photo end to end", 1.333)]
    assert [t["what"] for t in result["slower"]] == ["ISNet (fast)", "the sample photo end to end"]
    text = compare.render(result)
    assert "CPU:       Intel Core i7-1185G7 → Intel Core i5-1235U" in text
    assert "Flags:     added avx_vnni; removed avx512_vnni avx512f" in text
    assert ("Provider:  CPUExecutionProvider (CPU · 8 threads) → DmlExecutionProvider (CPU · 8 threads)"
            in text)
    assert "  ISNet (fast)                 0.50 s → 0.70 s  1.40× slower" in text
    assert "  ISNet (full precision)       1.50 s → 1.55 s  about the same" in text
    assert text.rstrip().endswith("This machine is 1.4× slower than the saved report at ISNet (fast).\n"
                                  "This machine is 1.3× slower than the saved report at the sample photo end to end.")


def test_a_faster_machine_is_said_to_be_not_slower() -> None:
    new = _report("AMD Ryzen 7 7840U", ["avx2", "avx512f", "avx512_vnni"],
                  {"isnet-medium-int8": 0.30, "isnet-medium": 1.60}, 1.00)
    result = compare.compare(OLD, new)
    assert result["slower"] == [] and result["flags"] == {"added": [], "removed": [],
                                                          "kept": ["avx2", "avx512_vnni", "avx512f"]}
    text = compare.render(result)
    assert "0.50 s → 0.30 s  1.67× faster" in text and "Flags:     unchanged (avx2 avx512_vnni avx512f)" in text
    assert "Provider:  CPUExecutionProvider (CPU · 8 threads) (unchanged)" in text
    assert text.rstrip().endswith("This machine is not slower than the saved report (no timing more than 10 % "
                                  "slower).")


def test_a_report_from_before_per_model_timings_still_compares_the_chosen_model() -> None:
    old = {"knockout": "0.1.0", "generated": "2026-11-01T09:00:00Z", "cpu": {"model": "Old CPU"},
           "inference": {"model": "isnet-medium-int8", "provider": "CPUExecutionProvider", "seconds": 0.5},
           "variant": {"flags": ["avx2"]}, "problems": []}
    new = _report("New CPU", ["avx2"], {"isnet-medium-int8": 0.8, "isnet-medium": 1.5}, 1.0)
    result = compare.compare(old, new)
    assert [(t["model"], t["ratio"]) for t in result["timings"]] == [("isnet-medium-int8", 1.6)]
    assert result["flags"]["added"] == [] and result["not_compared"] == ["isnet-medium"]
    text = compare.render(result)
    assert "  not in both reports: isnet-medium" in text
    assert "This machine is 1.6× slower than the saved report at ISNet (fast)." in text


def test_nothing_in_common_is_said_so() -> None:
    old = _report("A", [], {"isnet-small": 2.0}, None, chosen="isnet-small")
    result = compare.compare(old, _report("B", [], {"isnet-medium": 1.0}, None, chosen="isnet-medium"))
    assert result["timings"] == [] and compare.render(result).rstrip().endswith("No timing could be compared.")


# --- the saved file ---------------------------------------------------------------------------------


def test_a_saved_report_loads(tmp_path: Path) -> None:
    (tmp_path / "old.json").write_text(json.dumps(OLD), encoding="utf-8")
    assert load_report(tmp_path / "old.json") == OLD


@pytest.mark.parametrize(("content", "words"), [
    (None, "does not exist: save one with `knockout diagnose --json --output FILE` on the old machine"),
    ("{\"knockout\": ", "is not valid JSON (line 1"),
    ("Knockout diagnostics\n\nKnockout:    0.1.0\n", "is the text form of a report, which cannot be compared"),
    (json.dumps({"knockout_preset": 1, "id": "shop"}), "is JSON but not a Knockout diagnostics report"),
    (json.dumps([1, 2, 3]), "is JSON but not a Knockout diagnostics report"),
    (b"\xff\xd8\xff\xe0 a JPEG", "is not a text file"),
])
def test_a_missing_corrupt_or_foreign_file_is_refused_with_the_reason(tmp_path: Path, content: Any,
                                                                      words: str) -> None:
    path = tmp_path / "old.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ReportError) as refused:
        load_report(path)
    assert words in refused.value.message and str(path) in refused.value.message
    assert refused.value.code == "report_error"
