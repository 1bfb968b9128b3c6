"""Fast checks of the installer definitions (seconds, no PyInstaller run).

The full build is ``make package`` (minutes); these tests check what can be checked
cheaply on Linux: the spec's shape, the .desktop file, the .deb layout and control file
(a real dpkg-deb run over a fake bundle), the MSI source with wixl, the CI workflow and
the macOS entitlements. Tools that are not installed are skipped with a reason.
"""

from __future__ import annotations

import ast
import json
import os
import plistlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.scripts import load_script

REPO = Path(__file__).resolve().parent.parent
PKG = REPO / "packaging"




def _needs(tool: str):
    return pytest.mark.skipif(shutil.which(tool) is None, reason=f"{tool} not installed")


# --- build.spec ------------------------------------------------------------------------------

def test_spec_is_onedir_with_a_windowed_app_and_a_console_cli():
    source = (REPO / "build.spec").read_text(encoding="utf-8")
    tree = ast.parse(source)
    calls = {node.func.id: node for node in ast.walk(tree)
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
    assert "COLLECT" in calls and "onefile" not in source.lower().replace("never one-file", "")
    exes = [node for node in ast.walk(tree) if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name) and node.func.id == "EXE"]
    kwargs = [{k.arg: k.value for k in exe.keywords} for exe in exes]
    named = {ast.literal_eval(k["name"]): ast.literal_eval(k["console"]) for k in kwargs}
    assert named == {"knockout-app": False, "knockout": True}
    assert all(ast.literal_eval(k["exclude_binaries"]) for k in kwargs)  # binaries live in COLLECT


def test_the_accessibility_checker_the_ui_tests_use_can_never_ship():
    from tests.vendor import fetch_axe

    shipped = [REPO / "ui", REPO / "app"]  # build.spec's datas: ui/, app/assets, icons, models, SBOM
    assert not any(fetch_axe.DEST.is_relative_to(folder) for folder in shipped)
    assert not fetch_axe.DEST.is_relative_to(REPO / "models")
    spec = (REPO / "build.spec").read_text(encoding="utf-8")
    assert ".cache" not in spec and "axe" not in spec.lower() and '"tests"' not in spec
    assert not [p for folder in shipped for p in folder.rglob("*axe*") if p.suffix == ".js"]
    if shutil.which("git") and (REPO / ".git").exists():
        ignored = subprocess.run(["git", "check-ignore", "-q", str(fetch_axe.SCRIPT)], cwd=REPO, check=False)
        assert ignored.returncode == 0, "the fetched axe-core must stay out of git"


@pytest.mark.parametrize("module", ["tkinter", "onnx", "pytest", "playwright", "gi", "ray", "pyarrow", "PyQt6", "PyQt5",
                                    "Qt3DCore", "QtQuick3D", "QtMultimedia", "QtBluetooth", "QtDesigner",
                                    "webview.platforms.gtk", "webview.platforms.cef"])
def test_spec_excludes_what_the_app_does_not_use(module):
    assert f'"{module}"' in (REPO / "build.spec").read_text(encoding="utf-8")


def test_ray_is_only_the_pinned_cluster_extra_never_a_dependency_of_the_app():
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    assert not [d for d in project["dependencies"] if d.lower().startswith("ray")]
    assert not [d for name, deps in extras.items() if name != "cluster" for d in deps if d.lower().startswith("ray")]
    assert [d.split("==")[0] for d in extras["cluster"]] == ["ray"] and "==" in extras["cluster"][0]


def test_spec_keeps_the_qt_modules_pywebview_needs():
    source = (REPO / "build.spec").read_text(encoding="utf-8")
    excluded_block = source[source.index("UNUSED_QT"):source.index("if sys.platform.startswith")]
    for needed in ("QtWebEngineWidgets", "QtWebEngineCore", "QtWebChannel", "QtNetwork", "QtWidgets", "QtGui",
                   "QtPrintSupport", "QtCore"):
        assert f'"{needed}"' not in excluded_block
    linux_block = source[source.index("if sys.platform.startswith"):source.index('elif sys.platform == "win32"')]
    for needed in ("QtWebEngineWidgets", "QtWebEngineCore", "QtWebChannel", "QtNetwork", "QtPrintSupport"):
        assert f'"PySide6.{needed}"' in linux_block


