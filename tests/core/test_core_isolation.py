"""app.core must import and work without onnxruntime or webview (design: dependencies point one way).

Each check runs in a fresh interpreter whose import system refuses ``onnxruntime`` and
``webview`` outright, exactly as on a machine where they are not installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import app.core

REPO = Path(__file__).resolve().parents[2]
BLOCKED = ("onnxruntime", "webview")

BLOCKER = textwrap.dedent(
    """
    import importlib.abc, sys

    BLOCKED = {blocked!r}

    class Refuse(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {{name!r}} (blocked by test)", name=name)
            return None

    sys.meta_path.insert(0, Refuse())
    for name in list(sys.modules):
        if name.split(".")[0] in BLOCKED:
            del sys.modules[name]
    """
).format(blocked=BLOCKED)


def run_isolated(body: str) -> dict:
    script = BLOCKER + textwrap.dedent(body)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def core_modules() -> list[str]:
    folder = Path(app.core.__file__).parent
    return sorted(f"app.core.{p.stem}" for p in folder.glob("*.py") if p.stem != "__init__")


def test_the_blocker_really_blocks() -> None:
    result = run_isolated(
        """
        import json
        refused = []
        for name in ("onnxruntime", "webview", "onnxruntime.capi"):
            try:
                __import__(name)
            except ImportError:
                refused.append(name)
        print(json.dumps({"refused": refused}))
        """
    )
    assert result["refused"] == ["onnxruntime", "webview", "onnxruntime.capi"]


def test_every_core_module_imports_without_onnxruntime_or_webview() -> None:
    modules = core_modules()
    assert {"app.core.decode", "app.core.export", "app.core.atomic"} <= set(modules)

    result = run_isolated(
        f"""
        import importlib, json, sys
        for name in {modules!r}:
            importlib.import_module(name)
        print(json.dumps({{
            "loaded": sorted(m for m in sys.modules if m.startswith("app")),
            "blocked_loaded": sorted(m for m in sys.modules if m.split(".")[0] in {BLOCKED!r}),
        }}))
        """
    )

    assert result["blocked_loaded"] == []
    assert set(modules) <= set(result["loaded"])
    # Nothing above core (inference, pipeline, cli...) was pulled in along the way.
    assert [m for m in result["loaded"] if m != "app" and not m.startswith("app.core")] == []


def test_core_decodes_and_exports_without_onnxruntime(tmp_path: Path) -> None:
    result = run_isolated(
        f"""
        import io, json
        from pathlib import Path
        from PIL import Image
        from app.core.compose import Cutout
        from app.core.decode import open_image
        from app.core.export import ExportSettings, render, save

        buf = io.BytesIO()
        Image.new("RGBA", (8, 6), (200, 10, 10, 128)).save(buf, "PNG")
        decoded = open_image(buf.getvalue())
        settings = ExportSettings(format="webp")
        target = Path({str(tmp_path / "out.webp")!r})
        save(render(Cutout(decoded.image, decoded.alpha), settings), target, settings)
        out = Image.open(target)
        print(json.dumps({{"mode": out.mode, "size": list(out.size), "pixel": list(out.getpixel((1, 1)))}}))
        """
    )
    assert result == {"mode": "RGBA", "size": [8, 6], "pixel": [200, 10, 10, 128]}
