"""Huge-image benchmark: one 10000x10000 photo-like JPEG through `knockout cut` to PNG.

Run from the repository root:

    .venv/bin/python bench/huge.py                 # 10000x10000, default model
    .venv/bin/python bench/huge.py --size 6000 --model isnet-small

The JPEG (q90) is built once in .bench/ (git-ignored): smooth seeded gradients and blobs
plus noise, so it compresses and decodes like a photo rather than a flat test card. It
prints the wall time of the whole command (start-up and model load included) and its peak
RSS: ru_maxrss from os.wait4, taken by a tiny launcher process because a child spawned by
vfork (subprocess, posix_spawn) inherits its parent's peak RSS (see bench/throughput.py).
The target is a peak RSS of at most 3 GB.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from throughput import BENCH, LAUNCHER, REPO  # the same peak-RSS launcher as the throughput benchmark

TARGET_RSS_MB = 3000
Image.MAX_IMAGE_PIXELS = None  # our own 100 MP output is not a decompression bomb


def build_photo(side: int, seed: int = 7) -> Path:
    """A side x side photo-like JPEG: a bright blob 'subject' over a soft gradient, plus grain."""
    BENCH.mkdir(exist_ok=True)
    if not (BENCH / ".gitignore").exists():
        (BENCH / ".gitignore").write_text("*\n")
    path = BENCH / f"huge_{side}.jpg"
    if path.exists():
        return path
    rng = np.random.default_rng(seed)
    small = 500  # composed at low resolution, upscaled smoothly, then grain added per row band
    y, x = np.mgrid[0:small, 0:small].astype(np.float32) / small
    base = np.stack([60 + 80 * x, 70 + 60 * y, 90 + 40 * (1 - x)], axis=-1)
    for _ in range(6):
        cx, cy, r = rng.uniform(0.25, 0.75), rng.uniform(0.25, 0.75), rng.uniform(0.05, 0.2)
        blob = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * r * r))[..., None]
        base = base * (1 - blob) + rng.uniform(150, 250, 3) * blob
    img = Image.fromarray(base.clip(0, 255).astype(np.uint8), "RGB").resize((side, side), Image.Resampling.BICUBIC)
    band = 1000
    for top in range(0, side, band):
        h = min(band, side - top)
        tile = np.asarray(img.crop((0, top, side, top + h)), np.int16)
        noise = rng.normal(0, 4, tile.shape).astype(np.int16)
        img.paste(Image.fromarray((tile + noise).clip(0, 255).astype(np.uint8), "RGB"), (0, top))
    img.save(path, quality=90)
    return path


def measure(cmd: list[str]) -> tuple[float, int, int]:
    """(wall seconds, exit code, peak RSS in KB) of ``cmd``."""
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "result.json"
        subprocess.run([sys.executable, "-c", LAUNCHER, str(result), *cmd], check=False)
        wall, code, rss_kb = json.loads(result.read_text())
    return wall, code, rss_kb


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=10000, help="side of the square photo (default 10000)")
    ap.add_argument("--model", default=None, help="model id (default: the bundled default)")
    ap.add_argument("--format", default="png", help="output format (default png)")
    a = ap.parse_args()
    src = build_photo(a.size)
    out = BENCH / "huge-out"
    shutil.rmtree(out, ignore_errors=True)
    exe = REPO / ".venv" / "bin" / "knockout"
    cmd = [str(exe), "cut", str(src), "-o", str(out), "--format", a.format, "-q"]
    if a.model:
        cmd += ["--model", a.model]
    print(f"input: {src} ({a.size}x{a.size}, {src.stat().st_size / 1e6:.1f} MB)", flush=True)
    wall, code, rss_kb = measure(cmd)
    written = sorted(out.glob("[!.]*"))  # not the batch journal
    if code != 0 or len(written) != 1:
        print(f"error: knockout exited {code} and wrote {[p.name for p in written]}", file=sys.stderr)
        return 1
    with Image.open(written[0]) as im:
        size, mode = im.size, im.mode
    rss_mb = rss_kb / 1024
    verdict = "OK" if rss_mb <= TARGET_RSS_MB else "OVER"
    print(f"output: {written[0].name} {size[0]}x{size[1]} {mode}, {written[0].stat().st_size / 1e6:.1f} MB")
    print(f"wall {wall:.1f} s · peak RSS {rss_mb:.0f} MB (target ≤ {TARGET_RSS_MB} MB: {verdict})")
    return 0 if verdict == "OK" else 1


if __name__ == "__main__":
    sys.exit(main())
