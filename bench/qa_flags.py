"""How often each QA flag (app.core.qa) fires on ../shared/eval, per source: a false-alarm check.

Run from the repository root after bench/quality.py has cached knockout's masks:

    .venv/bin/python bench/qa_flags.py                      # knockout's masks (.bench/quality/knockout)
    .venv/bin/python bench/qa_flags.py --config knockout-punch-holes
    .venv/bin/python bench/qa_flags.py --ground-truth       # the true masks: what a perfect cutout raises

For each flagged file it prints the flags and the mask's IoU against the ground truth, so
a flag that fires on good cutouts (IoU near 1) shows up as a false alarm.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from app.core import metrics, qa  # noqa: E402

SOURCES = ["alphamatting_training_lowres", "grabcut", "davis345_subset", "coco_mval_products", "midv500_sample"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--eval-dir", type=Path, default=REPO.parent / "shared" / "eval")
    ap.add_argument("--config", default="knockout", help="folder under .bench/quality with the masks")
    ap.add_argument("--ground-truth", action="store_true", help="assess the ground-truth masks instead")
    ap.add_argument("-v", "--verbose", action="store_true", help="list every flagged file")
    a = ap.parse_args()
    total, n, seconds = Counter(), 0, []
    for src in SOURCES:
        counts, m = Counter(), 0
        for image in sorted((a.eval_dir / src / "images").iterdir()):
            truth = a.eval_dir / src / "masks" / f"{image.stem}.png"
            mask = truth if a.ground_truth else REPO / ".bench" / "quality" / a.config / src / f"{image.stem}.png"
            if not mask.exists():
                continue
            with Image.open(image) as im, Image.open(mask) as mk, Image.open(truth) as gt:
                photo, alpha = im.convert("RGB"), mk.getchannel("A") if "A" in mk.getbands() else mk.convert("L")
                true = metrics.as_alpha(np.asarray(gt.convert("L")))
            started = time.perf_counter()
            flags = qa.assess_images(photo, alpha)
            seconds.append(time.perf_counter() - started)
            m += 1
            counts.update(f.code for f in flags)
            if flags and a.verbose:
                iou = metrics.iou(metrics.as_alpha(np.asarray(alpha)), true)
                print(f"  {src[:12]:12s} {image.stem:28s} IoU {iou:.3f}  {', '.join(f.code for f in flags)}")
        print(f"{src:30s} n={m:3d}  " + "  ".join(f"{k} {v}" for k, v in sorted(counts.items())))
        total.update(counts)
        n += m
    rates = "  ".join(f"{k} {v} ({100 * v / max(n, 1):.0f} %)" for k, v in sorted(total.items()))
    print(f"{'all':30s} n={n:3d}  {rates}")
    if seconds:
        print(f"assess: mean {1000 * np.mean(seconds):.0f} ms, max {1000 * np.max(seconds):.0f} ms per image")
    return 0


if __name__ == "__main__":
    sys.exit(main())
