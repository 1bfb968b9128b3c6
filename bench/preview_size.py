"""Which input size for the window's quick first look (app/inference/preview.py)?

For each eval set in ../shared/eval and each square input size, the model's answer at that
size goes through the same mask recipe as the full answer (``alpha_for``), and is scored
against the ground truth (IoU, MAE, boundary F) and against the full 1024² answer (IoU, MAE);
the model time per size is timed on the bundled sample at 12 MP. Prints one table.

    .venv/bin/python bench/preview_size.py [--model isnet-medium-int8] [--per-set 8] [--sizes 384 512 640 768 1024]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import paths  # noqa: E402
from app.batch.pipeline import MaskOptions, alpha_for  # noqa: E402
from app.core import metrics  # noqa: E402
from app.core.decode import open_image  # noqa: E402
from app.evaluation.pairs import load_mask, match  # noqa: E402
from app.inference.engine import Engine  # noqa: E402

EVAL = ROOT.parent / "shared" / "eval"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None)
    parser.add_argument("--per-set", type=int, default=8, help="photos per eval set (0: all)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[384, 512, 640, 768, 1024])
    parser.add_argument("--eval", type=Path, default=EVAL)
    args = parser.parse_args()
    engine = Engine(model=args.model)
    engine.load()
    sample = open_image(paths.sample_photo()).image.resize((4000, 3000))
    seconds = {}
    for side in args.sizes:
        tensor = engine.prepare(sample, size=(side, side))
        engine.infer(tensor)
        runs = []
        for _ in range(3):
            t0 = time.perf_counter()
            engine.infer(engine.prepare(sample, size=(side, side)))
            runs.append(time.perf_counter() - t0)
        seconds[side] = statistics.median(runs)
    scores: dict[int, list[tuple[float, float, float, float, float]]] = {side: [] for side in args.sizes}
    options = MaskOptions()
    for folder in sorted(p for p in args.eval.iterdir() if (p / "images").is_dir()):
        pairs = match(folder / "images", folder / "masks").pairs
        pairs = pairs[: args.per_set] if args.per_set else pairs
        for pair in pairs:
            decoded = open_image(pair.image)
            gt = load_mask(pair.mask, decoded.size).astype(np.float32) / 255.0
            full = None
            answers = {}
            for side in sorted(args.sizes, reverse=True):
                prob = engine.infer(engine.prepare(decoded.image, size=(side, side)))
                answers[side] = metrics.as_alpha(alpha_for(decoded, prob, options))
            full = answers[max(args.sizes)]
            for side, pred in answers.items():
                scores[side].append((metrics.iou(pred, gt), metrics.mae(pred, gt), metrics.boundary_f(pred, gt),
                                     metrics.iou(pred, full), metrics.mae(pred, full)))
        print(f"  {folder.name}: {len(pairs)} photos", file=sys.stderr)
    n = len(scores[args.sizes[0]])
    print(f"model {engine.spec.id}, {n} eval photos, model time per 12 MP photo (median of 3)")
    print(f"{'input':>8}{'model s':>9}{'IoU':>8}{'MAE':>8}{'BF':>8}{'IoU vs full':>13}{'MAE vs full':>13}")
    for side in args.sizes:
        cols = np.array(scores[side]).mean(axis=0)
        print(f"{side:>6}²{seconds[side]:>9.2f}{cols[0]:>8.3f}{cols[1]:>8.4f}{cols[2]:>8.3f}{cols[3]:>13.3f}{cols[4]:>13.4f}")


if __name__ == "__main__":
    main()
