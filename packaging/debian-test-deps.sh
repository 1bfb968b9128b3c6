#!/usr/bin/env bash
# Debian packages the test suite needs, installed only when missing (needs root or sudo):
# npm (model fetch), Chromium (UI tests), Xvfb (the real-window test; Pillow takes its
# screenshot), the X11/xcb libraries Qt's platform plugin loads, and the packaging checkers.
#
# Whether a package is installed is asked of dpkg, never answered by finding a command of
# that name: a stand-in of the same name can sit earlier on the PATH.
set -euo pipefail

# Installed as itself, or provided by an installed package (Node.js builds that carry npm
# provide "npm" and conflict with Debian's own npm package, so installing it would remove them).
provided="$(dpkg-query -W -f='${Status}|${Provides}\n' 2>/dev/null \
  | sed -n 's/^install ok installed|//p' | tr ',' '\n' | sed 's/ *(.*//; s/^ *//')"
deb_installed() {
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ] && return 0
  grep -qxF "$1" <<<"$provided"
}

packages=(
  npm                       # models/fetch.py runs `npm pack`
  chromium                  # tests/desktop/test_ui.py
  xvfb                      # tests/desktop/test_window.py: a real window on a virtual screen
  # what Qt's xcb platform plugin and QtWebEngine load
  libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-xkb1
  libxcb-shape0 libxcb-randr0 libxcb-xinerama0 libxkbcommon-x11-0 libegl1 libgl1 libnss3 libxcomposite1
  libxdamage1 libxrandr2 libxtst6 libxkbfile1
  # packaging checks: desktop file, maintainer scripts, the MSI source (Debian's wixl), GPG signing
  desktop-file-utils shellcheck wixl msitools gpg
)
missing=()
for pkg in "${packages[@]}"; do
  deb_installed "$pkg" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "installing Debian packages the tests need: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
