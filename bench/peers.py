"""Peer tools and test images for bench/quality.py: IMG.LY node set-up, tool commands, composites.

rembg is set up exactly as bench/throughput.py does (its setup_rembg is reused). IMG.LY's
@imgly/background-removal-node 1.4.5 goes to .bench/imgly (npm install --ignore-scripts: the
install scripts of sharp 0.32 and onnxruntime-node try to download; the CPU binaries ship in the
packages, and sharp is pinned to 0.33.5 by an override).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from throughput import BENCH, REPO, setup_rembg

IMGLY_VERSION = "1.4.5"
IMGLY_DIR = BENCH / "imgly"
# removeBackground returns the photo with the mask as alpha. 1.4.5 has no mask output type, and its
# segmentForeground (the mask as a PNG) writes every pixel shifted by one byte (R=G=previous alpha,
# B=255), so the mask is taken from the alpha channel of the foreground PNG instead. Its own PNG
# encoder passes `quality` (default 0.8) to sharp, which makes a 256-colour palette PNG (colours and
# alpha quantised together), so the raw RGBA (image/x-rgba8) is taken and written as a lossless PNG.
IMGLY_SCRIPT = """\
import { removeBackground } from '@imgly/background-removal-node';
import sharp from 'sharp';
import { existsSync, mkdirSync, readdirSync, renameSync } from 'node:fs';
import { join, parse, resolve } from 'node:path';
const [inDir, outDir] = process.argv.slice(2);
// the default publicPath is file://<cwd>/node_modules/...: only right when run from .bench/imgly
const publicPath = new URL('./node_modules/@imgly/background-removal-node/dist/', import.meta.url).href;
mkdirSync(outDir, { recursive: true });
const names = readdirSync(inDir).filter((n) => /\\.(png|jpe?g)$/i.test(n)).sort();
for (const name of names) {
  const out = join(outDir, parse(name).name + '.png');
  if (existsSync(out)) continue;
  const blob = await removeBackground('file://' + resolve(inDir, name),
    { model: 'medium', output: { format: 'image/x-rgba8' }, publicPath });
  const width = Number(/width=(\\d+)/.exec(blob.type)[1]), height = Number(/height=(\\d+)/.exec(blob.type)[1]);
  const raw = Buffer.from(await blob.arrayBuffer());
  await sharp(raw, { raw: { width, height, channels: 4 } }).png().toFile(out + '.part');
  renameSync(out + '.part', out);
  console.log(name);
}
"""
FLATS = {"green": (0, 200, 40), "grey": (128, 128, 128), "blue": (20, 35, 110)}
BUSY = ("photo", "texture")


def setup_imgly() -> list[str]:
    """npm-install IMG.LY node once into .bench/imgly; the command prefix `node script.mjs`."""
    IMGLY_DIR.mkdir(parents=True, exist_ok=True)
    package = {"name": "knockout-bench-imgly", "private": True,
               "dependencies": {"@imgly/background-removal-node": IMGLY_VERSION}, "overrides": {"sharp": "0.33.5"}}
    pkg = IMGLY_DIR / "package.json"
    if not pkg.exists() or json.loads(pkg.read_text()) != package:
        pkg.write_text(json.dumps(package, indent=2) + "\n")
    installed = IMGLY_DIR / "node_modules" / "@imgly" / "background-removal-node" / "package.json"
    if not installed.exists() or json.loads(installed.read_text())["version"] != IMGLY_VERSION:
        print("+ npm install --ignore-scripts (in .bench/imgly)", flush=True)
        subprocess.run(["npm", "install", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=IMGLY_DIR, check=True)
    script = IMGLY_DIR / "cutout.mjs"
    if not script.exists() or script.read_text() != IMGLY_SCRIPT:
        script.write_text(IMGLY_SCRIPT)
    return ["node", str(script)]


def tool_configs(knockout: list[str], extra_knockout: list[str]) -> dict[str, dict]:
    """name -> {"tool", "sources": argv or None, "composites": argv}; IN and OUT are placeholders.

    "sources" writes masks (or RGBA whose alpha is the mask), "composites" writes RGBA cutouts.
    rembg -dc only changes colours (its alpha is the default's; -om ignores -dc and -a), so its
    masks are not recomputed: it has no source rows, only a flatten error.
    """
    configs: dict[str, dict] = {}
    for args in ["--views 2", "", "--no-refine-edges --no-decontaminate", *extra_knockout]:
        flags = args.split()
        name = "knockout" + (f" {args}" if args else "")
        configs[name] = {"tool": "knockout", "sources": [*knockout, "cut", "IN", "--mask-only", *flags, "-o", "OUT"],
                         "composites": [*knockout, "cut", "IN", *flags, "-o", "OUT"]}
    rembg = [str(BENCH / "rembg-venv" / "bin" / "rembg"), "p", "-m", "dis_custom", "-x",
             json.dumps({"model_path": str(Path.home() / ".rembg" / "isnet_medium.onnx")})]
    configs["rembg"] = {"tool": "rembg", "sources": [*rembg, "-om", "IN", "OUT"], "composites": [*rembg, "IN", "OUT"]}
    configs["rembg -dc"] = {"tool": "rembg", "sources": None, "composites": [*rembg, "-dc", "IN", "OUT"]}
    configs["rembg -a"] = {"tool": "rembg", "sources": [*rembg, "-a", "IN", "OUT"],
                           "composites": [*rembg, "-a", "IN", "OUT"]}
    configs["imgly"] = {"tool": "imgly", "sources": ["IMGLY", "IN", "OUT"], "composites": ["IMGLY", "IN", "OUT"]}
    return configs


def prepare(tools: set[str]) -> dict[str, list[str]]:
    """Set up the peers in use; placeholders to substitute in their commands."""
    subs: dict[str, list[str]] = {}
    if "rembg" in tools:
        setup_rembg(REPO / "models" / "isnet-medium-fp16.onnx")
    if "imgly" in tools:
        subs["IMGLY"] = setup_imgly()
    return subs


def _link(src: Path, dest: Path) -> None:
    if dest.exists():
        return
    try:
        os.link(src, dest)
    except OSError:
        shutil.copy2(src, dest)


def _cover(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Scale to cover `size`, then centre-crop to it."""
    scale = max(size[0] / img.width, size[1] / img.height)
    w, h = max(size[0], round(img.width * scale)), max(size[1], round(img.height * scale))
    big = img.convert("RGB").resize((w, h), Image.Resampling.LANCZOS)
    x, y = (w - size[0]) // 2, (h - size[1]) // 2
    return big.crop((x, y, x + size[0], y + size[1]))


def _background(kind: str, size: tuple[int, int], rng: np.random.Generator, photos: list[Path]) -> np.ndarray:
    w, h = size
    if kind in FLATS:
        return np.broadcast_to(np.array(FLATS[kind], np.float32), (h, w, 3))
    if kind == "photo":  # a crop of another eval photo (DAVIS scenes: busy, unrelated to the object)
        with Image.open(photos[int(rng.integers(len(photos)))]) as im:
            return np.asarray(_cover(im, size), np.float32)
    # texture: smooth colour blobs, hard stripes and fine noise
    blobs = Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)).resize(size, Image.Resampling.BICUBIC)
    yy, xx = np.mgrid[0:h, 0:w]
    stripes = ((xx + yy) // int(rng.integers(6, 14)) % 2).astype(np.float32)[..., None] * 70 - 35
    noise = rng.normal(0, 18, (h, w, 3))
    return np.clip(np.asarray(blobs, np.float32) + stripes + noise, 0, 255)


def build_composites(eval_dir: Path, out: Path, seed: int) -> Path:
    """The 27 alphamatting objects over 3 flat colours and 2 busy backgrounds, built once (seeded).

    images/ the composite fg·α + bg·(1−α), masks/ the ground-truth alpha, fg/ the photo itself (the
    foreground colour layer). Returns `out`.
    """
    src = eval_dir / "alphamatting_training_lowres"
    photos = sorted((eval_dir / "davis345_subset" / "images").iterdir())
    stems = sorted(p.stem for p in (src / "masks").glob("*.png"))
    kinds = [*FLATS, *BUSY]
    if (out / "images").is_dir() and len(list((out / "images").glob("*.png"))) == len(stems) * len(kinds):
        return out
    for sub in ("images", "masks", "fg"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for stem in stems:
        photo = next(p for p in (src / "images").iterdir() if p.stem == stem)
        with Image.open(photo) as im:
            fg = np.asarray(im.convert("RGB"), np.float32)
        with Image.open(src / "masks" / f"{stem}.png") as im:
            alpha = np.asarray(im.convert("L"), np.float32)[..., None] / 255
        for kind in kinds:
            bg = _background(kind, (fg.shape[1], fg.shape[0]), rng, photos)
            comp = np.clip(fg * alpha + bg * (1 - alpha) + 0.5, 0, 255).astype(np.uint8)
            name = f"{stem}_{kind}.png"
            Image.fromarray(comp).save(out / "images" / name)
            _link(src / "masks" / f"{stem}.png", out / "masks" / name)
            if photo.suffix.lower() == ".png":
                _link(photo, out / "fg" / name)
            else:
                Image.fromarray(fg.astype(np.uint8)).save(out / "fg" / name)
    print(f"built {len(stems) * len(kinds)} composites in {out}", flush=True)
    return out
