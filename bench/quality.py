"""Cutout quality benchmark: Knockout against rembg 2.0.86 and IMG.LY node 1.4.5 on ../shared/eval.

Run from the repository root (first run: sets up the peers in .bench/, 20-40 min on 2 cores):

    .venv/bin/python bench/quality.py --json .bench/quality.json
    .venv/bin/python bench/quality.py --only knockout --no-run      # score what is already there

Per source (alphamatting_training_lowres, grabcut with its mixed-pixel band left out of IoU/MAE,
davis345_subset, coco_mval_products, midv500_sample) and per tool configuration: mean IoU (alpha
>= 0.5), MAE (0..1) and boundary F (0.75 % of the diagonal), all from app.core.metrics, the code
`knockout eval` uses. Then the white-flatten error in the soft edge band (0..255) on composites of
the 27 alphamatting objects over 3 flat colours and 2 busy backgrounds (.bench/composites, seeded),
from each tool's transparent cutout. Sources get masks (knockout --mask-only, rembg -om) or RGBA
whose alpha is the mask (rembg -a: -om would drop the matting; IMG.LY: see bench/peers.py).

Outputs are cached in .bench/quality/<config>/<source>/ with a stamp (command, inputs, and for
knockout the app's code and models/manifest.json); a rerun only redoes what changed (--fresh redoes
all). Interrupted runs resume. Peers run inside `unshare -n` when it works.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peers
from throughput import BENCH, REPO

sys.path.insert(0, str(REPO))
from app.core import metrics
from app.evaluation.pairs import load_mask, match

SOURCES = ["alphamatting_training_lowres", "grabcut", "davis345_subset", "coco_mval_products", "midv500_sample"]
COMPOSITES = "composites"
OUT = BENCH / "quality"
IOU_SLACK, FLATTEN_SHARE = 0.002, 0.85
JUDGED = "knockout --views 2"  # the targets are for two views (the window's default)
# flatten_alpha_only: the flatten error with the true foreground colours under the tool's alpha, so
# the part its alpha alone explains (the rest of flatten_error is its colours)
METRIC_FIELDS = ("iou", "mae", "bf", "flatten_error", "flatten_alpha_only")
ENV = {**os.environ, "U2NET_HOME": str(Path.home() / ".rembg"), "HF_HUB_OFFLINE": "1"}


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-")


def digest(*parts: object) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p if isinstance(p, bytes) else json.dumps(p, sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


def code_digest() -> str:
    """Knockout's outputs change with its code and models: hash app/**/*.py and the manifest."""
    files = [*sorted(REPO.glob("app/**/*.py")), REPO / "models" / "manifest.json"]
    return digest(*(p.read_bytes() for p in files if p.is_file()))


def images_of(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in {".png", ".jpg", ".jpeg"})


def run_tool(argv: list[str], in_dir: Path, out_dir: Path, key: str, prefix: list[str], fresh: bool) -> str | None:
    """Run one configuration over one folder unless its outputs are complete; an error text or None."""
    stamp = out_dir / ".stamp.json"
    old = json.loads(stamp.read_text()).get("key") if stamp.exists() else None
    if fresh or (old is not None and old != key):
        shutil.rmtree(out_dir, ignore_errors=True)
    inputs = images_of(in_dir)
    if old == key and all((out_dir / f"{p.stem}.png").exists() for p in inputs):
        return None
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp.write_text(json.dumps({"key": key, "cmd": argv}) + "\n")
    (out_dir / ".scores.json").unlink(missing_ok=True)
    cmd = [*prefix, *(str(in_dir) if a == "IN" else str(out_dir) if a == "OUT" else a for a in argv)]
    log = out_dir.parent / f"{out_dir.name}.log"
    print(f"  + {shlex.join(cmd)}", flush=True)
    t0 = time.perf_counter()
    with open(log, "ab") as fh:
        rc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=ENV).returncode
    missing = [p.name for p in inputs if not (out_dir / f"{p.stem}.png").exists()]
    print(f"    {len(inputs) - len(missing)}/{len(inputs)} in {time.perf_counter() - t0:.0f} s (rc {rc})", flush=True)
    if missing:
        return f"exit code {rc}, {len(missing)} output(s) missing, e.g. {missing[0]}; see {log}"
    return None


