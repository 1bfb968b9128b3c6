"""Drives the real Knockout window (pywebview, Qt) from inside its own process.

Run as ``python tests/window_driver.py RESULT.json PHOTO OUTDIR SHOT.png [review]`` with DISPLAY
set (Xvfb). It opens PHOTO through the page's js_api, waits until its first look (the
preview) and then its full answer are on the canvas (a screenshot of each: SHOT-preview.png
and SHOT), paints one erase stroke, exports with the transparent PNG preset, and writes
timings (with where the start-up time went) and what it saw to RESULT.json, then closes the
window. With ``review`` it instead clicks Approve and then Export approved, with audit records
on, and adds the audit records to RESULT.json. Used by tests/desktop/test_window.py and
bench/app_latency.py.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
import urllib.request
from pathlib import Path
from typing import Any

STARTED = time.perf_counter()
STARTED_WALL = time.time()  # bench/app_latency.py passes when it launched us: the interpreter's own start
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# The editor's picture of document ID at version >= V is on screen (loaded, not just asked for).
SHOWN = ("(() => {{ const i = document.querySelector('#layer-main img.preview');"
         " if (!i || !i.complete || !i.naturalWidth || !i.src.includes('/doc/{id}/preview?')) return false;"
         " if (i.src.includes('view=original')) return false;"
         " return Number(new URL(i.src).searchParams.get('v')) >= {version}; }})()")


def _wait(what: str, check: Any, timeout: float = 120.0, every: float = 0.02) -> Any:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise TimeoutError(f"timed out waiting for {what}")


def _fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""


def startup(api: Any) -> dict[str, float]:
    """Where the time from launch to the first paint went (app.desktop.window.STARTUP marks)."""
    from app.desktop.window import STARTUP

    marks = {name: at - STARTED for name, at in STARTUP.items()}
    spawned = os.environ.get("KNOCKOUT_BENCH_SPAWNED")
    if spawned:
        marks["interpreter"] = STARTED_WALL - float(spawned)
    ready = api._runner.ready_at  # the driver lives in the app's process: read, never changed
    if ready is not None:
        marks["model_ready"] = ready - STARTED
    return marks


def drive(window: Any, api: Any, photo: str, outdir: str, shot: str, review: bool = False) -> dict[str, Any]:
    result: dict[str, Any] = {"loaded_s": time.perf_counter() - STARTED}
    js = window.evaluate_js
    _wait("the page to paint", lambda: js("document.readyState === 'complete' && !!document.body.children.length"))
    result["painted_s"] = time.perf_counter() - STARTED
    hello = api.hello()
    token, base = hello["token"], window.get_current_url().split("?")[0].rstrip("/")
    result["status_before"] = hello["status"]
    _wait("the model to warm up", lambda: api.status()["status"]["ready"], timeout=180)
    result["status"] = api.status()["status"]
    result["startup"] = startup(api)
    result["model_id"] = api._runner.model_spec().id
    result["views"] = api._runner.mask_options.views

    dropped = time.perf_counter()
    js(f"window.pywebview.api.open_paths([{json.dumps(photo)}])")
    first = _wait("a first look", lambda: next((i for i in api.queue()["items"]
                                                if i["preview"] or i["state"] in ("done", "flagged", "failed")),
                                               None), timeout=180)
    if first["state"] == "failed":
        result["item"] = first
        return result
    result["preview_seen"] = bool(first["preview"])
    result["first_look_ready_s"] = time.perf_counter() - dropped  # in Python; "shown" adds the page's part
    _wait("the first look on screen", lambda: js(SHOWN.format(id=first["id"], version=first["version"])))
    result["first_look_s"] = time.perf_counter() - dropped
    if first["preview"]:
        time.sleep(0.4)  # the picture is loaded; let the compositor put it on the display before the grab
        result["preview_badge"] = js("!document.querySelector('#preview-badge').hidden")
        result.update({f"preview_{k}": v for k, v in take_screenshot(shot.replace(".png", "-preview.png")).items()})
    item = _wait("the full answer", lambda: next((i for i in api.queue()["items"]
                                                  if i["state"] in ("done", "flagged", "failed")), None), timeout=180)
    result["item"] = item
    result["full_answer_ready_s"] = time.perf_counter() - dropped  # in Python, as for the first look
    if item["state"] == "failed":
        return result
    _wait("the full answer on screen", lambda: js(SHOWN.format(id=item["id"], version=item["version"])))
    result["full_answer_s"] = time.perf_counter() - dropped
    result["page_text"] = js("document.body.innerText")
    time.sleep(0.3)

    doc = api.document(item["id"])
    w, h = doc["width"], doc["height"]
    t0 = time.perf_counter()
    stroke = api.stroke(item["id"], {"mode": "erase", "radius": 40, "hardness": 0.8,
                                     "points": [[w * 0.45, h * 0.5], [w * 0.55, h * 0.5]]})
    x, y = int(w * 0.5) // doc["tile"], int(h * 0.5) // doc["tile"]
    status, _ = _fetch(f"{base}/doc/{item['id']}/tile/0/{x}/{y}?view=mask&t={token}&v={stroke['version']}")
    result["stroke_to_mask_ms"] = (time.perf_counter() - t0) * 1000
    result["stroke_tile_status"] = status
    t0 = time.perf_counter()
    status, _ = _fetch(f"{base}/doc/{item['id']}/tile/0/0/0?view=cutout&t={token}&v={stroke['version']}")
    result["zoom_tile_ms"] = (time.perf_counter() - t0) * 1000
    result["no_token_status"] = _fetch(f"{base}/doc/{item['id']}/tile/0/0/0?view=cutout")[0]

    if review:
        result.update(approve_and_export(js, api, item["id"], outdir))
        time.sleep(1.0)
        result.update(take_screenshot(shot))
        return result
    js("window.pywebview.api.export(" + json.dumps({"ids": [item["id"]], "preset": "png-master",
                                                    "template": "{stem}-cutout", "folder": outdir}) + ")")
    written = _wait("the export", lambda: sorted(Path(outdir).glob("*-cutout*.png")), timeout=60)
    result["exported"] = [str(p) for p in written]
    time.sleep(1.0)  # let the page show the export message before the screenshot
    result.update(take_screenshot(shot))
    return result


def approve_and_export(js: Any, api: Any, doc_id: str, outdir: str) -> dict[str, Any]:
    """Click Approve, then Export approved (audit records and sidecars on, into ``outdir``), as a person would."""
    from app.governance import audit

    api.set_settings({"audit": True, "sidecar": True, "output_dir": outdir})
    _wait("the Approve button", lambda: js("!document.querySelector('#approve-btn').disabled"))
    js("document.querySelector('#approve-btn').click()")
    item = _wait("the approval", lambda: next((i for i in api.queue()["items"]
                                               if i["id"] == doc_id and i["review"]["state"] == "approved"), None))
    _wait("the Export approved button", lambda: js("!document.querySelector('#export-approved').disabled"))
    badge = js("document.querySelector('#review-state').textContent")
    js("document.querySelector('#export-approved').click()")
    written = _wait("the export", lambda: sorted(Path(outdir).glob("*.png")), timeout=60)
    _wait("the export message", lambda: js("/^Exported 1 file/.test(document.querySelector('#export-result-text')"
                                           ".textContent)"), timeout=60)
    log = audit.default_log_path()
    return {"review": item["review"], "review_badge": badge, "exported": [str(p) for p in written],
            "audit": [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []}


def take_screenshot(shot: str) -> dict[str, Any]:
    """Grab the whole X display with Pillow (its wheels carry XCB): no ImageMagick, no xwd.

    Returns ``{"screenshot": path}`` or ``{"screenshot_error": what was tried and what it said}``.
    """
    display = os.environ.get("DISPLAY", "")
    try:
        from PIL import ImageGrab, features

        if not features.check("xcb"):
            return {"screenshot_error": "Pillow was built without XCB support, so ImageGrab cannot read "
                                        f"DISPLAY={display!r} (PIL.features.check('xcb') is False)"}
        ImageGrab.grab(xdisplay=display or None).save(shot)
    except Exception as exc:
        return {"screenshot_error": f"PIL.ImageGrab.grab(xdisplay={display!r}) failed: {type(exc).__name__}: {exc}"}
    return {"screenshot": shot}


def main() -> None:
    result_file, photo, outdir, shot = sys.argv[1:5]
    review = sys.argv[5:6] == ["review"]
    from app.desktop import window as app_window

    def on_started(window: Any, api: Any) -> None:
        try:
            result = drive(window, api, photo, outdir, shot, review)
        except Exception:
            result = {"error": traceback.format_exc()}
        Path(result_file).write_text(json.dumps(result, indent=2))
        window.destroy()

    code = app_window.run([], single_instance=False, on_started=on_started)
    sys.exit(code)


if __name__ == "__main__":
    main()
