"""Mask clean-up (app.core.cleanup) scored on knockout's cached outputs, without running the model.

The clean-ups are a pure function of the photo and the final mask, so applying them to the
masks bench/quality.py cached for the plain `knockout` configuration gives exactly what
`knockout cut --punch-holes` (etc.) writes, in seconds instead of an hour of inference on
a shared machine. Run from the repository root after bench/quality.py:

    .venv/bin/python bench/cleanup_offline.py
    .venv/bin/python bench/cleanup_offline.py --source composites -v

Per source and variant: mean IoU, MAE, boundary F, white-flatten error (composites), how
many images the variant changed, and its time per image.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quality import BENCH, COMPOSITES, OUT, SOURCES, read_output

from app.core import cleanup, metrics  # quality.py put the repository on the path
from app.evaluation.pairs import load_mask, match

VARIANTS = {
    "as cached": {},
    "specks": {"specks": True},
    "punch-holes": {"holes": True},
    "specks + punch-holes": {"specks": True, "holes": True},
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--eval-dir", type=Path, default=BENCH.parent.parent / "shared" / "eval")
    ap.add_argument("--config", default="knockout", help="cached configuration to start from")
    ap.add_argument("--source", action="append", help="only these sources (default: all and composites)")
    ap.add_argument("-v", "--verbose", action="store_true", help="list the images each variant changed")
    a = ap.parse_args()
    for src in a.source or [*SOURCES, COMPOSITES]:
        src_dir = BENCH / COMPOSITES if src == COMPOSITES else a.eval_dir / src
        ignore = src_dir / "ignore" if (src_dir / "ignore").is_dir() else None
        fg = src_dir / "fg" if (src_dir / "fg").is_dir() else None
        scores = {v: [] for v in VARIANTS}
        changed = {v: [] for v in VARIANTS}
        seconds = {v: 0.0 for v in VARIANTS}
        for pair in match(src_dir / "images", src_dir / "masks", ignore, fg).pairs:
            out = OUT / a.config / src / f"{pair.image.stem}.png"
            if not out.exists():
                continue
            with Image.open(pair.image) as im:
                photo = im.convert("RGB")
            gt = metrics.as_alpha(load_mask(pair.mask, photo.size))
            valid = load_mask(pair.ignore, photo.size) < 255 if pair.ignore else None
            pred, rgb = read_output(out, photo.size)
            true_fg = np.asarray(Image.open(pair.fg).convert("RGB")) if pair.fg and rgb is not None else None
            cached = Image.fromarray(np.round(pred * 255).astype(np.uint8), "L")
            for name, options in VARIANTS.items():
                started = time.perf_counter()
                alpha = cleanup.clean(photo, cached, **options)
                seconds[name] += time.perf_counter() - started
                arr = np.asarray(alpha)
                scores[name].append(metrics.score(metrics.as_alpha(arr), gt, valid, rgb, true_fg))
                if options and not np.array_equal(arr, np.asarray(cached)):
                    changed[name].append(pair.name)
        if not scores["as cached"]:
            print(f"{src}: no cached outputs under {OUT / a.config / src}")
            continue
        print(f"\n{src} (n={len(scores['as cached'])})")
        print(f"  {'variant':22s} {'IoU':>7s} {'MAE':>7s} {'BF':>7s} {'flatten':>8s} {'changed':>8s} {'ms/img':>7s}")
        for name, rows in scores.items():
            flat = [s.flatten_error for s in rows if s.flatten_error is not None]
            flat_txt = f"{np.mean(flat):8.2f}" if flat else f"{'-':>8s}"
            print(f"  {name:22s} {np.mean([s.iou for s in rows]):7.4f} {np.mean([s.mae for s in rows]):7.4f} "
                  f"{np.mean([s.bf for s in rows]):7.4f} {flat_txt} {len(changed[name]):8d} "
                  f"{1000 * seconds[name] / len(rows):7.1f}")
            if a.verbose and changed[name]:
                print(f"    changed: {', '.join(changed[name])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
