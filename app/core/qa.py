"""Mask QA: which cutouts of a batch of hundreds need a person to look at them.

Each check looks at the final mask (and the photo) for one typical way a cutout goes
wrong, and says so in words a merchandiser understands. The checks are tuned so that a
clean cutout raises nothing: a flag that fires on good cutouts teaches people to ignore
flags. Everything runs on a copy shrunk to ~768 pixels (``cleanup.WORK_SIDE``), so a 12 MP
photo costs about a tenth of a second.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
from PIL import Image

from app.core import backdrop
from app.core.cleanup import downscale, find_holes
from app.core.components import label
from app.core.morphology import grow, shrink
from app.core.refine import box_mean

# touches-edge: the longest run of solid subject along a side, as a share of that side
EDGE_SHARE = 0.04
# low-confidence: uncertain pixels per pixel of outline (the mean width of the unsure band,
# at the working size), and their share of the subject's area. On ../shared/eval
# (bench/qa_flags.py) no ground-truth mask reaches it (the widest true soft edge, doll
# hair, is 4.9) and the knockout masks it flags have mean IoU 0.67 against 0.88 unflagged.
UNSURE_WIDTH, UNSURE_SHARE = 6.0, 0.2
# multiple-subjects: a part counts if it is this share of the largest and of the frame
PART_OF_LARGEST, PART_OF_FRAME = 0.15, 0.004
# halo: colour distances on 0..255 RGB
HALO_CONTRAST = 60.0  # subject and background must differ this much for a rim to be visible
HALO_SHARE = 0.4  # share of the visible outline that looks like background
HALO_T = 0.35  # rim colour this close to the background's end of the background→subject line
HALO_MIN_PX = 30
LOCAL = 8  # window radius (px at the working size) for local subject/background colours
# left-out: on a plain backdrop (app.core.backdrop), cut-away pixels next to the subject (within
# LEFT_OUT_BAND of the diagonal) whose colour leaves the backdrop's colour direction (a shadow,
# the same colour darker, does not), for LEFT_OUT_SHARE of the subject's area. Of the photos
# judged to have a backdrop (.bench/research/exp18b.py: 6 of grabcut's 50, 77 of the 135
# composites, none of alphamatting, davis or coco), no ground-truth mask reaches 0.2 (highest
# 0.15); knockout's masks reach it on 13 composites, where the model dropped hair, petals, yarn.
LEFT_OUT_BAND, LEFT_OUT_SHARE = 0.05, 0.2
LEFT_OUT_SIDE = 256  # the check runs on a copy this size: its shares do not need more

SIDES = ("top", "bottom", "left", "right")


@dataclass(frozen=True)
class Flag:
    """One reason to look at a cutout: a stable ``code`` for programs, a ``message`` for people."""

    # "halo" | "filled-hole" | "touches-edge" | "low-confidence" | "multiple-subjects" | "left-out",
    # and the source's (app.core.source_quality.CODES)
    code: str
    message: str
    # where it is: bool pixels at the size the check ran at (app.core.flag_marks draws them), None: nowhere
    region: np.ndarray | None = field(default=None, compare=False, repr=False)
    # the message's numbers and places, so the window can say it in another language (ui/js/messages.js);
    # "variant" picks one of a code's sentences
    params: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.params:
            out["params"] = dict(self.params)
        return out


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _place(ys: np.ndarray, xs: np.ndarray, shape: tuple[int, ...]) -> str:
    """'top-left', 'middle'...: where the spot is, as a code the window words in its language."""
    h, w = shape[:2]
    row = ("top", "", "bottom")[min(2, int(3 * ys.mean() / h))]
    col = ("left", "", "right")[min(2, int(3 * xs.mean() / w))]
    return "-".join(p for p in (row, col) if p) or "middle"


def _where(ys: np.ndarray, xs: np.ndarray, shape: tuple[int, ...]) -> str:
    """'near the top left', 'in the middle'... for a person looking for the spot."""
    place = _place(ys, xs, shape)
    return "in the middle" if place == "middle" else f"near the {place.replace('-', ' ')}"


def _longest_run(line: np.ndarray) -> int:
    """Length of the longest run of True in a 1-D boolean array."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], line.view(np.int8), [0]])))
    return int((edges[1::2] - edges[0::2]).max()) if edges.size else 0


