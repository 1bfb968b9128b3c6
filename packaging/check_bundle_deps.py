"""Check every ELF file in a bundle finds its DT_NEEDED libraries in the bundle or on the system.

Why: build.spec drops Qt plugins and the host libraries only they used; this proves
nothing left behind still needs a dropped library. Usage:
``python packaging/check_bundle_deps.py dist/knockout`` (exit 1 and a list when not).
Linux only (reads ELF with ``readelf``); system libraries are resolved with ``ldconfig -p``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def _needed(path: Path) -> list[str]:
    out = subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True).stdout
    return [line.split("[", 1)[1].split("]", 1)[0] for line in out.splitlines() if "(NEEDED)" in line]


def _is_elf(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(4) == b"\x7fELF"
    except OSError:
        return False


def missing(bundle: Path) -> dict[str, list[str]]:
    """{library name: [bundle files needing it]} for libraries found neither in the bundle nor the system."""
    files = [p for p in bundle.rglob("*") if p.is_file() and not p.is_symlink() and _is_elf(p)]
    in_bundle = {p.name for p in bundle.rglob("*")}
    system = {line.split()[0] for line in subprocess.run(["ldconfig", "-p"], capture_output=True,
                                                          text=True).stdout.splitlines()[1:] if line.strip()}
    gaps: dict[str, list[str]] = {}
    for path in files:
        for lib in _needed(path):
            if lib not in in_bundle and lib not in system:
                gaps.setdefault(lib, []).append(str(path.relative_to(bundle)))
    return gaps


def system_needed(bundle: Path) -> set[str]:
    """Libraries the bundle expects from the system (what the .deb's Depends must cover)."""
    in_bundle = {p.name for p in bundle.rglob("*")}
    files = [p for p in bundle.rglob("*") if p.is_file() and not p.is_symlink() and _is_elf(p)]
    return {lib for path in files for lib in _needed(path) if lib not in in_bundle}


if __name__ == "__main__":
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "dist/knockout")
    gaps = missing(root)
    for lib, users in sorted(gaps.items()):
        print(f"MISSING {lib}: needed by {', '.join(users[:3])}{' …' if len(users) > 3 else ''}")
    if "--system" in sys.argv:
        print("from the system:", " ".join(sorted(system_needed(root))))
    sys.exit(1 if gaps else 0)
