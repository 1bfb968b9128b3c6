"""Desktop app latency on this CPU: launch → window painted, photo opened → first look
(the quick preview) shown → full answer shown (12 MP photo), brush stroke → updated mask
tile, zoom → full-resolution tile; with ``--breakdown``, where the start-up time went.

Runs the real window (pywebview + Qt) under a private Xvfb with the real model, via
tests/window_driver.py, a few times, and prints the median of each figure beside the
targets (issue 21), with the CPU's name and the instruction sets that decide which model
variant is fastest on it. The window's full answer uses its views setting (``--views``, else
what a new user gets); the model's own time for the quick pass and for one and two views
(app.inference.views) is timed in this process afterwards, so the other view count's figure
can be estimated: full answer ± (two views − one view).

    .venv/bin/python bench/app_latency.py [--runs 3] [--photo PATH] [--breakdown] [--model ID] [--views 1|2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TARGETS = {"painted_s": 2.0, "first_look_s": 1.5, "full_answer_s": 3.0, "stroke_to_mask_ms": 100.0,
           "zoom_tile_ms": 150.0}
# Start-up steps in order (seconds since the driver's first line; "interpreter" is before it).
STEPS = {"interpreter": "Python start-up, before the first line", "imported": "app and window modules imported",
         "starting": "server, job runner, window object ready", "shown": "Qt + WebEngine up, window shown",
         "loaded": "page loaded (HTML, CSS, JS modules)", "painted_s": "page painted (what the user sees)",
         "model_ready": "model loaded and warm (in the background)"}


def twelve_megapixels(folder: Path) -> Path:
    """The bundled sample scaled to 4000×3000, so the figure is for a 12 MP photo."""
    from app import paths

    target = folder / "photo-12mp.jpg"
    with Image.open(paths.sample_photo()) as img:
        img.convert("RGB").resize((4000, 3000), Image.Resampling.LANCZOS).save(target, quality=92)
    return target


def run_once(photo: Path, display: str, work: Path, index: int, settings: dict) -> dict:
    home = work / f"home{index}"
    env = {**os.environ, "DISPLAY": display, "HOME": str(home), "XDG_CONFIG_HOME": str(home / "config"),
           "XDG_CACHE_HOME": str(home / "cache"), "XDG_DATA_HOME": str(home / "data"),
           "QT_QPA_PLATFORM": "xcb", "LIBGL_ALWAYS_SOFTWARE": "1",
           "QTWEBENGINE_CHROMIUM_FLAGS": "--no-sandbox --disable-gpu --disable-gpu-compositing"}
    if settings:
        (home / "config" / "Knockout").mkdir(parents=True, exist_ok=True)
        (home / "config" / "Knockout" / "settings.json").write_text(json.dumps(settings))
    result_file = work / f"result{index}.json"
    env["KNOCKOUT_BENCH_SPAWNED"] = repr(time.time())
    subprocess.run([sys.executable, str(ROOT / "tests" / "window_driver.py"), str(result_file), str(photo),
                    str(work / f"out{index}"), str(work / f"shot{index}.png")],
                   env=env, cwd=ROOT, capture_output=True, timeout=900, check=False)
    result = json.loads(result_file.read_text())
    if "error" in result:
        raise SystemExit(result["error"])
    return result


def model_seconds(photo: Path, model: str | None) -> dict[str, float]:
    """The model alone on this CPU: the quick pass, and the full answer with one and two views."""
    from app.core.decode import open_image
    from app.inference import preview, views
    from app.inference.engine import Engine

    engine = Engine(model=model)
    rgb = open_image(photo).image
    size = preview.size_for(engine.spec)
    jobs = {"full_1_view": lambda: views.answer(engine, rgb, 1), "full_2_views": lambda: views.answer(engine, rgb, 2)}
    if size is not None:
        jobs = {f"quick_{size[0]}": lambda: preview.quick_look(engine, rgb), **jobs}
    out = {}
    for name, job in jobs.items():
        job()
        times = []
        for _ in range(2):
            start = time.perf_counter()
            job()
            times.append(time.perf_counter() - start)
        out[name] = statistics.median(times)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--photo", type=Path, help="photo to open (default: the sample scaled to 12 MP)")
    parser.add_argument("--breakdown", action="store_true", help="also print where the start-up time went")
    parser.add_argument("--model", help="model the window uses (default: what a new user gets)")
    parser.add_argument("--views", type=int, choices=(1, 2), help="the window's views setting (default: a new user's)")
    args = parser.parse_args()
    from app.inference.variants import this_cpu

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        photo = args.photo or twelve_megapixels(work)
        display = ":93"
        xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)
        try:
            chosen = {k: v for k, v in (("model", args.model), ("views", args.views)) if v is not None}
            results = [run_once(photo, display, work, i, chosen) for i in range(args.runs)]
        finally:
            xvfb.terminate()
        with Image.open(photo) as img:
            size = f"{img.width}×{img.height}"
        alone = model_seconds(photo, results[0]["model_id"])
    cpu = this_cpu()
    status = results[0]["status"]
    print(f"CPU {cpu.model}, {os.cpu_count()} cores, flags: {' '.join(cpu.flags) or 'none of interest'} "
          f"(VNNI: {'yes' if {'avx512_vnni', 'avx_vnni'} & set(cpu.flags) else 'no'})")
    note = f" · {status['note']}" if status.get("note") else ""
    views = results[0].get("views", 1)
    print(f"model {status['model']}{note}, provider {status['provider']}; photo {size}, {args.runs} runs; "
          f"the window's full answer: {views} view{'s' if views != 1 else ''}")
    print(f"{'figure':<22}{'median':>10}{'min':>10}{'max':>10}{'target':>10}  verdict")
    for key, target in TARGETS.items():
        values = [r[key] for r in results if key in r]
        if not values:
            print(f"{key:<22}{'—':>10}  (not measured: the model has no quick pass)")
            continue
        unit = "ms" if key.endswith("_ms") else "s"
        med = statistics.median(values)
        verdict = "met" if med <= target else f"missed ({med / target:.1f}× target)"
        print(f"{key:<22}{med:>8.2f}{unit:<2}{min(values):>8.2f}{unit:<2}{max(values):>8.2f}{unit:<2}"
              f"{target:>8g}{unit:<2}  {verdict}")
    print("model alone (median of 2, after a warm-up): "
          + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in alone.items()))
    if "full_1_view" in alone:
        full = statistics.median(r["full_answer_s"] for r in results)
        delta = alone["full_2_views"] - alone["full_1_view"]
        other, estimate = (2, full + delta) if views == 1 else (1, full - delta)
        print(f"full answer with {other} view{'s' if other != 1 else ''} ≈ {estimate:.2f} s (estimated)")
    ready = [r["first_look_ready_s"] for r in results if "first_look_ready_s" in r]
    if ready:
        print(f"first look ready in Python after {statistics.median(ready):.2f} s (the rest of first_look_s is the "
              "page asking for and drawing it)")
    ready = [r["full_answer_ready_s"] for r in results if "full_answer_ready_s" in r]
    if ready:
        print(f"full answer ready in Python after {statistics.median(ready):.2f} s")
    if args.breakdown:
        print("start-up (median seconds since the driver's first line; interpreter: before it)")
        for key, what in STEPS.items():
            values = [r["startup"].get(key) if key != "painted_s" else r["painted_s"] for r in results]
            values = [v for v in values if v is not None]
            if values:
                print(f"  {key:<12}{statistics.median(values):>7.2f} s  {what}")


if __name__ == "__main__":
    main()