def read_output(path: Path, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray | None]:
    """(alpha 0..1, RGB uint8 or None) of a tool's output: the alpha channel if it has one, else grey."""
    with Image.open(path) as im:
        if im.size != size:
            raise ValueError(f"{path.name} is {im.size}, the photo {size}")
        if "A" in im.getbands() or "transparency" in im.info:  # palette PNGs keep alpha in tRNS
            rgba = np.asarray(im.convert("RGBA"))
            return metrics.as_alpha(rgba[..., 3]), rgba[..., :3]
        return metrics.as_alpha(np.asarray(im.convert("L"))), None


def score_folder(src_dir: Path, out_dir: Path, key: str) -> dict:
    """Mean scores of one configuration on one source (cached in .scores.json once complete)."""
    cache = out_dir / ".scores.json"
    key = digest(key, (REPO / "app" / "core" / "metrics.py").read_bytes(), METRIC_FIELDS)
    if cache.exists():
        cached = json.loads(cache.read_text())
        if cached.get("key") == key:
            return cached["result"]
    ignore = src_dir / "ignore" if (src_dir / "ignore").is_dir() else None
    fg = src_dir / "fg" if (src_dir / "fg").is_dir() else None
    per_image, errors = {}, {}
    for pair in match(src_dir / "images", src_dir / "masks", ignore, fg).pairs:
        out = out_dir / f"{pair.image.stem}.png"
        if not out.exists():
            errors[pair.name] = "no output"
            continue
        try:
            with Image.open(pair.image) as im:
                size = im.size
            gt = metrics.as_alpha(load_mask(pair.mask, size))
            valid = load_mask(pair.ignore, size) < 255 if pair.ignore else None
            pred, rgb = read_output(out, size)
            true_fg = None
            if pair.fg and rgb is not None:
                with Image.open(pair.fg) as im:
                    true_fg = np.asarray(im.convert("RGB"))
            s = metrics.score(pred, gt, valid, rgb, true_fg)
            alpha_only = None if true_fg is None else metrics.flatten_error(true_fg, pred, true_fg, gt, valid)
        except Exception as exc:  # a bad output is reported, the set goes on
            errors[pair.name] = f"{type(exc).__name__}: {exc}"
            continue
        per_image[pair.name] = {"iou": s.iou, "mae": s.mae, "bf": s.bf, "flatten_error": s.flatten_error,
                                "flatten_alpha_only": alpha_only}
    means = {}
    for f in METRIC_FIELDS:
        vals = [v[f] for v in per_image.values() if v[f] is not None]
        means[f] = float(np.mean(vals)) if vals else None
    result = {"n": len(per_image), "errors": errors, **means, "per_image": per_image}
    if not errors:
        cache.write_text(json.dumps({"key": key, "result": result}) + "\n")
    return result


def fmt(v: float | None, digits: int) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def on_common(rows: dict, configs: list[str], metric: str) -> tuple[dict, int, bool]:
    """Means of `metric` per config over the images every one of `configs` has scores for.

    (means, images in common, complete: every config scored every image).
    """
    have = [c for c in configs if rows.get(c) and rows[c]["per_image"]]
    if not have:
        return {}, 0, False
    names = set.intersection(*(set(rows[c]["per_image"]) for c in have))
    means = {}
    for c in have:
        vals = [rows[c]["per_image"][n][metric] for n in names if rows[c]["per_image"][n][metric] is not None]
        means[c] = float(np.mean(vals)) if vals else None
    complete = len(have) == len(configs) and not any(rows[c]["errors"] for c in have)
    return means, len(names), complete


