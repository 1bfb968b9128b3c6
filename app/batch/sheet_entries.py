"""A batch folder as review-sheet entries: what its journal says it wrote, judged again, with people's decisions.

``knockout report`` runs long after the batch, maybe on another machine, so nothing is taken from
the run's memory: the journal (``app.batch.journal``) names each photo's latest output, the QA
flags are re-derived from that file's mask and, when it is still there at the same size, the
source photo (``app.core.qa``), and the decisions come from the review file beside the journal
(``app.governance.review``). A file that cannot be read is named in ``problems``; the rest go on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from app.batch.inputs import Source, output_versions
from app.batch.journal import Done, written_files
from app.batch.review_sheet import WIDTH, SheetEntry
from app.core import qa
from app.core.decode import DEFAULT_MAX_PIXELS, open_image
from app.core.digest import sha256_file
from app.core.errors import KnockoutError
from app.core.versions import label
from app.governance.review import Remarks, ReviewStore, batch_store_path


class NoBatchHere(KnockoutError):
    """The folder holds no batch journal, so there is nothing to report on."""

    code = "no-batch"


@dataclass
class FolderReview:
    entries: list[SheetEntry] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # one sentence per file left out or judged partly


def _cutout(output: Path, max_pixels: int, mask_only: bool) -> tuple[Image.Image, bool]:
    """The written file as RGBA (a mask export: white with the mask as alpha), and whether it has a mask
    (a cutout flattened onto a colour has none)."""
    decoded = open_image(output, max_pixels)
    if mask_only:
        mask = decoded.image.convert("L")
        return Image.merge("RGBA", (mask, mask, mask, mask)), True
    if decoded.alpha is None:
        return decoded.image.convert("RGBA"), False
    return Image.merge("RGBA", (*decoded.image.split(), decoded.alpha)), True


def _photo(source: Path, size: tuple[int, int], max_pixels: int) -> Image.Image | None:
    """The source photo if it is still there at the cutout's size (not cropped or padded since)."""
    try:
        image = open_image(source, max_pixels).image
    except (OSError, KnockoutError):
        return None
    return image if image.size == size else None


def _version(template: str, source: Path, output: Path) -> str | None:
    """The ``{version}`` the output's name has, by the batch's own template (None without one)."""
    try:
        versions = output_versions(Source(source, Path(source.name), source.name), template, output.suffix,
                                   output.parent)
    except ValueError:
        return None
    number = versions.number(output) if versions else None
    return None if number is None else label(number)


def _entry(out_dir: Path, done: Done, header: dict[str, Any], store: ReviewStore, max_pixels: int,
           problems: list[str]) -> SheetEntry | None:
    output, source = out_dir / done.output, Path(done.source)
    settings = header.get("settings") or {}
    try:
        cutout, has_mask = _cutout(output, max_pixels, bool(settings.get("mask_only")))
    except (OSError, KnockoutError) as exc:
        problems.append(f"{done.output}: left out, it cannot be read ({exc})")
        return None
    flags: list[qa.Flag] = []
    if not has_mask:
        problems.append(f"{done.output}: flattened onto a colour, so its QA flags cannot be re-derived")
    else:
        photo = _photo(source, cutout.size, max_pixels)
        if photo is None:
            problems.append(f"{done.output}: the source photo is gone or was cropped: flags judged on the cutout alone")
        flags = qa.assess_images(photo or cutout.convert("RGB"), cutout.getchannel("A"))
    try:
        remarks = store.get(sha256_file(source))
    except OSError:
        remarks = Remarks()
        problems.append(f"{done.output}: the source photo cannot be read, so its review decision is not known")
    cutout.thumbnail((WIDTH, WIDTH * 4), Image.Resampling.LANCZOS)  # all the sheet shows; hundreds stay small
    name = (Path(done.output).parent / source.name).as_posix()  # the photo, in the folder its output mirrors
    return SheetEntry(name, cutout, flags, remarks, _version(str(header.get("name") or ""), source, output))


def folder_review(out_dir: Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> FolderReview:
    """Every photo the folder's batch wrote, as sheet entries, in the order they were written."""
    header, done = written_files(Path(out_dir))
    if header is None:
        raise NoBatchHere(f"{out_dir} holds no batch journal: run `knockout cut` or `knockout watch` into it first")
    store = ReviewStore(batch_store_path(Path(out_dir)))
    review = FolderReview(problems=[store.problem] if store.problem else [])
    for entry in done:
        sheet_entry = _entry(Path(out_dir), entry, header, store, max_pixels, review.problems)
        if sheet_entry is not None:
            review.entries.append(sheet_entry)
    return review
