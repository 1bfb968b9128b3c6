"""What goes into the frozen bundle besides code: the default model, licences, version.

``build.spec`` loads this file by path (the folder is called ``packaging`` like the PyPI
library PyInstaller itself imports, so it is never imported as a package). Kept apart
from the spec so tests can exercise it without running PyInstaller.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import json
import re
from collections.abc import Iterable
from pathlib import Path

LICENCE_FILE = re.compile(r"(^|/)(LICEN[CS]E|COPYING|NOTICE|AUTHORS)[^/]*$", re.IGNORECASE)
COPYLEFT = re.compile(r"\b(A?GPL|GNU General Public|GNU Affero)", re.IGNORECASE)
# Full texts for licences whose wheels ship no licence file (PySide6/shiboken6 wheels carry
# none): packaging/licenses/<SPDX id>.txt. LGPL-3.0 is GPL-3.0 plus additional permissions,
# so it must be accompanied by the GPL-3.0 text too (LGPL-3.0 section 4b).
LICENCE_DIR = Path(__file__).resolve().parent / "licenses"
FALLBACK_TEXTS = {"LGPL-3.0": ("LGPL-3.0.txt", "GPL-3.0.txt")}
# Shipped whenever a bundled distribution is under the LGPL-3.0: what the LGPL asks of us
# for Qt/PySide6 (notice, where the source is, how to replace the libraries).
QT_NOTICE = "QT-LGPL-NOTICE.txt"


def app_version(root: Path) -> str:
    """``__version__`` from app/__init__.py, read as text (no import of the app at spec time)."""
    text = (root / "app" / "__init__.py").read_text(encoding="utf-8")
    found = re.search(r'^__version__\s*=\s*"([^"]+)"', text, re.MULTILINE)
    if not found:
        raise SystemExit("build: no __version__ in app/__init__.py")
    return found.group(1)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def bundle_models(models_dir: Path, out_dir: Path, extra_ids: Iterable[str] = ()) -> list[tuple[str, str]]:
    """Write a manifest listing only the models we ship (the default plus ``extra_ids``).

    Returns PyInstaller ``datas`` pairs. Fails the build when a shipped model is missing
    or does not match its sha256: a bundle must never carry a model it would refuse.
    """
    manifest = json.loads((models_dir / "manifest.json").read_text(encoding="utf-8"))
    wanted = {manifest["default"], *extra_ids}
    shipped = [entry for entry in manifest["models"] if entry["id"] in wanted]
    if {entry["id"] for entry in shipped} != wanted:
        raise SystemExit(f"build: manifest has no entry for {sorted(wanted)}")
    datas = []
    for entry in shipped:
        weights = models_dir / entry["file"]
        if not weights.is_file():
            raise SystemExit(f"build: {weights} is missing; run `make setup` (models/fetch.py) first")
        if sha256_of(weights) != entry["sha256"]:
            raise SystemExit(f"build: {weights} does not match its manifest sha256; re-run models/fetch.py")
        datas.append((str(weights), "models"))
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / "manifest.json"
    out.write_text(json.dumps({**manifest, "models": shipped}, indent=2) + "\n", encoding="utf-8")
    datas.append((str(out), "models"))
    if (models_dir / "LICENSES").is_dir():
        datas.append((str(models_dir / "LICENSES"), "models/LICENSES"))
    return datas


def _top_levels(dist: md.Distribution) -> set[str]:
    tops = set()
    for file in dist.files or []:
        first = file.parts[0]
        if first.endswith((".dist-info", ".egg-info")) or first in ("..", "bin", "share", "include"):
            continue
        if first.endswith(".py"):
            first = first.removesuffix(".py")
        elif first.endswith((".so", ".pyd")):
            first = first.split(".")[0]
        tops.add(first)
    return tops


def bundled_distributions(bundled_tops: set[str]) -> list[md.Distribution]:
    """Installed distributions with at least one top-level module/folder in the bundle."""
    found: dict[str, md.Distribution] = {}
    for dist in md.distributions():
        name = dist.metadata["Name"]
        if name and _top_levels(dist) & bundled_tops:
            found.setdefault(name.lower(), dist)
    return sorted(found.values(), key=lambda d: d.metadata["Name"].lower())


def licence_of(dist: md.Distribution) -> str:
    meta = dist.metadata
    expression = meta.get("License-Expression")
    if expression:
        return expression
    classifiers = [c.split(" :: ")[-1] for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
    short = (meta.get("License") or "").strip()
    if short and len(short) < 80 and "\n" not in short:
        return short
    return "; ".join(classifiers) or ("see licence text" if short else "UNKNOWN")


def gpl_only(licence: str) -> bool:
    """True when no alternative of ``licence`` avoids the (A)GPL, i.e. bundling it would put the
    product under the GPL (PyQt6: ``GPL-3.0-only``). ``LGPL-3.0-only OR GPL-2.0-only OR
    GPL-3.0-only`` (PySide6, Qt) is not: we take the LGPL option. ``;`` joins trove classifiers,
    which list the licences a project is offered under."""
    alternatives = [alt for alt in re.split(r"\s+OR\s+|;\s*", licence.strip("() ")) if alt.strip()]
    return bool(alternatives) and all(COPYLEFT.search(alt) for alt in alternatives)


def fallback_licences(licence: str) -> list[str]:
    """File names under packaging/licenses for a distribution that ships no licence file."""
    return [name for spdx, names in FALLBACK_TEXTS.items() if spdx in licence for name in names]


def licence_texts(dist: md.Distribution) -> list[tuple[str, str]]:
    texts = []
    for file in dist.files or []:
        if LICENCE_FILE.search(str(file)):
            try:
                texts.append((str(file), Path(str(file.locate())).read_text(encoding="utf-8", errors="replace")))
            except OSError:
                continue
    if not texts and (dist.metadata.get("License") or "").count("\n") > 2:
        texts.append(("METADATA License field", dist.metadata["License"]))
    return texts


def write_licences(dists: list[md.Distribution], out_dir: Path, model_licences: Path | None) -> list[Path]:
    """THIRD-PARTY-LICENSES.txt (full texts) and third-party-licenses.json (a table)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    table, chunks, shared = [], [], []
    for dist in dists:
        name, version, licence = dist.metadata["Name"], dist.version, licence_of(dist)
        texts = licence_texts(dist)
        fallback = [] if texts else fallback_licences(licence)
        shared += [f for f in fallback if f not in shared]
        table.append({"name": name, "version": version, "license": licence,
                      "copyleft": bool(COPYLEFT.search(licence)), "gpl_only": gpl_only(licence),
                      "license_files": [n for n, _ in texts] + fallback})
        chunks.append(f"{'=' * 78}\n{name} {version}\nLicence: {licence}\n{'=' * 78}\n")
        chunks.extend(f"--- {file_name} ---\n{text.rstrip()}\n\n" for file_name, text in texts)
        if fallback:
            chunks.append(f"(the distribution ships no licence file: full texts in {' and '.join(fallback)} "
                          "next to this file and at the end of it)\n\n")
        elif not texts:
            chunks.append("(no licence file in the distribution; see its licence field above)\n\n")
    extra = [LICENCE_DIR / QT_NOTICE] if "LGPL-3.0.txt" in shared and (LICENCE_DIR / QT_NOTICE).is_file() else []
    extra += [LICENCE_DIR / f for f in shared]
    for path in extra:
        chunks.append(f"{'=' * 78}\n{path.name}\n{'=' * 78}\n"
                      f"{path.read_text(encoding='utf-8').rstrip()}\n\n")
    if model_licences and model_licences.is_dir():
        for path in sorted(model_licences.iterdir()):
            chunks.append(f"{'=' * 78}\nModel weights: {path.name}\n{'=' * 78}\n"
                          f"{path.read_text(encoding='utf-8', errors='replace').rstrip()}\n\n")
    header = ("Third-party software shipped in this Knockout bundle, with licences.\n"
              "Generated at build time from the build environment's package metadata.\n\n")
    txt, js = out_dir / "THIRD-PARTY-LICENSES.txt", out_dir / "third-party-licenses.json"
    txt.write_text(header + "".join(chunks), encoding="utf-8")
    js.write_text(json.dumps(table, indent=2) + "\n", encoding="utf-8")
    copies = []
    for path in extra:
        (out_dir / path.name).write_bytes(path.read_bytes())
        copies.append(out_dir / path.name)
    return [txt, js, *copies]


def toc_top_levels(*tocs: Iterable[tuple[str, str, str]]) -> set[str]:
    """First component of every module name / destination path in PyInstaller TOCs."""
    tops = set()
    for toc in tocs:
        for dest, _src, kind in toc:
            if kind in ("PYMODULE", "PYSOURCE", "EXTENSION"):
                tops.add(dest.split(".")[0] if kind != "EXTENSION" else re.split(r"[./\\]", dest)[0])
            else:
                tops.add(re.split(r"[/\\]", dest)[0])
    return tops