def test_linux_build_uses_pyside6_never_gpl_pyqt6():
    """PyQt6 is GPL-3.0-only and the product proprietary: the LGPL binding (PySide6) only."""
    source = (REPO / "build.spec").read_text(encoding="utf-8")
    assert 'UNUSED_QT = [f"PySide6.{m}"' in source and "PyQt6." not in source.replace('"PyQt6.sip"', "")
    for name in ("requirements-build.in", "requirements-build.lock"):
        lines = (PKG / name).read_text(encoding="utf-8").lower().splitlines()
        text = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
        assert "pyside6-webengine==" in text and "pyqt" not in text, name
    for name in ("requirements-build-windows.lock", "requirements-build-macos.lock"):
        text = (PKG / name).read_text(encoding="utf-8").lower()
        assert "pyqt" not in text and "pyside" not in text, name  # no Qt at all there
    assert 'setdefault("QT_API", "pyside6")' in (PKG / "rthook_env.py").read_text(encoding="utf-8")
    for name in ("LGPL-3.0.txt", "GPL-3.0.txt", "QT-LGPL-NOTICE.txt"):
        assert (PKG / "licenses" / name).stat().st_size > 1000, name


def test_gui_entry_explains_a_missing_window_module(monkeypatch, capsys):
    entry = load_script("knockout_gui_entry", PKG / "gui_entry.py")
    monkeypatch.setitem(sys.modules, "app.desktop.window", None)  # `from app.desktop.window import main` now fails
    assert entry.main() == entry.EXIT_NO_WINDOW
    assert "no desktop window" in capsys.readouterr().err


# --- Linux: .desktop, maintainer scripts, .deb ----------------------------------------------

def test_desktop_file_opens_images_from_opt():
    text = (PKG / "linux" / "knockout.desktop").read_text(encoding="utf-8")
    entries = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    assert entries["Exec"] == "/opt/knockout/knockout-app %F" and entries["Icon"] == "knockout"
    assert set(entries["MimeType"].rstrip(";").split(";")) == {
        "image/jpeg", "image/png", "image/webp", "image/tiff", "image/heic"}


