"""The HTML report: one self-contained file (inline CSS, thumbnails as data: URIs, nothing remote).

For each model: its means over the set, then its worst images side by side as photo,
ground truth, prediction and an error map (red: kept but should be background; cyan:
cut away but should be subject; grey: ignored by the ground truth).
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping

import numpy as np
from PIL import Image

from app.core import mask as mask_ops
from app.evaluation.results import Row, Summary

THUMB_SIZE = 240
IGNORED_GREY = 70


def _data_uri(img: Image.Image, fmt: str) -> str:
    img = img.copy()
    img.thumbnail((THUMB_SIZE, THUMB_SIZE), Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    if fmt == "JPEG":
        img.save(buf, "JPEG", quality=85)
    else:
        img.save(buf, "PNG", optimize=False, compress_level=6)
    mime = "image/jpeg" if fmt == "JPEG" else "image/png"
    return f"data:{mime};base64,{base64.b64encode(buf.getvalue()).decode('ascii')}"


def photo_uri(rgb: Image.Image) -> str:
    return _data_uri(rgb.convert("RGB"), "JPEG")


def alpha_uri(alpha: np.ndarray) -> str:
    """An alpha in 0..1 drawn as a greyscale mask."""
    return _data_uri(Image.fromarray(mask_ops.to_uint8(alpha), "L"), "PNG")


def error_map(pred: np.ndarray, gt: np.ndarray, valid: np.ndarray | None) -> Image.Image:
    """Signed alpha error as colour: red where too opaque, cyan where too transparent."""
    diff = pred - gt
    over = mask_ops.to_uint8(np.clip(diff, 0.0, 1.0))
    under = mask_ops.to_uint8(np.clip(-diff, 0.0, 1.0))
    rgb = np.stack([over, under, under], axis=-1)
    if valid is not None:
        rgb[~valid] = IGNORED_GREY
    return Image.fromarray(rgb, "RGB")


def error_uri(pred: np.ndarray, gt: np.ndarray, valid: np.ndarray | None) -> str:
    return _data_uri(error_map(pred, gt, valid), "PNG")


STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;background:#fafafa}
table{border-collapse:collapse;margin:8px 0 24px}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:right;vertical-align:top}
th:first-child,td:first-child{text-align:left}
td.figures,th.figures{text-align:left}
figure{display:inline-block;margin:0 6px 0 0;text-align:center}
figure img{display:block;max-width:240px;max-height:240px;background:#888}
figcaption{font-size:12px;color:#666}
.legend span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:middle}
"""


def _num(value: float | None, digits: int) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _summary_table(summaries: list[Summary], with_flatten: bool) -> str:
    head = "<tr><th>model</th><th>images</th><th>failed</th><th>IoU</th><th>MAE</th><th>SAD</th><th>BF</th>"
    head += "<th>flatten err</th>" if with_flatten else ""
    lines = [head + "<th>s/img</th></tr>"]
    for s in summaries:
        cells = [html.escape(s.model), str(s.images), str(s.failed), _num(s.iou, 3), _num(s.mae, 4),
                 _num(s.sad, 2), _num(s.bf, 3)]
        if with_flatten:
            cells.append(_num(s.flatten_error, 2))
        cells.append(_num(s.seconds, 2))
        lines.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return "<table>" + "".join(lines) + "</table>"


def _figure(uri: str | None, caption: str) -> str:
    if uri is None:
        return ""
    return f'<figure><img src="{uri}" alt="{caption}"><figcaption>{caption}</figcaption></figure>'


def render(
    title: str,
    summaries: list[Summary],
    rows: list[Row],
    worst: Mapping[str, list[Row]],
    pair_thumbs: Mapping[str, tuple[str, str]],
    pred_thumbs: Mapping[tuple[str, str], tuple[str, str]],
) -> str:
    """The whole report as one HTML string."""
    with_flatten = any(s.flatten_error is not None for s in summaries)
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        "<p>IoU at alpha ≥ 0.5; MAE and SAD (÷1000) of alpha; BF: boundary F-measure within 0.75 % of "
        "the diagonal. Ignored pixels are left out of IoU, MAE and SAD.</p>",
        _summary_table(summaries, with_flatten),
        "<p class='legend'>Error map:<span style='background:#f00'></span>kept, should be background"
        "<span style='background:#0ff'></span>removed, should be subject"
        f"<span style='background:rgb({IGNORED_GREY},{IGNORED_GREY},{IGNORED_GREY})'></span>ignored</p>",
    ]
    for summary in summaries:
        chosen = worst.get(summary.model, [])
        if not chosen:
            continue
        parts.append(f"<h2>{html.escape(summary.model)}: {len(chosen)} worst by IoU</h2><table>")
        parts.append("<tr><th>image</th><th>scores</th>"
                     "<th class='figures'>photo · ground truth · prediction · error</th></tr>")
        for row in chosen:
            s = row.scores
            assert s is not None
            scores = f"IoU {s.iou:.3f}<br>MAE {s.mae:.4f}<br>SAD {s.sad:.2f}<br>BF {s.bf:.3f}"
            if s.flatten_error is not None:
                scores += f"<br>flatten {s.flatten_error:.2f}"
            photo, truth = pair_thumbs.get(row.image, (None, None))
            pred, error = pred_thumbs.get((row.model, row.image), (None, None))
            figures = (_figure(photo, "photo") + _figure(truth, "ground truth") + _figure(pred, "prediction")
                       + _figure(error, "error"))
            parts.append(f"<tr><td>{html.escape(row.image)}</td><td>{scores}</td>"
                         f"<td class='figures'>{figures}</td></tr>")
        parts.append("</table>")
    failed = [r for r in rows if not r.ok]
    if failed:
        parts.append("<h2>Failed</h2><ul>")
        parts += [f"<li>{html.escape(r.image)} ({html.escape(r.model)}): {html.escape(r.error or '')}</li>"
                  for r in failed]
        parts.append("</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)
