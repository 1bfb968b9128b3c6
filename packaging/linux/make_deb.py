"""Wrap the PyInstaller folder in a .deb: payload in /opt/knockout, CLI on the PATH,
a .desktop file with "Open with" for images, the icon, and a control file whose Depends
cover exactly the libraries the bundle expects from the system.

Usage: ``python packaging/linux/make_deb.py BUNDLE_DIR ICONS_DIR OUT_DIR VERSION``
(``packaging/linux/build.sh`` calls it). Honours ``SOURCE_DATE_EPOCH`` for file times.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from check_bundle_deps import system_needed  # noqa: E402

PACKAGE = "knockout"
MAINTAINER = "Knockout release team <release@knockout.invalid>"
ICON_SIZES = (16, 32, 48, 64, 128, 256, 512)
# System library (DT_NEEDED) -> Debian package. glibc's own libraries map to libc6.
LIB_PACKAGES = {
    "libGL.so.1": "libgl1", "libEGL.so.1": "libegl1", "libdrm.so.2": "libdrm2",
    "libwayland-client.so.0": "libwayland-client0", "libwayland-cursor.so.0": "libwayland-cursor0",
    "libwayland-egl.so.1": "libwayland-egl1", "libwayland-server.so.0": "libwayland-server0",
    "libxcb-dri3.so.0": "libxcb-dri3-0", "libxcb.so.1": "libxcb1", "libgbm.so.1": "libgbm1",
    "libxkbcommon.so.0": "libxkbcommon0", "libfontconfig.so.1": "libfontconfig1",
}
GLIBC_LIBS = re.compile(r"^(libc|libm|libdl|libpthread|librt|libresolv|ld-linux-x86-64|ld-linux-aarch64)\.so")
# Loaded with dlopen (invisible to DT_NEEDED) or data Qt needs at run time.
EXTRA_DEPENDS = ["libx11-xcb1", "libxkbcommon-x11-0"]
RECOMMENDS = ["fonts-dejavu-core | fonts-liberation2 | fonts-noto-core"]
DESCRIPTION = """Remove photo backgrounds entirely on this computer
 Knockout cuts the subject out of a photo with a bundled neural network and
 exports a transparent PNG, a flattened JPEG or a mask. It works offline:
 nothing is uploaded, downloaded or reported. Includes the desktop editor
 (knockout-app) and the command line (knockout cut, knockout self-test)."""


def glibc_floor(bundle: Path) -> str:
    """Highest GLIBC_x.y symbol version any bundled ELF file references."""
    best = (2, 17)
    pattern = re.compile(rb"GLIBC_(\d+)\.(\d+)")
    for path in bundle.rglob("*"):
        if path.is_file() and not path.is_symlink():
            with path.open("rb") as fh:
                if fh.read(4) != b"\x7fELF":
                    continue
                for major, minor in pattern.findall(fh.read()):
                    best = max(best, (int(major), int(minor)))
    return f"{best[0]}.{best[1]}"


def depends_for(libs: set[str], glibc: str) -> list[str]:
    unknown = sorted(lib for lib in libs if lib not in LIB_PACKAGES and not GLIBC_LIBS.match(lib))
    if unknown:
        raise SystemExit(f"make_deb: no Debian package known for {', '.join(unknown)}; add it to LIB_PACKAGES")
    packages = {LIB_PACKAGES[lib] for lib in libs if lib in LIB_PACKAGES} | set(EXTRA_DEPENDS)
    return [f"libc6 (>= {glibc})", *sorted(packages)]


def control_text(version: str, arch: str, installed_kib: int, depends: list[str]) -> str:
    return (f"Package: {PACKAGE}\nVersion: {version}\nArchitecture: {arch}\nMaintainer: {MAINTAINER}\n"
            f"Installed-Size: {installed_kib}\nDepends: {', '.join(depends)}\n"
            f"Recommends: {', '.join(RECOMMENDS)}\nSection: graphics\nPriority: optional\n"
            f"Description: {DESCRIPTION}\n")


def copyright_text() -> str:
    return ("Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
            "Upstream-Name: Knockout\n\nFiles: *\nCopyright: Knockout\nLicense: LicenseRef-Proprietary\n\n"
            "Files: opt/knockout/_internal/*\nComment: Third-party libraries and the ISNet model weights.\n"
            " Full licence texts: /opt/knockout/_internal/licenses/THIRD-PARTY-LICENSES.txt\n"
            " SBOM (CycloneDX): /opt/knockout/_internal/licenses/knockout-sbom.cdx.json\n"
            " Model licence and provenance: /opt/knockout/_internal/models/LICENSES/\n"
            "License: various\n")


def stage(bundle: Path, icons: Path, root: Path, version: str = "0") -> None:
    """Lay out the package tree under ``root`` (DEBIAN/ included, without control)."""
    if root.exists():
        shutil.rmtree(root)
    shutil.copytree(bundle, root / "opt" / PACKAGE, symlinks=True)
    # QtWebEngine creates resources/locales (empty) at first start when it can; shipping the
    # folder makes it the package's, so `dpkg -r` leaves nothing behind in /opt/knockout.
    qt_resources = root / "opt" / PACKAGE / "_internal" / "PySide6" / "Qt" / "resources"
    if qt_resources.is_dir():
        (qt_resources / "locales").mkdir(exist_ok=True)
    (root / "usr" / "bin").mkdir(parents=True)
    os.symlink(f"/opt/{PACKAGE}/knockout", root / "usr" / "bin" / "knockout")
    apps = root / "usr" / "share" / "applications"
    apps.mkdir(parents=True)
    shutil.copy2(HERE / "knockout.desktop", apps / "knockout.desktop")
    for px in ICON_SIZES:
        target = root / "usr" / "share" / "icons" / "hicolor" / f"{px}x{px}" / "apps"
        target.mkdir(parents=True)
        shutil.copy2(icons / f"knockout-{px}.png", target / "knockout.png")
    doc = root / "usr" / "share" / "doc" / PACKAGE
    doc.mkdir(parents=True)
    (doc / "copyright").write_text(copyright_text(), encoding="utf-8")
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))
    stamp = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(epoch))
    entry = (f"{PACKAGE} ({version}) stable; urgency=medium\n\n  * Release {version}; see the project's notes.\n\n"
             f" -- {MAINTAINER}  {stamp}\n")
    with gzip.GzipFile(doc / "changelog.gz", "wb", compresslevel=9, mtime=epoch) as fh:
        fh.write(entry.encode("utf-8"))
    debian = root / "DEBIAN"
    debian.mkdir()
    for script in ("postinst", "postrm"):
        shutil.copy2(HERE / script, debian / script)


def normalise(root: Path, epoch: int) -> None:
    """Same permissions and times on every build (dpkg-deb records both)."""
    for path in sorted(root.rglob("*"), reverse=True):
        if path.is_symlink():
            os.utime(path, (epoch, epoch), follow_symlinks=False)
            continue
        # Shared libraries are 0644 (lintian: shared-library-is-executable); programs stay 0755.
        executable = path.is_dir() or (os.access(path, os.X_OK) and ".so" not in path.name)
        path.chmod(0o755 if executable else 0o644)
        os.utime(path, (epoch, epoch))
    os.utime(root, (epoch, epoch))


def build(bundle: Path, icons: Path, out_dir: Path, version: str, work: Path) -> Path:
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                          check=True).stdout.strip()
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "0")) or 0
    root = work / "deb-root"
    stage(bundle, icons, root, version)
    depends = depends_for(system_needed(bundle), glibc_floor(bundle))
    size_kib = sum(p.lstat().st_size for p in root.rglob("*") if p.is_file() or p.is_symlink()) // 1024 + 1
    (root / "DEBIAN" / "control").write_text(control_text(version, arch, size_kib, depends), encoding="utf-8")
    normalise(root, epoch)
    out_dir.mkdir(parents=True, exist_ok=True)
    deb = out_dir / f"{PACKAGE}_{version}_{arch}.deb"
    compression = os.environ.get("KNOCKOUT_DEB_COMPRESSION", "xz")
    subprocess.run(["dpkg-deb", "--root-owner-group", f"-Z{compression}", "--build", str(root), str(deb)],
                   check=True)
    return deb


if __name__ == "__main__":
    if len(sys.argv) != 5:
        raise SystemExit(__doc__)
    bundle_dir, icons_dir, output, ver = sys.argv[1:]
    work_dir = Path(os.environ.get("KNOCKOUT_DEB_WORK", "build/deb"))
    print(build(Path(bundle_dir), Path(icons_dir), Path(output), ver, work_dir))
