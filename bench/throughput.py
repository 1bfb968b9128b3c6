"""Throughput benchmark: Knockout's CLI against rembg 2.0.86, same ISNet model, same images.

Run from the repository root (the first run also sets up rembg, about a minute):

    .venv/bin/python bench/throughput.py                      # 8 images, repeat 2
    .venv/bin/python bench/throughput.py -n 12 --repeat 3 --json .bench/throughput.json

Everything lives in .bench/ (it git-ignores itself): a venv .bench/rembg-venv with
rembg[cpu,cli]==2.0.86, made once, and N >= 8 JPEGs of 4000x3000 (q90) in .bench/images, built
once from the public eval photos in ../shared/eval (--eval-dir): centre crop to 4:3, LANCZOS
upscale, seeded Gaussian noise (sigma 2.5). rembg may only load a custom model from under its home,
so models/isnet-medium-fp16.onnx (the file exactly as IMG.LY publishes it) is hardlinked (or copied)
to ~/.rembg/isnet_medium.onnx and rembg runs with U2NET_HOME=~/.rembg. Knockout runs three times per
round: its batch default (isnet-medium-int8, one view; the ratio target is for this one), the same
with --views 2, and with isnet-medium (fp32 activations, see models/derive.py). The CPU's model and
its VNNI flags are printed with the figures: the int8 model gains most where the CPU has VNNI.
All tools run inside
`unshare -n` when it works (no network at all).

After warming the file cache it runs knockout, rembg, knockout, rembg, ... each into a fresh
output folder and checks that it wrote N PNGs of 4000x3000 with alpha. s/image is the wall time
of the whole command (start-up and model load included) / N, median over the repeats.
"peak RSS" is ru_maxrss from os.wait4 on the tool's process: its own peak or that of its largest
reaped descendant (a max, not a sum). The tool is started by a tiny launcher process because a
child spawned by vfork (subprocess, posix_spawn) inherits its parent's peak RSS in ru_maxrss.
"tree RSS" is the summed RSS of the tool and all its descendants, sampled every 0.2 s, which
catches worker processes running side by side; the RSS target is checked on the larger of the two.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / ".bench"
REMBG_VERSION = "2.0.86"
SIZE = (4000, 3000)
TARGET_RATIO, TARGET_RSS_MB = 2.5, 1200
# tool name -> extra arguments of `knockout cut`; "knockout" is the batch default the ratio target is for
KNOCKOUT_MODELS = {"knockout": ["--model", "isnet-medium-int8"],
                   "knockout-views2": ["--model", "isnet-medium-int8", "--views", "2"],
                   "knockout-fp32": ["--model", "isnet-medium"]}
PAGE = os.sysconf("SC_PAGE_SIZE")
# argv: RESULT_FILE CMD...; writes [wall s, exit code, ru_maxrss KB] of CMD.
LAUNCHER = (
    "import json, os, sys, time\n"
    "t = time.perf_counter()\n"
    "pid = os.posix_spawnp(sys.argv[2], sys.argv[2:], os.environ)\n"
    "_, status, ru = os.wait4(pid, 0)\n"
    "wall = time.perf_counter() - t\n"
    "with open(sys.argv[1], 'w') as f:\n"
    "    json.dump([wall, os.waitstatus_to_exitcode(status), ru.ru_maxrss], f)\n"
)


def setup_rembg(model: Path) -> tuple[Path, Path]:
    """Create .bench/rembg-venv once and put the model where rembg accepts it."""
    venv = BENCH / "rembg-venv"
    exe, py = venv / "bin" / "rembg", venv / "bin" / "python"
    probe = [str(py), "-c", "import importlib.metadata as m; print(m.version('rembg'))"]
    have = subprocess.run(probe, capture_output=True, text=True).stdout.strip() if py.exists() else ""
    if have != REMBG_VERSION or not exe.exists():
        t0 = time.perf_counter()
        steps = [] if py.exists() else [[sys.executable, "-m", "venv", str(venv)]]
        steps.append([str(py), "-m", "pip", "install", "-q", f"rembg[cpu,cli]=={REMBG_VERSION}"])
        for cmd in steps:
            print("+", shlex.join(cmd), flush=True)
            subprocess.run(cmd, check=True)
        print(f"rembg venv ready in {time.perf_counter() - t0:.0f} s")
    dest = Path.home() / ".rembg" / "isnet_medium.onnx"
    dest.parent.mkdir(exist_ok=True)
    if not (dest.exists() and os.path.samefile(dest, model)):
        dest.unlink(missing_ok=True)
        try:
            os.link(model, dest)
        except OSError:
            shutil.copy2(model, dest)
    return exe, dest


def source_photos(eval_dir: Path) -> list[Path]:
    """Landscape photos, largest first within each source, interleaved across the sources."""
    groups = []
    for d in sorted(p for p in eval_dir.glob("*/images") if p.is_dir()):
        found = []
        for p in sorted(d.iterdir()):
            if p.suffix.lower() in {".jpg", ".jpeg", ".png"}:
                with Image.open(p) as im:
                    if im.width >= im.height:
                        found.append((-im.width * im.height, p.name, p))
        groups.append([p for *_, p in sorted(found)])
    return [g[i] for i in range(max(map(len, groups), default=0)) for g in groups if i < len(g)]


def build_images(n: int, eval_dir: Path, seed: int) -> list[Path]:
    out = BENCH / "images"
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"bench_{i:02d}.jpg" for i in range(n)]
    todo = [i for i, p in enumerate(paths) if not p.exists()]
    if todo and not eval_dir.is_dir():
        sys.exit(f"error: eval photos not found at {eval_dir} (use --eval-dir); cannot build test images")
    photos = source_photos(eval_dir) if todo else []
    if todo and not photos:
        sys.exit(f"error: no photos under {eval_dir}/*/images")
    tw, th = SIZE
    for i in todo:
        with Image.open(photos[i % len(photos)]) as im:
            w, h = im.size
            cw, ch = (w, w * th // tw) if w * th <= h * tw else (h * tw // th, h)
            box = ((w - cw) // 2, (h - ch) // 2, (w - cw) // 2 + cw, (h - ch) // 2 + ch)
            big = np.asarray(im.convert("RGB").resize(SIZE, Image.Resampling.LANCZOS, box=box), np.float32)
        big += np.random.default_rng(seed + i).standard_normal(big.shape, dtype=np.float32) * 2.5
        pixels = np.clip(big + 0.5, 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(paths[i].with_suffix(".part"), "JPEG", quality=90)
        paths[i].with_suffix(".part").replace(paths[i])
        print(f"built {paths[i].name} from {photos[i % len(photos)].relative_to(eval_dir)}", flush=True)
    return paths


def tree_rss(root: int) -> int:
    """Summed RSS in bytes of the descendants of `root` (one scan of /proc/*/stat)."""
    parent, rss = {}, {}
    for entry in os.scandir("/proc"):
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()  # fields[1] = ppid, fields[21] = rss pages
            parent[int(entry.name)], rss[int(entry.name)] = int(fields[1]), int(fields[21]) * PAGE
        except (OSError, ValueError, IndexError):
            continue
    keep, new = {root}, {root}
    while new:
        new = {pid for pid, ppid in parent.items() if ppid in new}
        keep |= new
    return sum(rss[pid] for pid in keep - {root})


def measure(cmd: list[str], env: dict[str, str], log: Path) -> dict:
    peak, done, result = [0], threading.Event(), log.with_suffix(".json")
    with open(log, "wb") as out:
        t0 = time.perf_counter()
        argv = [sys.executable, "-c", LAUNCHER, str(result), *cmd]
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=out, stdin=subprocess.DEVNULL)

        def sample() -> None:
            while not done.wait(0.2):
                peak[0] = max(peak[0], tree_rss(proc.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        fallback = (proc.wait(), time.perf_counter() - t0)
        done.set()
        sampler.join()
    wall, rc, maxrss = json.loads(result.read_text()) if result.exists() else (fallback[1], fallback[0], 0)
    return {"wall_s": wall, "rc": rc, "peak_rss_mb": maxrss / 1024, "tree_rss_mb": peak[0] / 2**20}


def cpu_line() -> str:
    """The CPU's model, logical CPUs and the instruction sets that decide the int8 model's speed
    (the app's own reading of them: app.inference.variants)."""
    sys.path.insert(0, str(REPO))
    from app.inference.variants import this_cpu

    cpu = this_cpu()
    vnni = "VNNI" if {"avx512_vnni", "avx_vnni", "amx_int8"} & set(cpu.flags) else "no VNNI"
    return f"{cpu.model} · {os.cpu_count()} logical CPUs · {' '.join(cpu.flags) or 'no AVX2'} · {vnni}"


def cpu_busy(seconds: float = 1.0) -> float:
    """Share of all CPU time spent busy during `seconds` (from /proc/stat)."""

    def ticks() -> tuple[int, int]:
        with open("/proc/stat") as f:
            t = [int(x) for x in f.readline().split()[1:]]
        return sum(t), t[3] + t[4]  # total, idle + iowait

    (t0, i0), _, (t1, i1) = ticks(), time.sleep(seconds), ticks()
    return 1 - (i1 - i0) / (t1 - t0) if t1 > t0 else 0.0


def check_outputs(outdir: Path, n: int) -> str | None:
    pngs = sorted(outdir.rglob("*.png"))
    if len(pngs) != n:
        return f"expected {n} PNGs in {outdir}, found {len(pngs)}"
    for p in pngs:
        with Image.open(p) as im:
            if im.format != "PNG" or "A" not in im.getbands() or im.size != SIZE:
                return f"{p.name}: {im.format} {im.mode} {im.size}, want PNG with alpha at {SIZE}"
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", "--images", type=int, default=8, help="number of 4000x3000 JPEGs (>= 8)")
    ap.add_argument("--repeat", type=int, default=2, help="runs per tool, alternating")
    ap.add_argument("--eval-dir", type=Path, default=REPO.parent / "shared" / "eval")
    ap.add_argument("--knockout-cmd", default=str(REPO / ".venv" / "bin" / "knockout"), help="command prefix")
    ap.add_argument("--only", choices=[*KNOCKOUT_MODELS, "rembg"], help="run one tool (no ratio)")
    ap.add_argument("--no-unshare", action="store_true", help="do not cut the network with unshare -n")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--json", type=Path, help="also write the figures to this file")
    a = ap.parse_args()
    if a.images < 8 or a.repeat < 1:
        ap.error("--images must be >= 8 and --repeat >= 1")
    tools = [a.only] if a.only else [*KNOCKOUT_MODELS, "rembg"]
    ko_cmd = shlex.split(a.knockout_cmd)
    if any(t in KNOCKOUT_MODELS for t in tools) and not shutil.which(ko_cmd[0]):
        sys.exit(f"error: Knockout CLI not found: {ko_cmd[0]} (install the app into .venv or --knockout-cmd)")
    model = REPO / "models" / "isnet-medium-fp16.onnx"
    if not model.exists():
        sys.exit(f"error: {model} missing; run: .venv/bin/python models/fetch.py")

    BENCH.mkdir(exist_ok=True)
    (BENCH / ".gitignore").write_text("*\n")
    rembg_exe, rembg_model = setup_rembg(model) if "rembg" in tools else (None, None)
    images = build_images(a.images, a.eval_dir, a.seed)
    work = Path(tempfile.mkdtemp(prefix="run-", dir=BENCH))
    indir = work / "in"  # exactly N images: rembg takes every file in its input folder
    indir.mkdir()
    for p in images:
        os.link(p, indir / p.name)
    inputs = sorted(indir.iterdir())
    for p in inputs:  # warm the OS file cache
        p.read_bytes()
    prefix = ["unshare", "-n"] if not a.no_unshare and shutil.which("unshare") else []
    if prefix and subprocess.run([*prefix, "true"], capture_output=True).returncode != 0:
        prefix = []
    print(f"network for the tools: {'cut (unshare -n)' if prefix else 'left on'}", flush=True)
    print(f"CPU: {cpu_line()}", flush=True)
    busy = cpu_busy()
    if busy > 0.15:
        print(f"warning: the CPUs are {busy:.0%} busy with other work; the figures will be skewed", flush=True)
    env = {**os.environ, "U2NET_HOME": str(Path.home() / ".rembg"), "HF_HUB_OFFLINE": "1"}

    runs: dict[str, list[dict]] = {t: [] for t in tools}
    for k in range(a.repeat):
        for tool in tools:
            out = work / f"out-{tool}-{k}"
            if tool in KNOCKOUT_MODELS:
                cmd = [*ko_cmd, "cut", *map(str, inputs), "-o", str(out), "--format", "png", *KNOCKOUT_MODELS[tool]]
            else:
                extras = json.dumps({"model_path": str(rembg_model)})
                cmd = [str(rembg_exe), "p", "-m", "dis_custom", "-x", extras, str(indir), str(out)]
            r = measure([*prefix, *cmd], env, work / f"{tool}-{k}.log")
            r["error"] = f"exit code {r['rc']}" if r["rc"] else check_outputs(out, len(inputs))
            runs[tool].append(r)
            state = f"FAILED: {r['error']}" if r["error"] else "ok"
            mb = f"peak {r['peak_rss_mb']:5.0f} MB  tree {r['tree_rss_mb']:5.0f} MB"
            print(f"run {k + 1}/{a.repeat} {tool:13s} {r['wall_s']:6.1f} s  {mb}  {state}", flush=True)
            if r["error"]:
                tail = (work / f"{tool}-{k}.log").read_text(errors="replace")[-2000:]
                print(f"--- last output of {tool} ---\n{tail}\n---", flush=True)
            shutil.rmtree(out, ignore_errors=True)

    n, summary = len(inputs), {}
    print(f"\n{n} JPEGs {SIZE[0]}x{SIZE[1]} -> PNG with alpha; median of {a.repeat} run(s), peak = max")
    print(f"{'tool':13s} | {'s/image':>7s} | {'total s':>7s} | {'peak RSS MB':>11s} | {'tree RSS MB':>11s}")
    for tool, rs in runs.items():
        ok = [r for r in rs if not r["error"]]
        if not ok:
            print(f"{tool:13s} | FAILED ({rs[0]['error']})")
            continue
        total = statistics.median(r["wall_s"] for r in ok)
        peak, tree = (max(r[key] for r in ok) for key in ("peak_rss_mb", "tree_rss_mb"))
        summary[tool] = {"s_per_image": total / n, "total_s": total, "peak_rss_mb": peak, "tree_rss_mb": tree}
        print(f"{tool:13s} | {total / n:7.2f} | {total:7.1f} | {peak:11.0f} | {tree:11.0f}")
    failed = any(r["error"] for rs in runs.values() for r in rs)
    result = {"images": n, "size": SIZE, "repeat": a.repeat, "stat": "median", "rembg": REMBG_VERSION,
              "cpu": cpu_line()}
    result |= {"network_cut": bool(prefix), "cpu_busy_before": busy, "failed": failed, "summary": summary}
    result["runs"] = runs
    if "knockout" in summary:
        rss = max(summary["knockout"]["peak_rss_mb"], summary["knockout"]["tree_rss_mb"])
        result |= {"knockout_rss_mb": rss, "rss_ok": rss <= TARGET_RSS_MB}
        verdict = "PASS" if rss <= TARGET_RSS_MB else "MISS"
        print(f"knockout peak RSS: {rss:.0f} MB (target <= {TARGET_RSS_MB} MB)  {verdict}")
    if failed:
        print(f"no ratio: at least one run failed; logs kept in {work}")
    elif "rembg" in summary:
        for tool in (t for t in KNOCKOUT_MODELS if t in summary):
            ratio = summary["rembg"]["s_per_image"] / summary[tool]["s_per_image"]
            result |= {f"ratio_{tool}": ratio}
            verdict = ("PASS" if ratio >= TARGET_RATIO else "MISS") if tool == "knockout" else "(for comparison)"
            print(f"ratio rembg/{tool} (s/img): {ratio:.2f}x  (target >= {TARGET_RATIO}x)  {verdict}")
        if "knockout" in summary:
            result |= {"ratio": result["ratio_knockout"], "ratio_ok": result["ratio_knockout"] >= TARGET_RATIO}
    if a.json:
        a.json.write_text(json.dumps(result, indent=2) + "\n")
    if not failed:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
