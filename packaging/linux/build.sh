#!/usr/bin/env bash
# Build the Linux release: hash-locked build venv -> SBOM -> PyInstaller bundle -> checks
# -> .deb -> SHA256SUMS (+ SHA256SUMS.asc when a GPG key is in the environment).
# Run from anywhere; `make package` calls it. Outputs land in dist/.
#
# Environment (all optional):
#   PYTHON                  interpreter for the build venvs (default python3, must be 3.11+)
#   KNOCKOUT_BUILD_VENV     build venv (default build/venv; rebuilt when the lock changes)
#   SOURCE_DATE_EPOCH       timestamps in the bundle/.deb (default: last commit time)
#   KNOCKOUT_GPG_KEY_ID / KNOCKOUT_GPG_KEY / KNOCKOUT_GPG_PASSPHRASE  see release_checksums.py
#   KNOCKOUT_DEB_COMPRESSION  xz (default), zstd or gzip
#   KNOCKOUT_SKIP_SELFTEST=1  skip running the frozen self-test (not for releases)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
BUILD="$ROOT/build"
VENV="${KNOCKOUT_BUILD_VENV:-$BUILD/venv}"
TOOLS="$BUILD/tools-venv"
DIST="$ROOT/dist"
LOCK="packaging/requirements-build.lock"
TOOLS_LOCK="packaging/requirements-tools.lock"

if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
    SOURCE_DATE_EPOCH="$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null || echo 315532800)"
fi
export SOURCE_DATE_EPOCH PYTHONHASHSEED=0 PYTHONDONTWRITEBYTECODE=1
VERSION="$(sed -n 's/^__version__ = "\(.*\)"/\1/p' app/__init__.py)"
step() { printf '\n==> %s (%s s)\n' "$1" "$SECONDS"; }

# A venv installed strictly from a hash-pinned lock; reinstalled when the lock changes.
locked_venv() {
    local venv="$1" lock="$2" stamp want
    stamp="$venv/.lock-sha256"
    want="$(sha256sum "$lock" | cut -d' ' -f1)"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        return 0
    fi
    rm -rf "$venv"
    "$PYTHON" -m venv "$venv"
    # proxy-tools (a pywebview dependency) exists only as an sdist: install the locked
    # setuptools first and build without isolation, so even the build backend is hash-checked.
    awk '/^setuptools==/{p=1} p{print; if ($0 !~ /\\$/) exit}' "$lock" > "$venv/setuptools.req"
    pip_locked() { "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
        --require-hashes --no-deps "$@"; }
    if [ -s "$venv/setuptools.req" ]; then pip_locked -r "$venv/setuptools.req"; fi
    pip_locked --no-build-isolation -r "$lock"
    echo "$want" > "$stamp"
}

step "checks"
"$PYTHON" -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ needed"'
for tool in dpkg-deb readelf ldconfig sha256sum; do
    command -v "$tool" >/dev/null || { echo "build.sh: $tool is missing (apt-get install dpkg-dev binutils)"; exit 1; }
done
MODEL="$(sed -n 's/.*"default": "\(.*\)".*/\1/p' models/manifest.json)"
if [ ! -f "models/$MODEL.onnx" ]; then
    echo "build.sh: models/$MODEL.onnx missing: run 'make setup' (it runs models/fetch.py) first" >&2
    exit 1
fi

step "build environment from $LOCK"
locked_venv "$VENV" "$LOCK"
locked_venv "$TOOLS" "$TOOLS_LOCK"

step "CycloneDX SBOM of the build environment"
mkdir -p "$BUILD/sbom"
"$TOOLS/bin/cyclonedx-py" environment --pyproject pyproject.toml --output-reproducible --of JSON \
    -o "$BUILD/sbom/knockout-sbom.cdx.json" "$VENV/bin/python"

step "PyInstaller (build.spec)"
rm -rf "$BUILD/pyinstaller"
KNOCKOUT_SBOM="$BUILD/sbom/knockout-sbom.cdx.json" KNOCKOUT_BUILD_DIR="$BUILD/bundle-inputs" \
    "$VENV/bin/pyinstaller" --noconfirm --clean --log-level WARN \
    --distpath "$BUILD/pyinstaller/dist" --workpath "$BUILD/pyinstaller/work" build.spec
BUNDLE="$BUILD/pyinstaller/dist/knockout"

step "bundle checks"
"$VENV/bin/python" packaging/check_bundle_deps.py "$BUNDLE"
"$BUNDLE/knockout" --version
if [ "${KNOCKOUT_SKIP_SELFTEST:-0}" != "1" ]; then
    "$BUNDLE/knockout" self-test --device cpu
fi
du -sh "$BUNDLE"

step ".deb"
rm -rf "$DIST"
mkdir -p "$DIST"
KNOCKOUT_DEB_WORK="$BUILD/deb" "$VENV/bin/python" packaging/linux/make_deb.py \
    "$BUNDLE" "$BUILD/bundle-inputs/icons" "$DIST" "$VERSION"
cp "$BUILD/sbom/knockout-sbom.cdx.json" "$DIST/knockout-${VERSION}-sbom.cdx.json"

step "SHA256SUMS"
"$VENV/bin/python" packaging/release_checksums.py "$DIST"
ls -l "$DIST"
step "done"