def verdicts(res: dict, configs: dict) -> dict:
    """The issue's four targets for Knockout with two views against every peer config.

    Compared on the images every configuration has (all of them after a complete run).
    """
    ko, out = JUDGED, {}
    peers_ = [c for c, spec in configs.items() if spec["tool"] != "knockout"]
    with_masks = [c for c in peers_ if configs[c]["sources"]]
    for metric, label in (("bf", "BF higher than every peer"), ("mae", "MAE lower than every peer"),
                          ("iou", f"IoU not more than {IOU_SLACK} below the best peer")):
        rows, ok, complete = [], True, ko in configs and bool(with_masks)
        for src in SOURCES:
            means, n, full = on_common(res["sources"].get(src, {}), [ko, *with_masks], metric)
            complete &= full
            mine, theirs = means.get(ko), {c: v for c, v in means.items() if c != ko and v is not None}
            if mine is None or not theirs:
                continue
            best_c = (min if metric == "mae" else max)(theirs, key=theirs.get)
            best = theirs[best_c]
            hit = mine > best if metric == "bf" else mine < best if metric == "mae" else mine >= best - IOU_SLACK
            ok &= hit
            rows.append({"source": src, "images": n, "knockout": mine, "best_peer": best_c, "peer": best, "pass": hit})
        out[metric] = {"target": label, "pass": ok and complete, "complete": complete, "sources": rows}
    flat, n, full = on_common(res[COMPOSITES], [ko, *peers_], "flatten_error")
    mine, rembg = flat.get(ko), flat.get("rembg")
    theirs = {c: v for c, v in flat.items() if c != ko and v is not None}
    share = mine / rembg if mine is not None and rembg else None
    ok = full and mine is not None and bool(theirs) and all(mine < v for v in theirs.values())
    ok = ok and share is not None and share <= FLATTEN_SHARE
    out["flatten"] = {"target": f"flatten error lower than every peer config and <= {FLATTEN_SHARE:.0%} of rembg",
                      "pass": ok, "complete": full and "rembg" in flat, "images": n, "knockout": mine, "peers": theirs,
                      "share_of_rembg": share}
    return out


