"""Compare two builds file by file (sha256) to check the build is reproducible.

Usage: ``python packaging/compare_builds.py BUNDLE_A BUNDLE_B [--json]``. Either side may
be a directory (a PyInstaller folder, an unpacked .deb) or a ``.deb`` file, which is
unpacked with ``dpkg-deb -x``; for two .deb files the control members are compared too.
Exit code 0 when every file is identical, 1 otherwise; the report lists files that
differ, and files only on one side, each with the likeliest reason.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

# Known causes of differences, matched on the path (first match wins).
EXPLANATIONS = [
    ("base_library.zip", "zip of the stdlib: member timestamps/ordering (PyInstaller clamps them "
                         "to SOURCE_DATE_EPOCH; a difference means the epoch was not set)"),
    (".pyc", "bytecode: embeds source mtimes unless SOURCE_DATE_EPOCH selects hash-based pycs"),
    ("knockout-app", "executable with the embedded PYZ archive: module order/compiled code"),
    ("knockout", "executable with the embedded PYZ archive: module order/compiled code"),
    ("sbom", "SBOM: serial number/timestamp unless cyclonedx-py --output-reproducible"),
    ("licenses/", "generated licence files: environment metadata differs between builds"),
    ("manifest.json", "generated model manifest: should be byte-identical; investigate"),
    (".so", "native library: strip/patching differs between builds; investigate"),
]


@dataclass
class Comparison:
    identical: list[str] = field(default_factory=list)
    different: dict[str, str] = field(default_factory=dict)  # path -> explanation
    only_a: list[str] = field(default_factory=list)
    only_b: list[str] = field(default_factory=list)

    @property
    def equal(self) -> bool:
        return not (self.different or self.only_a or self.only_b)


def digest_tree(root: Path) -> dict[str, str]:
    """Relative POSIX path -> sha256 for every file; symlinks are recorded by their target."""
    digests = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            digests[rel] = "symlink:" + str(path.readlink())
        elif path.is_file():
            h = hashlib.sha256()
            with path.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
            digests[rel] = h.hexdigest()
    return digests


def explain(rel: str) -> str:
    name = rel.rsplit("/", 1)[-1]
    for needle, why in EXPLANATIONS:
        if needle in ("knockout", "knockout-app"):
            if name in (needle, needle + ".exe"):
                return why
        elif needle in rel:
            return why
    return "unexplained: investigate"


def compare(a: dict[str, str], b: dict[str, str]) -> Comparison:
    result = Comparison()
    for rel in sorted(a.keys() | b.keys()):
        if rel not in b:
            result.only_a.append(rel)
        elif rel not in a:
            result.only_b.append(rel)
        elif a[rel] == b[rel]:
            result.identical.append(rel)
        else:
            result.different[rel] = explain(rel)
    return result


def _tree(path: Path, scratch: Path) -> Path:
    if path.is_dir():
        return path
    if path.suffix == ".deb":
        out = scratch / path.name
        out.mkdir()
        subprocess.run(["dpkg-deb", "-x", str(path), str(out)], check=True)
        subprocess.run(["dpkg-deb", "-e", str(path), str(out / "DEBIAN")], check=True)
        return out
    raise SystemExit(f"compare_builds: {path} is neither a folder nor a .deb")


def render(result: Comparison) -> str:
    lines = [f"identical: {len(result.identical)} files; different: {len(result.different)}; "
             f"only in A: {len(result.only_a)}; only in B: {len(result.only_b)}"]
    lines += [f"  DIFF  {rel}: {why}" for rel, why in result.different.items()]
    lines += [f"  ONLY-A {rel}" for rel in result.only_a]
    lines += [f"  ONLY-B {rel}" for rel in result.only_b]
    lines.append("REPRODUCIBLE" if result.equal else "NOT REPRODUCIBLE (see above)")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv if not a.startswith("--")]
    if len(paths) != 2:
        raise SystemExit(__doc__)
    with tempfile.TemporaryDirectory() as scratch:
        (Path(scratch) / "a").mkdir()
        (Path(scratch) / "b").mkdir()
        result = compare(digest_tree(_tree(paths[0], Path(scratch) / "a")),
                         digest_tree(_tree(paths[1], Path(scratch) / "b")))
    print(json.dumps(asdict(result), indent=2) if "--json" in argv else render(result))
    return 0 if result.equal else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
