#!/usr/bin/env bash
# Proves the README's quick start on this machine: clones the repository into a temporary
# folder and runs its two commands exactly as written, `make run` with no display (it then
# cuts out the bundled sample photo) and `make test`, then `make test-fast` with the model
# files moved away (the fast tier must select no real-model test). Prints how long each took.
#
#   packaging/fresh-clone-check.sh [REPO]      # REPO defaults to this checkout (its HEAD)
#   KEEP=1 packaging/fresh-clone-check.sh      # keep the clone for a look afterwards
#
# Run it before you stop whenever setup, dependencies or CI change. It uses the network only
# as setup does (Debian packages, PyPI, the npm registry).
set -euo pipefail
repo="${1:-$(cd "$(dirname "$0")/.." && pwd)}"
work="$(mktemp -d /tmp/knockout-fresh-XXXXXX)"
[ -n "${KEEP:-}" ] || trap 'rm -rf "$work"' EXIT
git clone --quiet "$repo" "$work/knockout"
cd "$work/knockout"
echo "fresh clone of $(git rev-parse --short HEAD) in $PWD"

declare -A took
step() {  # step NAME COMMAND...: runs it, logs to $work/NAME.log, records its wall time
  local name="$1"; shift
  local start=$SECONDS
  echo "== $name: $*"
  if ! "$@" >"$work/$name.log" 2>&1; then
    tail -40 "$work/$name.log"
    echo "FAILED: $name after $((SECONDS - start)) s (log: $work/$name.log; KEEP=1 keeps it)"
    exit 1
  fi
  took[$name]=$((SECONDS - start))
  tail -3 "$work/$name.log"
}

step make-run env -u DISPLAY -u WAYLAND_DISPLAY make run
ls knockout-output/ >/dev/null
step make-test make test
mkdir "$work/models-aside"
mv models/*.onnx "$work/models-aside/"
step make-test-fast make test-fast
mv "$work/models-aside/"*.onnx models/

echo
echo "fresh-clone check passed:"
for name in make-run make-test make-test-fast; do
  printf '  %-15s %4d s\n' "$name" "${took[$name]}"
done