def report(res: dict, configs: dict) -> None:
    for src in [*SOURCES, COMPOSITES]:
        rows = res["sources"].get(src) if src != COMPOSITES else res[COMPOSITES]
        print(f"\n{src}" + (" (white-flatten error on 0..255 in the edge band)" if src == COMPOSITES else ""))
        head = f"  {'config':28s} {'n':>4s} {'IoU':>6s} {'MAE':>7s} {'BF':>6s}"
        print(head + ("  flatten  % of rembg  alpha only" if src == COMPOSITES else ""))
        for c in configs:
            r = (rows or {}).get(c)
            if r is None:
                note = "(alpha = rembg's: -dc only changes colours)" if not configs[c]["sources"] else "missing"
                print(f"  {c:28s} {note}")
                continue
            line = f"  {c:28s} {r['n']:4d} {fmt(r['iou'], 4):>6s} {fmt(r['mae'], 4):>7s} {fmt(r['bf'], 4):>6s}"
            if src == COMPOSITES:
                base = res[COMPOSITES].get("rembg", {}).get("flatten_error")
                pct = f"{100 * r['flatten_error'] / base:.0f} %" if base and r["flatten_error"] is not None else "-"
                line += f"  {fmt(r['flatten_error'], 2):>7s}  {pct:>9s}  {fmt(r.get('flatten_alpha_only'), 2):>10s}"
            print(line + (f"  ({len(r['errors'])} missing/failed)" if r["errors"] else ""))
    print(f"\nVerdict ({JUDGED} against every peer configuration):")
    for v in res["verdict"].values():
        state = "PASS" if v["pass"] else "MISS" if v["complete"] else "INCOMPLETE"
        print(f"  {state:10s} {v['target']}")
        for r in v.get("sources", []):
            mark = "ok  " if r["pass"] else "MISS"
            best = f"best peer {r['best_peer']} {r['peer']:.4f}"
            print(f"    {mark} {r['source']:30s} n={r['images']:<3d} knockout {r['knockout']:.4f}  {best}")
        if "share_of_rembg" in v and v["knockout"] is not None:
            share = f"{100 * v['share_of_rembg']:.0f} % of rembg default" if v["share_of_rembg"] else "-"
            peer_txt = ", ".join(f"{c} {x:.2f}" for c, x in v["peers"].items())
            print(f"    n={v['images']}: knockout {v['knockout']:.2f} = {share}; peers: {peer_txt}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--eval-dir", type=Path, default=REPO.parent / "shared" / "eval")
    ap.add_argument("--knockout-cmd", default=str(REPO / ".venv" / "bin" / "knockout"), help="command prefix")
    ap.add_argument("--knockout-args", action="append", default=[], metavar="ARGS",
                    help="extra knockout configuration, e.g. '--model isnet-small' (repeatable)")
    ap.add_argument("--only", action="append", metavar="CONFIG", help="run/score only these configurations")
    ap.add_argument("--skip", action="append", default=[], metavar="CONFIG", help="leave these configurations out")
    ap.add_argument("--no-run", action="store_true", help="run no tool: score the outputs already cached")
    ap.add_argument("--fresh", action="store_true", help="recompute every tool output")
    ap.add_argument("--no-unshare", action="store_true", help="do not cut the network with unshare -n")
    ap.add_argument("--seed", type=int, default=7, help="seed of the composite backgrounds")
    ap.add_argument("--json", type=Path, help="write every figure (per image too) to this file")
    a = ap.parse_args()
    if not a.eval_dir.is_dir():
        sys.exit(f"error: no evaluation data at {a.eval_dir} (see ../shared/eval/MANIFEST.md)")
    configs = peers.tool_configs(shlex.split(a.knockout_cmd), a.knockout_args)
    unknown = [c for c in (a.only or []) + a.skip if c not in configs]
    if unknown:
        ap.error(f"unknown configuration(s) {unknown}; known: {list(configs)}")
    chosen = [c for c in configs if (not a.only or c in a.only) and c not in a.skip]
    BENCH.mkdir(exist_ok=True)
    (BENCH / ".gitignore").write_text("*\n")
    comp_dir = peers.build_composites(a.eval_dir, BENCH / COMPOSITES, a.seed)
    subs = {} if a.no_run else peers.prepare({configs[c]["tool"] for c in chosen})
    prefix = ["unshare", "-n"] if not a.no_unshare and shutil.which("unshare") else []
    if prefix and subprocess.run([*prefix, "true"], capture_output=True).returncode != 0:
        prefix = []
    ko_code = code_digest()
    res: dict = {"sources": {s: {} for s in SOURCES}, COMPOSITES: {}, "errors": {}, "commands": {}}
    for c in chosen:
        spec = configs[c]
        jobs = [(COMPOSITES, comp_dir, spec["composites"])]
        jobs += [(s, a.eval_dir / s, spec["sources"]) for s in SOURCES if spec["sources"]]
        res["commands"][c] = {"sources": spec["sources"], "composites": spec["composites"]}
        print(f"{c}", flush=True)
        for src, src_dir, template in jobs:
            argv = [x for t in template for x in subs.get(t, [t])]
            out_dir = OUT / slug(c) / src
            inputs = [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in images_of(src_dir / "images")]
            key = digest(argv, inputs, ko_code if spec["tool"] == "knockout" else "")
            error = None if a.no_run else run_tool(argv, src_dir / "images", out_dir, key, prefix, a.fresh)
            if a.no_run and (out_dir / ".stamp.json").exists():  # score what is there, whatever the app's code
                key = json.loads((out_dir / ".stamp.json").read_text())["key"]
            if error:
                res["errors"][f"{c} / {src}"] = error
                print(f"    FAILED: {error}", flush=True)
            if out_dir.is_dir():
                r = score_folder(src_dir, out_dir, key)
                (res[COMPOSITES] if src == COMPOSITES else res["sources"][src])[c] = r
    res["verdict"] = verdicts(res, {c: configs[c] for c in chosen})
    report(res, {c: configs[c] for c in chosen})
    if a.json:
        a.json.write_text(json.dumps(res, indent=1) + "\n")
    return 1 if res["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
