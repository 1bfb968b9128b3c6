#!/usr/bin/env bash
# macOS release (run on a Mac with Xcode command line tools; NOT exercised on Linux):
# locked venv -> PyInstaller Knockout.app -> codesign (hardened runtime, entitlements.plist)
# -> notarize + staple the .app -> DMG (signed, notarized, stapled) -> signed .pkg for MDM
# (notarized, stapled) -> SHA256SUMS. Secrets come from the environment:
#   KNOCKOUT_MAC_APP_IDENTITY  "Developer ID Application: <Org> (<TEAMID>)"
#   KNOCKOUT_MAC_PKG_IDENTITY  "Developer ID Installer: <Org> (<TEAMID>)"
#   KNOCKOUT_NOTARY_PROFILE    keychain profile made once with `xcrun notarytool store-credentials`
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
: "${KNOCKOUT_MAC_APP_IDENTITY:?Developer ID Application identity}"
: "${KNOCKOUT_MAC_PKG_IDENTITY:?Developer ID Installer identity}"
: "${KNOCKOUT_NOTARY_PROFILE:?notarytool keychain profile}"
VERSION="$(sed -n 's/^__version__ = "\(.*\)"/\1/p' app/__init__.py)"
ENTITLEMENTS="packaging/macos/entitlements.plist"
APP="build/pyinstaller/dist/Knockout.app"
DIST="dist"
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}" PYTHONHASHSEED=0

python3 -m venv build/venv
build/venv/bin/python -m pip install --quiet --require-hashes --no-deps -r packaging/requirements-build-macos.lock
build/venv/bin/pyinstaller --noconfirm --clean --distpath build/pyinstaller/dist \
    --workpath build/pyinstaller/work build.spec
"$APP/Contents/MacOS/knockout" self-test --device cpu

# Sign inside-out: every Mach-O in the bundle, then the executables, then the .app.
sign() { codesign --force --timestamp --options runtime --entitlements "$ENTITLEMENTS" \
    --sign "$KNOCKOUT_MAC_APP_IDENTITY" "$@"; }
find "$APP/Contents" -type f \( -name '*.so' -o -name '*.dylib' \) -print0 | xargs -0 -n 50 codesign \
    --force --timestamp --options runtime --sign "$KNOCKOUT_MAC_APP_IDENTITY"
find "$APP/Contents/Frameworks" -type f -perm -u+x -print0 2>/dev/null | while IFS= read -r -d '' f; do
    if file "$f" | grep -q Mach-O; then sign "$f"; fi
done
sign "$APP/Contents/MacOS/knockout" "$APP/Contents/MacOS/knockout-app"
sign "$APP"
codesign --verify --deep --strict --verbose=2 "$APP"

notarize() {
    xcrun notarytool submit "$1" --keychain-profile "$KNOCKOUT_NOTARY_PROFILE" --wait --timeout 1h
    xcrun stapler staple "$2"
    xcrun stapler validate "$2"
}
rm -rf "$DIST" && mkdir -p "$DIST"
ditto -c -k --keepParent "$APP" build/Knockout-notarize.zip
notarize build/Knockout-notarize.zip "$APP"
spctl --assess --type execute --verbose "$APP"

DMG="$DIST/Knockout-$VERSION.dmg"
mkdir -p build/dmg && rm -rf build/dmg/* && cp -R "$APP" build/dmg/ && ln -s /Applications build/dmg/Applications
hdiutil create -volname "Knockout $VERSION" -srcfolder build/dmg -fs HFS+ -format UDZO -ov "$DMG"
codesign --force --timestamp --sign "$KNOCKOUT_MAC_APP_IDENTITY" "$DMG"
notarize "$DMG" "$DMG"

# MDM: a signed component package installing into /Applications (no scripts).
PKG="$DIST/Knockout-$VERSION.pkg"
pkgbuild --component "$APP" --install-location /Applications --identifier app.knockout.desktop \
    --version "$VERSION" build/Knockout-component.pkg
productbuild --package build/Knockout-component.pkg --sign "$KNOCKOUT_MAC_PKG_IDENTITY" --timestamp "$PKG"
pkgutil --check-signature "$PKG"
notarize "$PKG" "$PKG"

(cd "$DIST" && shasum -a 256 ./*.dmg ./*.pkg | sed 's|  \./|  |' > SHA256SUMS)
ls -l "$DIST"
