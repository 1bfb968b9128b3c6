"""Fetch axe-core, the accessibility checker the UI tests run in the page (test setup only).

Like ``models/fetch.py``: ``npm pack`` of a pinned release, the tarball checked against its
sha512 integrity and the extracted ``axe.min.js`` against a pinned sha256. It lands in
``.cache/axe-core/`` (git-ignored, outside ``ui/``), so it can never ship in the window.

Usage: ``python tests/vendor/fetch_axe.py [--tarball FILE]``. Idempotent.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEST = ROOT / ".cache" / "axe-core"
SCRIPT = DEST / "axe.min.js"
PACKAGE = "axe-core"
VERSION = "4.11.0"
INTEGRITY = "sha512-ilYanEU8vxxBexpJd8cWM4ElSQq4QctCLKih0TSfjIfCQTeyH/6zVrmIJfLPrKTKJRbiG+cfnZbQIjAlJmF1jQ=="
SHA256 = "e9e5863c33a874f09bc01acd9234b7e3c871479f5eef8802fa582544465e6d01"


class FetchError(Exception):
    """A setup problem with a message a person can act on."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def present() -> bool:
    return SCRIPT.is_file() and _sha256(SCRIPT.read_bytes()) == SHA256


def _check_integrity(tarball: Path) -> None:
    algo, _, expected = INTEGRITY.partition("-")
    actual = base64.b64encode(hashlib.new(algo, tarball.read_bytes()).digest()).decode()
    if actual != expected:
        raise FetchError(f"{tarball.name}: integrity mismatch (got {algo}-{actual}); not the pinned release")


def _npm_pack(dest: Path) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        raise FetchError("npm is not installed (Debian: apt-get install npm; `make system-deps` does it)")
    spec = f"{PACKAGE}@{VERSION}"
    proc = subprocess.run([npm, "pack", spec, "--json", "--pack-destination", str(dest)],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise FetchError(f"npm pack {spec} failed (offline or registry unreachable?): " + " | ".join(tail))
    return dest / json.loads(proc.stdout)[0]["filename"]


def fetch(tarball: Path | None = None) -> Path:
    """Make sure the pinned ``axe.min.js`` is in ``.cache/axe-core/``; its path."""
    if present():
        return SCRIPT
    with tempfile.TemporaryDirectory(prefix="knockout-axe-") as scratch:
        tgz = tarball if tarball is not None else _npm_pack(Path(scratch))
        _check_integrity(tgz)
        with tarfile.open(tgz, "r:gz") as tar:
            files = {}
            for name in ("axe.min.js", "LICENSE"):
                member = tar.extractfile(f"package/{name}")
                if member is None:
                    raise FetchError(f"package/{name} missing from {tgz.name}")
                files[name] = member.read()
    if _sha256(files["axe.min.js"]) != SHA256:
        raise FetchError(f"axe.min.js: sha256 does not match the pinned {SHA256}")
    DEST.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        part = DEST / f".{name}.part"
        part.write_bytes(data)
        part.replace(DEST / name)
    return SCRIPT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tarball", type=Path, help=f"use a local copy of {PACKAGE}-{VERSION}.tgz")
    args = parser.parse_args(argv)
    try:
        path = fetch(args.tarball)
    except FetchError as exc:
        print(f"fetch failed: {exc}", file=sys.stderr)
        return 1
    print(f"{path.relative_to(ROOT)}: axe-core {VERSION}, sha256 ok", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
