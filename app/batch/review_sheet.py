"""A batch's review sheet: one self-contained HTML page a team reads, prints or files as a PDF.

Per photo: the cutout on a checkerboard and on white, the QA flags drawn where they are
(``app.core.flag_marks``) and said in words, and the person's decision, reason, note, name and
alt text. A summary counts decisions, flag kinds and reject reasons; a "training pairs" part puts
approved cutouts beside rejected ones with their failures marked, which is how new staff learn
what a halo or a filled hole looks like. Pictures are embedded as ``data:`` URIs (shrunk to
``WIDTH``) and the page loads nothing else: it opens offline, mails as one file and prints one
photo per page. Every text is HTML-escaped (file names may hold ``<``, ``&`` or quotes).
"""

from __future__ import annotations

import base64
import io
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import BinaryIO

from PIL import Image

from app import __version__
from app.core.atomic import write_atomic
from app.core.flag_marks import STYLES, draw_flag_marks
from app.core.qa import Flag
from app.governance.review import APPROVED, REASONS, REJECTED, TO_CHECK, Remarks

WIDTH = 640  # px: the widest a picture is embedded (sharp on a printed A4 column, light in a mail)
CHECKER = 16  # px: squares of the checkerboard that shows transparency
JPEG_QUALITY = 85
STATE_WORDS = {APPROVED: "Approved", REJECTED: "Rejected", TO_CHECK: "To check"}
FLAG_WORDS = {"halo": "Halo", "filled-hole": "Filled hole", "touches-edge": "Touches the edge",
              "left-out": "Part left out", "low-confidence": "Unsure model", "multiple-subjects": "Several subjects"}


@dataclass
class SheetEntry:
    """One photo on the sheet: its name, the cutout (RGBA), its QA flags and what people said."""

    name: str
    cutout: Image.Image
    flags: Sequence[Flag]
    remarks: Remarks
    version: str | None = None


@dataclass(frozen=True)
class _Pictures:
    checker: str
    white: str
    marked: str | None  # None: no flag knows where it is


def _shrunk(cutout: Image.Image) -> Image.Image:
    image = cutout.convert("RGBA")
    if image.width > WIDTH:
        image = image.resize((WIDTH, max(1, round(image.height * WIDTH / image.width))), Image.Resampling.LANCZOS)
    return image


def _checkerboard(size: tuple[int, int]) -> Image.Image:
    tile = Image.new("RGB", (2 * CHECKER, 2 * CHECKER), (255, 255, 255))
    tile.paste((204, 204, 204), (0, 0, CHECKER, CHECKER))
    tile.paste((204, 204, 204), (CHECKER, CHECKER, 2 * CHECKER, 2 * CHECKER))
    board = Image.new("RGB", size)
    for y in range(0, size[1], tile.height):
        for x in range(0, size[0], tile.width):
            board.paste(tile, (x, y))
    return board


def _on(background: Image.Image, cutout: Image.Image) -> Image.Image:
    return Image.alpha_composite(background.convert("RGBA"), cutout).convert("RGB")


def _jpeg_uri(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=JPEG_QUALITY, optimize=True)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _pictures(entry: SheetEntry) -> _Pictures:
    """The cutout flattened three ways, as JPEG data URIs (flattened: no transparency left to carry)."""
    cutout = _shrunk(entry.cutout)
    marked = None
    if any(flag.region is not None for flag in entry.flags):
        grey = _on(Image.new("RGB", cutout.size, (236, 236, 236)), cutout)
        marked = _jpeg_uri(draw_flag_marks(grey, entry.flags))
    return _Pictures(_jpeg_uri(_on(_checkerboard(cutout.size), cutout)),
                     _jpeg_uri(_on(Image.new("RGB", cutout.size, (255, 255, 255)), cutout)), marked)


def _title(entry: SheetEntry) -> str:
    return escape(entry.name) + (f" <span class=version>{escape(entry.version)}</span>" if entry.version else "")


def _figure(uri: str, caption: str, alt: str) -> str:
    return (f'<figure><img src="{uri}" alt="{escape(alt)}"><figcaption>{escape(caption)}</figcaption></figure>')


def _flag_list(flags: Sequence[Flag]) -> str:
    if not flags:
        return "<p class=clean>No QA flags.</p>"
    items = []
    for flag in flags:
        colour = "#{:02x}{:02x}{:02x}".format(*STYLES.get(flag.code, ((90, 90, 90), ""))[0])
        items.append(f'<li><span class=swatch style="background:{colour}"></span><b>'
                     f"{escape(FLAG_WORDS.get(flag.code, flag.code))}</b>: {escape(flag.message)}</li>")
    return "<ul class=flags>" + "".join(items) + "</ul>"


def _decision(remarks: Remarks) -> str:
    state = remarks.state
    rows = [("Decision", f"<span class='state {state}'>{STATE_WORDS[state]}</span>")]
    review = remarks.review
    if review is not None:
        if review.reason:
            rows.append(("Reason", escape(REASONS.get(review.reason, review.reason))))
        if review.note:
            rows.append(("Note", escape(review.note)))
        rows.append(("Reviewer", f"{escape(review.reviewer)} <span class=muted>{escape(review.time)}</span>"))
    rows.append(("Alt text", escape(remarks.alt_text) if remarks.alt_text else "<span class=muted>none</span>"))
    return "<dl>" + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows) + "</dl>"


def _photo_block(entry: SheetEntry, pictures: _Pictures) -> str:
    figures = [_figure(pictures.checker, "Cutout (checkerboard: transparent)", f"{entry.name} on a checkerboard"),
               _figure(pictures.white, "On white", f"{entry.name} on white")]
    if pictures.marked is not None:
        figures.append(_figure(pictures.marked, "QA flags, where they are", f"{entry.name} with its flags marked"))
    return (f"<section class='photo {entry.remarks.state}'><h2>{_title(entry)}</h2>"
            f"<div class=figures>{''.join(figures)}</div>"
            f"<div class=words>{_flag_list(entry.flags)}{_decision(entry.remarks)}</div></section>")