def touches_edge(alpha: np.ndarray) -> Flag | None:
    """The solid subject runs along one or more sides of the frame for a real share (``EDGE_SHARE``) of it.

    A run, not a count: a few stray pixels along a side are not a cut-off subject.
    """
    solid = alpha >= 0.9
    sides = {"top": solid[0], "bottom": solid[-1], "left": solid[:, 0], "right": solid[:, -1]}
    hit = [s for s in SIDES if _longest_run(sides[s]) >= EDGE_SHARE * sides[s].size]
    if not hit:
        return None
    edges = "edge" if len(hit) == 1 else "edges"
    region = np.zeros_like(solid)
    for side, index in (("top", np.s_[0]), ("bottom", np.s_[-1]), ("left", np.s_[:, 0]), ("right", np.s_[:, -1])):
        if side in hit:
            region[index] = solid[index]
    return Flag("touches-edge", f"The subject touches the {_join(hit)} {edges} of the photo: it may be cut off "
                                "(fine if the photo was framed that way on purpose).", region,
                {"sides": hit, "count": len(hit)})


def low_confidence(alpha: np.ndarray) -> Flag | None:
    """Far more half-transparent pixels than a normal soft edge of this outline's length."""
    subject = alpha >= 0.5
    area = int(subject.sum())
    if area == 0:
        return None
    outline = int((subject & ~shrink(subject, 1)).sum())
    band = (alpha > 0.1) & (alpha < 0.9)
    unsure = int(band.sum())
    if unsure / max(outline, 1) < UNSURE_WIDTH or unsure / area < UNSURE_SHARE:
        return None
    return Flag("low-confidence", "The model was unsure about a large part of this cutout (a wide half-transparent "
                                  "band): check hair, fur, glass or anything see-through.", band)


def multiple_subjects(alpha: np.ndarray) -> Flag | None:
    """Two or more separate solid parts, each a real share of the largest one."""
    parts = label(alpha >= 0.5)
    if parts.count < 2:
        return None
    areas = parts.areas
    keep = (areas >= PART_OF_LARGEST * areas.max()) & (areas >= PART_OF_FRAME * alpha.size)  # label 0: area 0
    if keep.sum() < 2:
        return None
    return Flag("multiple-subjects", f"The cutout has {int(keep.sum())} separate subjects: check that each one belongs "
                                     "and none is left-over background.", parts.mask(keep),
                {"count": int(keep.sum())})


def filled_hole(rgb: np.ndarray, alpha: np.ndarray) -> Flag | None:
    """An enclosed, background-coloured region that the mask keeps opaque (the gap inside a mug handle)."""
    holes = find_holes(rgb, alpha)
    if holes is None:
        return None
    ys, xs = np.nonzero(holes.mask)
    gaps = "A gap inside the subject looks" if holes.count == 1 else f"{holes.count} gaps inside the subject look"
    return Flag("filled-hole", f"{gaps} like the background but {'was' if holes.count == 1 else 'were'} kept "
                               f"({_where(ys, xs, alpha.shape)}), e.g. the space inside a handle: "
                               "it may need to be cut out.", holes.mask,
                {"count": holes.count, "where": _place(ys, xs, alpha.shape)})


def halo(rgb: np.ndarray, alpha: np.ndarray) -> Flag | None:
    """The mask's outer rim is background-coloured where subject and background clearly differ.

    The rim skips the outermost pixel (always a mix of both colours, even in a perfect
    mask) and looks 2-3 pixels in: a mask that overshoots the subject keeps the old
    background there. Each rim pixel is placed on the line from the local background
    colour (0) to the local subject colour (1); below ``HALO_T`` it is background.
    """
    subject = alpha >= 0.5
    outside_near = grow(~subject, 3) & ~grow(~subject, 1)
    rim = (alpha >= 0.8) & outside_near
    interior = shrink(alpha >= 0.95, 4)
    clear = alpha <= 0.05
    if rim.sum() < HALO_MIN_PX or not interior.any() or not clear.any():
        return None
    # local colours only where the rim is (its bounding box, plus the window)
    ys, xs = np.nonzero(rim)
    box = np.s_[max(0, ys.min() - LOCAL - 1):ys.max() + LOCAL + 2, max(0, xs.min() - LOCAL - 1):xs.max() + LOCAL + 2]
    shape = rim.shape
    rgb, rim, interior, clear = rgb[box], rim[box], interior[box], clear[box]
    stacked = np.concatenate([rgb * interior[..., None], rgb * clear[..., None],
                              interior[..., None], clear[..., None]], axis=-1)
    means = box_mean(stacked, LOCAL, np.float32)  # float32 is plenty for a 17-pixel window
    weights = means[..., 6:]
    inside = means[..., :3] / np.maximum(weights[..., :1], 1e-6)
    outside = means[..., 3:6] / np.maximum(weights[..., 1:], 1e-6)
    direction = inside - outside
    contrast = np.sqrt((direction ** 2).sum(axis=-1))
    visible = rim & (weights[..., 0] > 0.02) & (weights[..., 1] > 0.02) & (contrast >= HALO_CONTRAST)
    n_visible = int(visible.sum())
    if n_visible < HALO_MIN_PX:
        return None
    position = ((rgb - outside) * direction).sum(axis=-1) / np.maximum(contrast ** 2, 1e-6)
    band = visible & (position < HALO_T)
    rim_bg = int(band.sum())
    share = rim_bg / n_visible
    if share < HALO_SHARE or rim_bg < HALO_MIN_PX:
        return None
    region = np.zeros(shape, bool)
    region[box] = band
    return Flag("halo", f"A rim of the old background runs along about {100 * share:.0f} % of the outline: it may "
                        "show when the cutout is placed on white or another colour.", region,
                {"percent": round(100 * share)})


