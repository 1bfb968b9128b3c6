"""Whole-mask fixes the window's page asks for (Punch holes, Recover parts): the pipeline's mask
recipe steps run on a document's mask as it is, as one undoable edit, then the quality checks
again. Only the job runner's worker calls ``apply``, never a js_api thread (app.desktop.jobs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from app.batch.pipeline import MaskOptions, fix_mask
from app.core import qa, source_quality
from app.desktop.document import Document


@dataclass(frozen=True)
class MaskFix:
    """One fix: the recipe's steps it runs (app.batch.pipeline.fix_mask), and what to say when it changes nothing."""

    options: MaskOptions
    unchanged: tuple[str, str]  # (code, message)


FIXES = {
    "punch_holes": MaskFix(MaskOptions(punch_holes=True).fixes_only(), (
        "no-holes", "No enclosed gaps showing the background were found in this cutout.")),
    "recover_parts": MaskFix(MaskOptions(recover_parts=True).fixes_only(), (
        "nothing-left-out", "Nothing beside the subject stands out from the plain background.")),
}


def apply(doc: Document, kind: str) -> dict[str, Any]:
    """Fix ``doc``'s mask; the answer the page gets, as a stroke's: ``{kind, ok, version, can_undo,
    can_redo, box}``, or ``{kind, ok: false, error: {code, message}}`` when it changes nothing.
    A fix that cannot be done raises (NoPlainBackdrop, say): the job runner answers that."""
    fix = FIXES[kind]
    with doc.lock:
        fixed = fix_mask(doc.rgb(), Image.fromarray(doc.alpha(), "L"), fix.options, strict=True)
        edit = doc.replace_mask(np.asarray(fixed, dtype=np.uint8))
    if edit["box"] is None:
        code, message = fix.unchanged
        return {"kind": kind, "ok": False, "error": {"code": code, "message": message}}
    assess(doc)
    return {"kind": kind, "ok": True, **edit}


def assess(doc: Document) -> None:
    """The quality checks again on a whole-mask edit, so the flags say what is still worth a look
    (brush strokes do not run them). What the source checks found stays: a mask fix does not change
    the photo (app.batch.assessment judged it when it was cut out)."""
    with doc.lock:
        if not doc.finished:
            return
        flags = [flag.as_dict() for flag in qa.assess_images(doc.rgb(), Image.fromarray(doc.alpha(), "L"))]
        flags += [flag for flag in doc.flags if flag["code"] in source_quality.CODES]
        doc.flags = flags
        doc.state = "flagged" if flags else "done"