def _counts(title: str, counter: Counter[str], words: dict[str, str], ordered: bool = False) -> str:
    """A small table of counts, the largest first (or in the counter's own order)."""
    if not counter:
        return f"<div class=count><h3>{escape(title)}</h3><p class=muted>none</p></div>"
    pairs = counter.items() if ordered else counter.most_common()
    rows = "".join(f"<tr><td>{escape(words.get(k, k))}</td><td>{n}</td></tr>" for k, n in pairs)
    return f"<div class=count><h3>{escape(title)}</h3><table>{rows}</table></div>"


def _summary(entries: Sequence[SheetEntry]) -> str:
    states = Counter(entry.remarks.state for entry in entries)
    flags = Counter(flag.code for entry in entries for flag in entry.flags)
    reasons = Counter(entry.remarks.review.reason for entry in entries
                      if entry.remarks.review is not None and entry.remarks.review.reason)
    decided = Counter({STATE_WORDS[s]: states[s] for s in (APPROVED, REJECTED, TO_CHECK)})
    return ("<section class=summary><h2>Summary</h2><div class=counts>"
            + _counts(f"{len(entries)} photos", decided, {}, ordered=True) + _counts("QA flags", flags, FLAG_WORDS)
            + _counts("Reject reasons", reasons, REASONS) + "</div></section>")


def _pairs(entries: Sequence[SheetEntry], pictures: Sequence[_Pictures]) -> str:
    """Each rejected cutout (its failure marked) beside an approved one: what wrong and right look like."""
    rejected = [i for i, e in enumerate(entries) if e.remarks.state == REJECTED]
    approved = sorted((i for i, e in enumerate(entries) if e.remarks.state == APPROVED),
                      key=lambda i: len(entries[i].flags))  # the cleanest masters first
    if not rejected or not approved:
        return ("<section class=pairs><h2>Training pairs</h2><p class=muted>Pairs appear once the batch has both "
                "approved and rejected cutouts.</p></section>")
    rows = []
    for n, bad in enumerate(rejected):
        good = approved[n % len(approved)]
        review = entries[bad].remarks.review
        reason = REASONS.get(review.reason or "", "") if review else ""
        bad_uri = pictures[bad].marked or pictures[bad].checker
        rows.append("<div class=pair>"
                    + _figure(bad_uri, f"Rejected: {entries[bad].name} ({reason})", f"{entries[bad].name}, rejected")
                    + _figure(pictures[good].checker, f"Approved: {entries[good].name}",
                              f"{entries[good].name}, approved") + "</div>")
    return "<section class=pairs><h2>Training pairs</h2>" + "".join(rows) + "</section>"


STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1d1d1f;margin:24px;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:0 0 10px;word-break:break-all}
h3{font-size:14px;margin:0 0 6px}
.muted{color:#6e6e73}.version{font-weight:normal;color:#6e6e73;margin-left:6px}
section{border-top:1px solid #d2d2d7;padding:18px 0}
.counts{display:flex;gap:40px;flex-wrap:wrap}.count td{padding:1px 16px 1px 0}
.figures,.pair{display:flex;gap:12px;flex-wrap:wrap;align-items:flex-start}
figure{margin:0;flex:1 1 220px;max-width:320px}figure img{width:100%;height:auto;display:block;border:1px solid #d2d2d7}
figcaption{font-size:12px;color:#6e6e73;margin-top:4px;word-break:break-all}
.words{display:flex;gap:32px;flex-wrap:wrap;margin-top:12px}.words>*{flex:1 1 300px}
ul.flags{margin:0;padding-left:0;list-style:none}ul.flags li{margin:0 0 6px}
.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px;vertical-align:baseline}
dl{display:grid;grid-template-columns:max-content 1fr;gap:3px 14px;margin:0}dt{color:#6e6e73}
dd{margin:0;word-break:break-word}
.state{font-weight:600;padding:1px 8px;border-radius:9px}.state.approved{background:#d9f5e1;color:#0b6b2b}
.state.rejected{background:#fde2e1;color:#a31510}.state.to-check{background:#fff3cd;color:#7a5a00}
.pair{margin-bottom:14px}
@page{size:A4;margin:12mm}
@media print{body{margin:0}section.photo,.pair{break-inside:avoid;page-break-inside:avoid}
section.photo{break-after:page;page-break-after:always}figure{max-width:31%}.state{border:1px solid currentColor}}
"""
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def render_sheet(entries: Sequence[SheetEntry], title: str) -> str:
    """The page as text (``write_review_sheet`` writes it)."""
    pictures = [_pictures(entry) for entry in entries]
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    blocks = "".join(_photo_block(entry, pics) for entry, pics in zip(entries, pictures, strict=True))
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8>"
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            f'<meta name="viewport" content="width=device-width"><meta name="referrer" content="no-referrer">'
            f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>"
            f"<header><h1>{escape(title)}</h1><p class=muted>Review sheet made {made} by Knockout "
            f"{escape(__version__)}: {len(entries)} photos.</p></header>"
            f"{_summary(entries)}{blocks}{_pairs(entries, pictures)}</body></html>\n")


def write_review_sheet(entries: Sequence[SheetEntry], path: Path, title: str) -> Path:
    """Write the sheet to ``path`` atomically (never through a link at that name); returns ``path``."""
    data = render_sheet(entries, title).encode("utf-8")

    def write(fh: BinaryIO) -> None:
        fh.write(data)

    path = Path(path)
    write_atomic(path, write)
    return path