def left_out(rgb: np.ndarray, alpha: np.ndarray) -> Flag | None:
    """On a plain backdrop, something beside the subject that is not backdrop was cut away.

    The model sometimes drops a whole part (a plant's leaves, a toy's hair, a strap). On a
    seamless or coloured backdrop that part stands out: count cut-away pixels near the subject
    whose colour leaves the backdrop's colour direction. Busy backgrounds are not judged.
    """
    factor = -(-max(alpha.shape) // LEFT_OUT_SIDE)
    if factor > 1:  # area means, so shares of pixels stay what they were
        h, w = (alpha.shape[0] // factor) * factor, (alpha.shape[1] // factor) * factor
        rgb = rgb[:h, :w].reshape(h // factor, factor, w // factor, factor, 3).mean(axis=(1, 3))
        alpha = alpha[:h, :w].reshape(h // factor, factor, w // factor, factor).mean(axis=(1, 3))
    subject = alpha >= 0.5
    area = int(subject.sum())
    found = backdrop.fit(rgb, alpha) if area else None
    if found is None:
        return None
    off = np.linalg.norm(found.across(rgb), axis=-1) > max(3 * found.noise, backdrop.CHROMA)
    near = grow(subject, max(2, round(LEFT_OUT_BAND * float(np.hypot(*alpha.shape)))))
    odd = (alpha < 0.5) & near & off
    if odd.sum() < LEFT_OUT_SHARE * area:
        return None
    ys, xs = np.nonzero(odd)
    return Flag("left-out", f"Part of the subject may be missing: something beside it ({_where(ys, xs, alpha.shape)}), "
                            f"about {100 * odd.sum() / area:.0f} % of its size, does not look like the plain "
                            "background but was cut away.", odd,
                {"where": _place(ys, xs, alpha.shape), "percent": round(100 * odd.sum() / area)})


def left_out_of(photo: Image.Image, alpha: Image.Image) -> Flag | None:
    """``left_out`` for Pillow images at any size (what automatic recovery asks before it acts)."""
    small_rgb, small_alpha = downscale(photo, alpha.convert("L"))
    return left_out(small_rgb, small_alpha)


def assess(rgb: np.ndarray, alpha: np.ndarray) -> list[Flag]:
    """rgb uint8 HxWx3, alpha uint8 HxW at full resolution (the final mask)."""
    return assess_images(Image.fromarray(np.ascontiguousarray(rgb[..., :3], np.uint8), "RGB"),
                         Image.fromarray(np.ascontiguousarray(alpha, np.uint8), "L"))


def assess_images(photo: Image.Image, alpha: Image.Image) -> list[Flag]:
    """``assess`` for Pillow images (the pipeline's), shrunk before any array is made."""
    if alpha.mode != "L":
        alpha = alpha.convert("L")
    if cast(int, alpha.getextrema()[1]) < 128:
        return [Flag("low-confidence", "Nothing was kept: the model found no clear subject in this photo.",
                     params={"variant": "empty"})]
    small_rgb, small_alpha = downscale(photo, alpha)
    flags = [
        halo(small_rgb, small_alpha),
        filled_hole(small_rgb, small_alpha),
        touches_edge(small_alpha),
        low_confidence(small_alpha),
        multiple_subjects(small_alpha),
        left_out(small_rgb, small_alpha),
    ]
    return [f for f in flags if f is not None]
