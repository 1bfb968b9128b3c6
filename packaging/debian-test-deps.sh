#!/usr/bin/env bash
# Debian packages the test suite needs, installed only when missing (needs root or sudo):
# npm (model fetch), Chromium (UI tests), Xvfb + xwd + ImageMagick (real-window test and its
# screenshot), the X11/xcb libraries Qt's platform plugin loads, and the packaging checkers.
set -euo pipefail
missing=()
need_command() { command -v "$1" >/dev/null 2>&1 || missing+=("$2"); }
need_command npm npm
need_command chromium chromium
need_command Xvfb xvfb
need_command xwd x11-apps
need_command convert imagemagick
# packaging checks: desktop file, maintainer scripts, the MSI source (Debian's wixl), GPG signing
need_command desktop-file-validate desktop-file-utils
need_command shellcheck shellcheck
need_command wixl wixl
need_command msiinfo msitools
need_command gpg gpg
for pkg in libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-xkb1 \
    libxcb-shape0 libxcb-randr0 libxcb-xinerama0 libxkbcommon-x11-0 libegl1 libgl1 libnss3 libxcomposite1 \
    libxdamage1 libxrandr2 libxtst6 libxkbfile1; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
