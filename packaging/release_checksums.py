"""Write ``SHA256SUMS`` for release files and, when a key is given, a detached ``SHA256SUMS.asc``.

The key comes from the environment, never from the repository:
``KNOCKOUT_GPG_KEY_ID`` (a key already in ``GNUPGHOME`` or the default keyring), or
``KNOCKOUT_GPG_KEY`` (an ASCII-armoured private key, imported into a throwaway
GNUPGHOME that is deleted afterwards; ``KNOCKOUT_GPG_PASSPHRASE`` if it has one).
Users verify with ``gpg --verify SHA256SUMS.asc SHA256SUMS && sha256sum -c SHA256SUMS``.
Usage: ``python packaging/release_checksums.py DIST_DIR``.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

SUMS, SIGNATURE = "SHA256SUMS", "SHA256SUMS.asc"


def write_sums(folder: Path) -> Path:
    """``sha256sum``-compatible lines for every regular file in ``folder`` (sorted, not recursive)."""
    lines = []
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.name not in (SUMS, SIGNATURE):
            digest = hashlib.sha256()
            with path.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
            lines.append(f"{digest.hexdigest()}  {path.name}\n")
    out = folder / SUMS
    out.write_text("".join(lines), encoding="utf-8")
    return out


def _gpg(gnupghome: str | None, *args: str, data: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, **({"GNUPGHOME": gnupghome} if gnupghome else {})}
    return subprocess.run(["gpg", "--batch", "--yes", "--no-tty", *args], input=data, env=env,
                          capture_output=True, check=True)


def sign(sums: Path, key_id: str, gnupghome: str | None = None, passphrase: str | None = None) -> Path:
    """Detached, ASCII-armoured signature of ``sums`` next to it."""
    args = ["--local-user", key_id, "--armor", "--detach-sign", "--output", str(sums.with_name(SIGNATURE))]
    if passphrase:
        args = ["--pinentry-mode", "loopback", "--passphrase-fd", "0", *args]
    _gpg(gnupghome, *args, str(sums), data=passphrase.encode() if passphrase else None)
    return sums.with_name(SIGNATURE)


def verify(sums: Path, gnupghome: str | None = None) -> bool:
    try:
        _gpg(gnupghome, "--verify", str(sums.with_name(SIGNATURE)), str(sums))
    except subprocess.CalledProcessError:
        return False
    return True


def sign_from_environment(sums: Path) -> Path | None:
    """Sign with the key the environment names; None (and a note) when it names none."""
    key_id, armoured = os.environ.get("KNOCKOUT_GPG_KEY_ID"), os.environ.get("KNOCKOUT_GPG_KEY")
    passphrase = os.environ.get("KNOCKOUT_GPG_PASSPHRASE")
    if armoured:
        with tempfile.TemporaryDirectory(prefix="knockout-gpg-") as home:
            os.chmod(home, 0o700)
            _gpg(home, "--import", data=armoured.encode())
            if not key_id:
                listing = _gpg(home, "--list-secret-keys", "--with-colons").stdout.decode()
                key_id = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))
            signature = sign(sums, key_id, home, passphrase)
            _gpg(home, "--verify", str(signature), str(sums))
            subprocess.run(["gpgconf", "--kill", "all"], env={**os.environ, "GNUPGHOME": home}, check=False)
            return signature
    if key_id:
        return sign(sums, key_id, os.environ.get("GNUPGHOME"), passphrase)
    print("release_checksums: no KNOCKOUT_GPG_KEY_ID / KNOCKOUT_GPG_KEY: SHA256SUMS left unsigned", file=sys.stderr)
    return None


if __name__ == "__main__":
    dist = Path(sys.argv[1] if len(sys.argv) > 1 else "dist")
    written = write_sums(dist)
    print(written.read_text(encoding="utf-8"), end="")
    signed = sign_from_environment(written)
    if signed:
        print(f"signed: {signed}")
