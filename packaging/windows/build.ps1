<#
.SYNOPSIS
  Windows release (NOT exercised on Linux): locked venv -> PyInstaller -> self-test -> sign the
  .exe files -> harvest + build the per-machine MSI (WiX 3) -> sign the MSI -> SHA256SUMS.
.PARAMETER WebView2Fixed
  "yes" when the WebView2 Fixed Version runtime was unpacked into dist\knockout\_internal\webview2
  beforehand (for Windows 10 fleets without the Evergreen runtime; no download at install time).
#>
param([string]$WebView2Fixed = "no")
$ErrorActionPreference = "Stop"
Set-Location (Join-Path $PSScriptRoot "..\..")
$version = (Select-String -Path app\__init__.py -Pattern '^__version__ = "(.+)"').Matches[0].Groups[1].Value
$env:PYTHONHASHSEED = "0"
if (-not $env:SOURCE_DATE_EPOCH) { $env:SOURCE_DATE_EPOCH = (git log -1 --format=%ct) }

py -3.11 -m venv build\venv
build\venv\Scripts\python -m pip install --quiet --require-hashes --no-deps -r packaging\requirements-build-windows.lock
build\venv\Scripts\pyinstaller --noconfirm --clean --distpath build\pyinstaller\dist --workpath build\pyinstaller\work build.spec
$bundle = "build\pyinstaller\dist\knockout"
& "$bundle\knockout.exe" self-test --device cpu
if ($LASTEXITCODE -ne 0) { throw "frozen self-test failed" }

& packaging\windows\sign.ps1 -Files "$bundle\knockout.exe", "$bundle\knockout-app.exe" -Description "Knockout"

# WiX 3 (candle/light/heat on PATH, e.g. `choco install wixtoolset --version 3.14.1`).
# -ag: component GUIDs derived from paths at link time (stable across builds; no random GUIDs).
heat dir $bundle -nologo -cg BundleFiles -dr INSTALLFOLDER -srd -ag -sfrag -sreg -var var.BundleDir -out build\bundle-files.wxs
candle -nologo -arch x64 "-dVersion=$version" "-dBundleDir=$bundle" "-dWebView2Fixed=$WebView2Fixed" `
    "-dToolchain=wix3" "-dWin64=yes" -out build\wixobj\ packaging\windows\knockout.wxs build\bundle-files.wxs
if ($LASTEXITCODE -ne 0) { throw "candle failed" }
New-Item -ItemType Directory -Force dist | Out-Null
$msi = "dist\Knockout-$version-x64.msi"
light -nologo -spdb -out $msi build\wixobj\knockout.wixobj build\wixobj\bundle-files.wixobj
if ($LASTEXITCODE -ne 0) { throw "light failed" }
& packaging\windows\sign.ps1 -Files $msi -Description "Knockout installer"

Get-ChildItem dist -File | Where-Object Name -ne "SHA256SUMS" | ForEach-Object {
    "{0}  {1}" -f (Get-FileHash $_.FullName -Algorithm SHA256).Hash.ToLower(), $_.Name
} | Set-Content -Encoding ascii dist\SHA256SUMS
Get-ChildItem dist