@_needs("desktop-file-validate")
def test_desktop_file_validates():
    proc = subprocess.run(["desktop-file-validate", str(PKG / "linux" / "knockout.desktop")],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and "error" not in proc.stdout, proc.stdout


@pytest.mark.parametrize("script", ["postinst", "postrm"])
def test_maintainer_scripts_parse(script):
    path = PKG / "linux" / script
    assert os.access(path, os.X_OK)
    assert subprocess.run(["sh", "-n", str(path)]).returncode == 0


@_needs("shellcheck")
def test_shell_scripts_pass_shellcheck():
    scripts = [PKG / "linux" / "build.sh", PKG / "linux" / "postinst", PKG / "linux" / "postrm",
               PKG / "macos" / "build.sh", PKG / "windows" / "sign_osslsigncode.sh"]
    proc = subprocess.run(["shellcheck", *map(str, scripts)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout


def test_depends_cover_the_system_libraries():
    make_deb = load_script("knockout_make_deb", PKG / "linux" / "make_deb.py")
    depends = make_deb.depends_for({"libc.so.6", "libGL.so.1", "libxcb.so.1", "libm.so.6"}, "2.34")
    assert depends[0] == "libc6 (>= 2.34)" and "libgl1" in depends and "libxcb1" in depends
    with pytest.raises(SystemExit, match="libmystery"):
        make_deb.depends_for({"libmystery.so.1"}, "2.34")


@_needs("dpkg-deb")
def test_deb_layout_and_control_from_a_fake_bundle(tmp_path, monkeypatch):
    make_deb = load_script("knockout_make_deb", PKG / "linux" / "make_deb.py")
    icons = load_script("knockout_make_icons", PKG / "make_icons.py").write_all(tmp_path / "icons")
    bundle = tmp_path / "bundle"
    (bundle / "_internal").mkdir(parents=True)
    for exe in ("knockout", "knockout-app"):
        (bundle / exe).write_text("#!/bin/sh\necho fake\n")
        (bundle / exe).chmod(0o755)
    (bundle / "_internal" / "libfake.so.1").write_bytes(b"not really ELF")
    (bundle / "_internal" / "libfake.so.1").chmod(0o755)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    monkeypatch.setenv("KNOCKOUT_DEB_COMPRESSION", "gzip")
    deb = make_deb.build(bundle, icons["png"].parent, tmp_path / "dist", "9.8.7", tmp_path / "work")
    info = subprocess.run(["dpkg-deb", "-f", str(deb)], capture_output=True, text=True, check=True).stdout
    fields = dict(line.split(": ", 1) for line in info.splitlines() if ": " in line and not line.startswith(" "))
    assert fields["Package"] == "knockout" and fields["Version"] == "9.8.7"
    assert fields["Depends"].startswith("libc6 (>= ") and fields["Section"] == "graphics"
    assert int(fields["Installed-Size"]) > 0 and fields["Maintainer"]
    listing = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True, check=True).stdout
    assert "./usr/bin/knockout -> /opt/knockout/knockout" in listing
    for member in ("./opt/knockout/knockout-app", "./usr/share/applications/knockout.desktop",
                   "./usr/share/icons/hicolor/256x256/apps/knockout.png", "./usr/share/doc/knockout/copyright",
                   "./usr/share/doc/knockout/changelog.gz"):
        assert member in listing
    modes = {line.split()[-1]: line.split()[0] for line in listing.splitlines()}
    assert modes["./opt/knockout/_internal/libfake.so.1"] == "-rw-r--r--"  # libraries are not programs
    assert modes["./opt/knockout/knockout-app"] == "-rwxr-xr-x"
    assert "root/root" in listing and "2023-11-14" in listing  # owner and SOURCE_DATE_EPOCH times
    control = subprocess.run(["dpkg-deb", "-I", str(deb)], capture_output=True, text=True, check=True).stdout
    assert "postinst" in control and "postrm" in control


# --- Windows MSI -----------------------------------------------------------------------------

def _fake_windows_bundle(root: Path) -> Path:
    (root / "_internal").mkdir(parents=True)
    for name in ("knockout.exe", "knockout-app.exe"):
        (root / name).write_bytes(b"MZ fake")
    (root / "_internal" / "base_library.zip").write_bytes(b"PK")
    return root


@_needs("wixl")
@_needs("wixl-heat")
def test_wxs_builds_a_per_machine_msi_without_custom_actions(tmp_path):
    bundle = _fake_windows_bundle(tmp_path / "bundle")
    files = "\n".join("./" + p.relative_to(bundle).as_posix() for p in sorted(bundle.rglob("*")) if p.is_file())
    fragment = subprocess.run(["wixl-heat", "--prefix", "./", "--var", "var.BundleDir", "--directory-ref",
                               "INSTALLFOLDER", "--component-group", "BundleFiles", "--win64"],
                              input=files, capture_output=True, text=True, check=True).stdout
    (tmp_path / "bundle-files.wxs").write_text(fragment)
    msi = tmp_path / "knockout.msi"
    subprocess.run(["wixl", "-a", "x64", "-D", "Version=1.2.3", "-D", "BundleDir=bundle", "-D", "Win64=yes",
                    "-D", "WebView2Fixed=no", "-D", "Toolchain=wixl", "-o", str(msi),
                    str(PKG / "windows" / "knockout.wxs"), str(tmp_path / "bundle-files.wxs")],
                   check=True, capture_output=True, cwd=tmp_path)
    assert msi.stat().st_size > 0
    if shutil.which("msiinfo") is None:
        pytest.skip("msiinfo not installed: MSI built but not inspected")

    def table(name: str) -> list[list[str]]:
        out = subprocess.run(["msiinfo", "export", str(msi), name], capture_output=True, text=True).stdout
        return [line.split("\t") for line in out.splitlines()[3:]]

    properties = dict((row[0], row[1]) for row in table("Property"))
    assert properties["ALLUSERS"] == "1" and properties["ProductVersion"] == "1.2.3"
    assert table("CustomAction") == []  # nothing runs at install time, so nothing can reach the network
    assert {row[1] for row in table("Registry")} == {"2"}  # HKLM only
    assert {row[1] for row in table("Shortcut")} == {"ProgramMenuFolder"}


def test_wxs_keeps_the_webview2_check_and_path_entry_for_wix3():
    text = (PKG / "windows" / "knockout.wxs").read_text(encoding="utf-8")
    assert "F3017226-FE2A-4295-8BDF-00C3A9A7E4C5" in text  # the WebView2 Runtime's client id
    assert 'InstallScope="perMachine"' in text and "<CustomAction" not in text
    assert '<Environment Id="PathEntry"' in text


# --- CI workflow, macOS ----------------------------------------------------------------------

def _load_yaml(path: Path):
    """PyYAML from this environment, else from the system Python (the dev venv may lack it)."""
    try:
        import yaml
    except ImportError:
        system = shutil.which("python3")
        probe = f"import json,sys,yaml; json.dump(yaml.safe_load(open({str(path)!r})), sys.stdout)"
        proc = subprocess.run([system or "python3", "-c", probe], capture_output=True, text=True)
        if proc.returncode != 0:
            pytest.skip("PyYAML is not installed anywhere")
        return json.loads(proc.stdout)
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_release_workflow_is_a_disabled_three_os_template():
    workflow = _load_yaml(PKG / "ci" / "release.yml")
    job = workflow["jobs"]["build"]
    assert job["if"] == "${{ false }}"
    oses = [entry["os"] for entry in job["strategy"]["matrix"]["include"]]
    assert [os_.split("-")[0] for os_ in oses] == ["ubuntu", "windows", "macos"]
    assert workflow["permissions"] == {"contents": "read"}


def test_macos_entitlements_are_minimal():
    entitlements = plistlib.loads((PKG / "macos" / "entitlements.plist").read_bytes())
    assert entitlements == {"com.apple.security.cs.disable-library-validation": True}


# --- packaging/debian-test-deps.sh -------------------------------------------------------------

def _fake_command(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


def _run_test_deps(tmp_path: Path, installed: dict[str, str]) -> list[str]:
    """Runs the script with dpkg-query and apt-get faked; returns what apt-get was asked to install.
    ``installed`` maps each installed package to what it Provides."""
    fake = tmp_path / "bin"
    fake.mkdir()
    status = "\n".join(f"{name} {provides}" for name, provides in installed.items())
    (tmp_path / "status").write_text(status + "\n")
    _fake_command(fake, "dpkg-query", f"""
fmt="$2"; shift 2
if [ $# -eq 0 ]; then  # every installed package: Status|Provides
  while read -r name provides; do echo "install ok installed|$provides"; done < {tmp_path / "status"}
elif grep -q "^$1 " {tmp_path / "status"}; then printf 'install ok installed'
else echo "dpkg-query: no packages found matching $1" >&2; exit 1; fi""")
    _fake_command(fake, "apt-get", f'echo "$@" >> {tmp_path / "apt.log"}')
    _fake_command(fake, "id", "echo 0")
    for stand_in in ("convert", "xwd", "Xvfb", "chromium", "npm", "shellcheck"):
        _fake_command(fake, stand_in, "exit 0")  # commands of those names prove nothing
    proc = subprocess.run(["bash", str(PKG / "debian-test-deps.sh")], capture_output=True, text=True,
                          env={**os.environ, "PATH": f"{fake}:{os.environ['PATH']}"})
    assert proc.returncode == 0, proc.stderr
    log = tmp_path / "apt.log"
    installs = [line.split() for line in log.read_text().splitlines() if " install " in f" {line} "] \
        if log.exists() else []
    return [word for words in installs for word in words if not word.startswith("-") and word != "install"]


def test_test_deps_ask_dpkg_which_packages_are_installed_not_the_path(tmp_path):
    asked = _run_test_deps(tmp_path, {"xvfb": "", "libnss3": ""})
    assert "chromium" in asked and "npm" in asked and "shellcheck" in asked  # stand-ins on the PATH ignored
    assert "xvfb" not in asked and "libnss3" not in asked
    assert not {"imagemagick", "x11-apps"} & set(asked)  # screenshots come from Pillow


def test_test_deps_take_npm_as_installed_when_an_installed_node_js_provides_it(tmp_path):
    asked = _run_test_deps(tmp_path, {"nodejs": "nodejs-dev, nodejs-doc, npm (= 10.0)"})
    assert "npm" not in asked  # Debian's npm would conflict with (and remove) that Node.js
    assert "chromium" in asked
