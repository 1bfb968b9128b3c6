"""The release helpers in packaging/: checksums + GPG signature, build comparison, bundle inputs.

GPG tests use a throwaway key made in a temporary GNUPGHOME; nothing touches a real keyring.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import json
import os
import shutil
import subprocess
import tempfile
import types
from pathlib import Path

import pytest

from tests.scripts import load_script

PKG = Path(__file__).resolve().parent.parent / "packaging"




checksums = load_script("knockout_release_checksums", PKG / "release_checksums.py")
compare_builds = load_script("knockout_compare_builds", PKG / "compare_builds.py")
bundle_inputs = load_script("knockout_bundle_inputs", PKG / "bundle_inputs.py")


# --- SHA256SUMS and its signature --------------------------------------------------------------

@pytest.fixture
def gnupghome():
    """A throwaway keyring with one passphrase-less ed25519 signing key (short path: agent socket)."""
    if shutil.which("gpg") is None:
        pytest.skip("gpg not installed")
    home = tempfile.mkdtemp(prefix="ko-gpg-", dir="/tmp")
    os.chmod(home, 0o700)
    env = {**os.environ, "GNUPGHOME": home}
    subprocess.run(["gpg", "--batch", "--passphrase", "", "--quick-gen-key", "Knockout Test <test@knockout.invalid>",
                    "ed25519", "sign", "1d"], env=env, check=True, capture_output=True)
    yield home
    subprocess.run(["gpgconf", "--kill", "all"], env=env, check=False)
    shutil.rmtree(home, ignore_errors=True)


def _release_dir(tmp_path: Path) -> Path:
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "knockout_1.0_amd64.deb").write_bytes(b"deb payload")
    (dist / "knockout-1.0-sbom.cdx.json").write_text("{}")
    return dist


def test_sums_match_sha256sum(tmp_path):
    dist = _release_dir(tmp_path)
    sums = checksums.write_sums(dist)
    lines = sums.read_text().splitlines()
    assert lines[1] == f"{hashlib.sha256(b'deb payload').hexdigest()}  knockout_1.0_amd64.deb"
    if shutil.which("sha256sum"):
        assert subprocess.run(["sha256sum", "--check", "--quiet", "SHA256SUMS"], cwd=dist).returncode == 0


def test_signature_verifies_and_catches_tampering(tmp_path, gnupghome):
    sums = checksums.write_sums(_release_dir(tmp_path))
    checksums.sign(sums, "test@knockout.invalid", gnupghome)
    assert "BEGIN PGP SIGNATURE" in (sums.parent / "SHA256SUMS.asc").read_text()
    assert checksums.verify(sums, gnupghome)
    sums.write_text(sums.read_text().replace("deb", "bed"))
    assert not checksums.verify(sums, gnupghome)


def test_armoured_key_from_the_environment(tmp_path, gnupghome, monkeypatch):
    env = {**os.environ, "GNUPGHOME": gnupghome}
    armoured = subprocess.run(["gpg", "--batch", "--armor", "--export-secret-keys"], env=env,
                              capture_output=True, text=True, check=True).stdout
    monkeypatch.delenv("KNOCKOUT_GPG_KEY_ID", raising=False)
    monkeypatch.setenv("KNOCKOUT_GPG_KEY", armoured)
    monkeypatch.setenv("GNUPGHOME", "/nonexistent")  # must not be used: the key goes to a temp home
    sums = checksums.write_sums(_release_dir(tmp_path))
    assert checksums.sign_from_environment(sums) is not None
    assert checksums.verify(sums, gnupghome)  # checked with the original public key


def test_no_key_leaves_the_sums_unsigned(tmp_path, monkeypatch, capsys):
    for var in ("KNOCKOUT_GPG_KEY", "KNOCKOUT_GPG_KEY_ID"):
        monkeypatch.delenv(var, raising=False)
    sums = checksums.write_sums(_release_dir(tmp_path))
    assert checksums.sign_from_environment(sums) is None
    assert not (sums.parent / "SHA256SUMS.asc").exists() and "unsigned" in capsys.readouterr().err


# --- compare_builds ---------------------------------------------------------------------------

def _tree(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def test_identical_trees_are_reproducible(tmp_path):
    files = {"knockout": b"elf", "_internal/models/manifest.json": b"{}"}
    a, b = _tree(tmp_path / "a", files), _tree(tmp_path / "b", files)
    os.symlink("knockout", a / "link")
    os.symlink("knockout", b / "link")
    result = compare_builds.compare(compare_builds.digest_tree(a), compare_builds.digest_tree(b))
    assert result.equal and len(result.identical) == 3
    assert compare_builds.main([str(a), str(b)]) == 0


def test_differences_are_listed_with_reasons(tmp_path, capsys):
    a = _tree(tmp_path / "a", {"knockout": b"1", "_internal/base_library.zip": b"x", "_internal/x.so": b"s",
                               "gone.txt": b""})
    b = _tree(tmp_path / "b", {"knockout": b"2", "_internal/base_library.zip": b"y", "_internal/x.so": b"s",
                               "new.txt": b""})
    result = compare_builds.compare(compare_builds.digest_tree(a), compare_builds.digest_tree(b))
    assert not result.equal and result.only_a == ["gone.txt"] and result.only_b == ["new.txt"]
    assert "PYZ" in result.different["knockout"] and "SOURCE_DATE_EPOCH" in result.different[
        "_internal/base_library.zip"]
    assert compare_builds.main([str(a), str(b), "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["only_b"] == ["new.txt"]


# --- bundle inputs: shipped models, licences --------------------------------------------------

def _models(tmp_path: Path, content: bytes = b"weights") -> Path:
    folder = tmp_path / "models"
    (folder / "LICENSES").mkdir(parents=True)
    (folder / "LICENSES" / "MODEL.md").write_text("MIT")
    (folder / "a.onnx").write_bytes(content)
    entries = [{"id": "a", "file": "a.onnx", "sha256": hashlib.sha256(b"weights").hexdigest()},
               {"id": "b", "file": "b.onnx", "sha256": "0" * 64}]
    (folder / "manifest.json").write_text(json.dumps({"schema": 1, "default": "a", "models": entries}))
    return folder


def test_bundle_lists_only_the_shipped_models(tmp_path):
    datas = bundle_inputs.bundle_models(_models(tmp_path), tmp_path / "out")
    written = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert written["default"] == "a" and [m["id"] for m in written["models"]] == ["a"]
    assert (str(tmp_path / "models" / "a.onnx"), "models") in datas
    assert (str(tmp_path / "models" / "LICENSES"), "models/LICENSES") in datas


def test_bundle_refuses_a_model_that_does_not_match(tmp_path):
    with pytest.raises(SystemExit, match="does not match"):
        bundle_inputs.bundle_models(_models(tmp_path, b"tampered"), tmp_path / "out")
    with pytest.raises(SystemExit, match="missing"):
        bundle_inputs.bundle_models(_models(tmp_path / "2"), tmp_path / "out", ["b"])


def test_licences_cover_bundled_distributions(tmp_path):
    tops = bundle_inputs.toc_top_levels([("numpy.core", "/x", "PYMODULE")], [("PIL/_imaging.so", "/y", "BINARY")])
    assert {"numpy", "PIL"} <= tops
    dists = bundle_inputs.bundled_distributions(tops)
    names = {d.metadata["Name"].lower() for d in dists}
    assert {"numpy", "pillow"} <= names and "pytest" not in names
    model_licences = tmp_path / "LICENSES"
    model_licences.mkdir()
    (model_licences / "ISNET.md").write_text("ISNet weights: MIT")
    txt, table = bundle_inputs.write_licences(dists, tmp_path / "out", model_licences)
    text = txt.read_text()
    assert f"numpy {md.version('numpy')}" in text and "ISNet weights: MIT" in text
    rows = {row["name"].lower(): row for row in json.loads(table.read_text())}
    assert rows["numpy"]["license_files"] and rows["numpy"]["copyleft"] is False
    assert rows["numpy"]["gpl_only"] is False


@pytest.mark.parametrize(("licence", "expected"), [
    ("GPL-3.0-only", True),                                   # PyQt6, PyQt6-WebEngine
    ("GPL v3", True), ("AGPL-3.0-or-later", True),
    ("GNU General Public License v3 (GPLv3)", True),
    ("LGPL-3.0-only OR GPL-2.0-only OR GPL-3.0-only", False),  # PySide6, shiboken6, Qt
    ("LGPL v3", False), ("MIT", False), ("BSD-3-Clause AND 0BSD AND MIT", False),
    ("GPL-3.0-only OR LicenseRef-Commercial", False),
    ("GNU Library or Lesser General Public License (LGPL); GNU General Public License (GPL)", False),
])
def test_gpl_only_licences_are_told_apart_from_lgpl_options(licence, expected):
    assert bundle_inputs.gpl_only(licence) is expected


def test_lgpl_distributions_without_licence_files_get_the_lgpl_and_gpl_texts(tmp_path):
    fake = types.SimpleNamespace(  # PySide6 wheels carry no LICENSE file
        version="6.12.0", files=[],
        metadata={"Name": "PySide6_Essentials", "License-Expression": "LGPL-3.0-only OR GPL-2.0-only OR GPL-3.0-only"})
    written = bundle_inputs.write_licences([fake], tmp_path, None)
    names = {p.name for p in written}
    assert {"LGPL-3.0.txt", "GPL-3.0.txt", "QT-LGPL-NOTICE.txt"} <= names
    text = (tmp_path / "THIRD-PARTY-LICENSES.txt").read_text()
    assert "GNU LESSER GENERAL PUBLIC LICENSE" in text and "GNU GENERAL PUBLIC LICENSE" in text
    row = json.loads((tmp_path / "third-party-licenses.json").read_text())[0]
    assert row["gpl_only"] is False and row["license_files"] == ["LGPL-3.0.txt", "GPL-3.0.txt"]


def test_icons_are_drawn_in_every_format(tmp_path):
    from PIL import Image

    icons = load_script("knockout_make_icons", PKG / "make_icons.py").write_all(tmp_path)
    with Image.open(icons["png512"]) as png:
        assert png.size == (512, 512) and png.mode == "RGBA"
    with Image.open(icons["ico"]) as ico:
        assert (256, 256) in ico.info["sizes"]
    assert icons["icns"].read_bytes()[:4] == b"icns"
