#!/usr/bin/env bash
# Authenticode-sign Windows files from Linux (osslsigncode): the .exe files first, the MSI
# last (same order as sign.ps1). Certificate from the environment, never the repository:
#   KNOCKOUT_SIGN_PFX (path to .pfx/.p12), KNOCKOUT_SIGN_PFX_PASSWORD,
#   KNOCKOUT_TIMESTAMP_URL (RFC 3161; default DigiCert; set to "none" to skip, tests only).
# Usage: packaging/windows/sign_osslsigncode.sh FILE...
set -euo pipefail
: "${KNOCKOUT_SIGN_PFX:?set KNOCKOUT_SIGN_PFX to a .pfx file}"
TS="${KNOCKOUT_TIMESTAMP_URL:-http://timestamp.digicert.com}"
for file in "$@"; do
    args=(sign -pkcs12 "$KNOCKOUT_SIGN_PFX" -pass "${KNOCKOUT_SIGN_PFX_PASSWORD:-}" -h sha256 -n Knockout)
    if [ "$TS" != "none" ]; then args+=(-ts "$TS"); fi
    osslsigncode "${args[@]}" -in "$file" -out "$file.signed"
    mv "$file.signed" "$file"
    echo "signed $file"
done
