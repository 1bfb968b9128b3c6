<#
.SYNOPSIS
  Authenticode-sign Knockout's executables, then (separately) the MSI; SHA-256, RFC 3161 timestamped.
.DESCRIPTION
  Order matters: sign dist\knockout\*.exe BEFORE harvesting them into the MSI, then sign the MSI.
  The certificate comes from the environment, never from the repository:
    KNOCKOUT_SIGN_THUMBPRINT  certificate (with private key / HSM token) in the machine or user store, or
    KNOCKOUT_SIGN_PFX + KNOCKOUT_SIGN_PFX_PASSWORD  path to a .pfx and its password (CI secret).
  KNOCKOUT_TIMESTAMP_URL overrides the timestamp server (default DigiCert's RFC 3161 service).
.EXAMPLE
  .\packaging\windows\sign.ps1 -Files dist\knockout\knockout.exe, dist\knockout\knockout-app.exe
  .\packaging\windows\sign.ps1 -Files dist\Knockout-0.1.0-x64.msi -Description "Knockout installer"
#>
param(
    [Parameter(Mandatory = $true)][string[]]$Files,
    [string]$Description = "Knockout",
    [switch]$AllUnsignedBinaries  # also sign unsigned .dll/.pyd under the given folders (WDAC/AppLocker shops)
)
$ErrorActionPreference = "Stop"
$timestamp = if ($env:KNOCKOUT_TIMESTAMP_URL) { $env:KNOCKOUT_TIMESTAMP_URL } else { "http://timestamp.digicert.com" }
$signtool = Get-ChildItem "${env:ProgramFiles(x86)}\Windows Kits\10\bin\*\x64\signtool.exe" |
    Sort-Object FullName -Descending | Select-Object -First 1
if (-not $signtool) { throw "signtool.exe not found (install the Windows 10/11 SDK)" }

if ($env:KNOCKOUT_SIGN_THUMBPRINT) {
    $identity = @("/sha1", $env:KNOCKOUT_SIGN_THUMBPRINT)
} elseif ($env:KNOCKOUT_SIGN_PFX) {
    $identity = @("/f", $env:KNOCKOUT_SIGN_PFX, "/p", $env:KNOCKOUT_SIGN_PFX_PASSWORD)
} else {
    throw "No signing certificate: set KNOCKOUT_SIGN_THUMBPRINT or KNOCKOUT_SIGN_PFX (+ _PASSWORD)"
}

$targets = @()
foreach ($f in $Files) {
    if ((Test-Path $f -PathType Container) -and $AllUnsignedBinaries) {
        $targets += Get-ChildItem $f -Recurse -Include *.exe, *.dll, *.pyd |
            Where-Object { (Get-AuthenticodeSignature $_.FullName).Status -eq "NotSigned" } |
            ForEach-Object { $_.FullName }
    } else {
        $targets += (Resolve-Path $f).Path
    }
}
foreach ($t in $targets) {
    & $signtool.FullName sign @identity /fd sha256 /tr $timestamp /td sha256 /d $Description $t
    if ($LASTEXITCODE -ne 0) { throw "signtool failed on $t" }
    & $signtool.FullName verify /pa /q $t
    if ($LASTEXITCODE -ne 0) { throw "signature does not verify on $t" }
}
Write-Host "signed and verified $($targets.Count) file(s)"
