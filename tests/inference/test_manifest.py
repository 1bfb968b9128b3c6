"""Manifest parsing, family defaults and model discovery (no onnxruntime needed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from app import paths
from app.inference import manifest as mf
from app.inference.manifest import (
    FAMILIES,
    IMAGENET_MEAN,
    IMAGENET_STD,
    InputSpec,
    ManifestError,
    OutputSpec,
    discover,
    load_manifest,
)

SHA = "ab" * 32
ROOT = Path(__file__).resolve().parents[2]


def _entry(**over: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {"id": "m1", "file": "m1.onnx", "sha256": SHA, "family": "isnet"}
    raw.update(over)
    return {k: v for k, v in raw.items() if v is not None}


def _write(folder: Path, *entries: dict[str, Any], default: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = {"schema": 1, "models": list(entries)}
    if default:
        data["default"] = default
    path = folder / "manifest.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _load_one(tmp_path: Path, **over: Any) -> mf.ModelSpec:
    models, _ = load_manifest(_write(tmp_path, _entry(**over)))
    assert len(models) == 1
    return models[0]


def _error(tmp_path: Path, **over: Any) -> str:
    path = _write(tmp_path, _entry(**over))
    with pytest.raises(ManifestError) as info:
        load_manifest(path)
    message = str(info.value)
    assert str(path) in message, "every manifest error names the manifest file"
    return message


# --- parsing -----------------------------------------------------------------------------------


def test_minimal_entry_takes_family_defaults(tmp_path: Path) -> None:
    spec = _load_one(tmp_path)
    assert spec.id == "m1" and spec.name == "m1"
    assert spec.file == tmp_path / "m1.onnx"
    assert spec.sha256 == SHA
    assert spec.input == FAMILIES["isnet"][0] and spec.output == FAMILIES["isnet"][1]
    assert spec.license == "unknown" and spec.provenance == "" and spec.size is None
    assert spec.source == "bundled" and spec.manifest == tmp_path / "manifest.json"


@pytest.mark.parametrize(
    ("family", "size", "mean", "std", "activation", "normalize"),
    [
        ("isnet", (1024, 1024), (127.5,) * 3, (255.0,) * 3, "none", "none"),
        ("u2net", (320, 320), IMAGENET_MEAN, IMAGENET_STD, "none", "minmax"),
        ("birefnet", (1024, 1024), IMAGENET_MEAN, IMAGENET_STD, "sigmoid", "none"),
        ("rmbg", (1024, 1024), (127.5,) * 3, (255.0,) * 3, "none", "minmax"),
        ("modnet", (512, 512), (127.5,) * 3, (127.5,) * 3, "none", "none"),
    ],
)
def test_family_defaults(tmp_path: Path, family: str, size: tuple[int, int], mean: tuple[float, float, float],
                         std: tuple[float, float, float], activation: str, normalize: str) -> None:
    spec = _load_one(tmp_path, family=family)
    assert spec.family == family
    assert spec.input == InputSpec(size=size, mean=mean, std=std)
    assert spec.output == OutputSpec(activation=activation, normalize=normalize)


def test_overrides_replace_only_the_fields_they_name(tmp_path: Path) -> None:
    spec = _load_one(
        tmp_path, family="u2net", name="Custom", size=123, license="Apache-2.0", provenance="IT",
        sha256=SHA.upper(),
        input={"name": "img", "size": [640, 480], "mean": 0.5, "layout": "NHWC", "channels": "BGR"},
        output={"name": "mask", "activation": "sigmoid"},
    )
    assert spec.sha256 == SHA, "sha256 is compared in lower case"
    assert spec.input == InputSpec(name="img", size=(640, 480), mean=(0.5, 0.5, 0.5), std=IMAGENET_STD,
                                   layout="NHWC", channels="BGR")
    # normalize keeps the u2net default; activation is overridden
    assert spec.output == OutputSpec(name="mask", activation="sigmoid", normalize="minmax")
    assert (spec.name, spec.size, spec.license, spec.provenance) == ("Custom", 123, "Apache-2.0", "IT")


def test_output_index_and_source(tmp_path: Path) -> None:
    models, default = load_manifest(_write(tmp_path, _entry(output={"index": 2})), source="user")
    assert models[0].output.index == 2 and models[0].output.name is None
    assert models[0].source == "user" and default is None


def test_bundled_manifest_parses() -> None:
    models, default = load_manifest(ROOT / "models" / "manifest.json")
    by_id = {m.id: m for m in models}
    assert default == "isnet-medium-int8" and default in by_id
    assert by_id["isnet-medium-int8"].file == ROOT / "models" / "isnet-medium-int8.onnx"
    medium = by_id["isnet-medium"]
    assert medium.input == InputSpec(name="input", size=(1024, 1024), mean=(128.0,) * 3, std=(256.0,) * 3,
                                     resizable=True)
    assert not by_id["isnet-medium-fp16"].input.resizable  # the published graph runs at 1024² only
    assert medium.output.name == "output" and medium.license == "MIT"
    assert medium.file == ROOT / "models" / "isnet-medium.onnx"
    # int8 and fp32 score alike on the eval sets: the fastest on a CPU may stand in for the other
    assert by_id["isnet-medium-int8"].weights == medium.weights == by_id["isnet-medium-fp16"].weights
    assert by_id["isnet-small"].weights is None


def test_weights_must_be_a_name(tmp_path: Path) -> None:
    models, _ = load_manifest(_write(tmp_path, _entry(weights="isnet-medium")))
    assert models[0].weights == "isnet-medium"
    with pytest.raises(ManifestError, match="weights must be a name"):
        load_manifest(_write(tmp_path, _entry(weights="")))


def test_resizable_must_be_a_boolean(tmp_path: Path) -> None:
    models, _ = load_manifest(_write(tmp_path, _entry(input={"resizable": True})))
    assert models[0].input.resizable
    with pytest.raises(ManifestError, match=r"input\.resizable must be true or false"):
        load_manifest(_write(tmp_path, _entry(input={"resizable": "yes"})))


@pytest.mark.parametrize("missing", ["id", "file", "sha256", "family"])
def test_missing_field(tmp_path: Path, missing: str) -> None:
    message = _error(tmp_path, **{missing: None})
    assert message.endswith(f"model entry is missing {missing!r}")
    assert ("m1: model entry" in message) == (missing != "id"), "names the entry when it can"


def test_unknown_family(tmp_path: Path) -> None:
    message = _error(tmp_path, family="yolo")
    assert "m1: unknown family 'yolo'" in message and "u2net" in message


@pytest.mark.parametrize("sha", ["abc", "g" * 64, SHA + "0", ""])
def test_bad_sha(tmp_path: Path, sha: str) -> None:
    assert "m1: sha256 must be 64 hex digits" in _error(tmp_path, sha256=sha)


@pytest.mark.parametrize("name", ["sub/m1.onnx", "/etc/m1.onnx", "../m1.onnx", "..", ".", "",
                                  "sub\\m1.onnx", "C:m1.onnx"])
def test_file_with_a_path_component_is_refused(tmp_path: Path, name: str) -> None:
    assert "m1: file must be a plain name inside the model folder" in _error(tmp_path, file=name)


def test_unknown_input_and_output_fields(tmp_path: Path) -> None:
    message = _error(tmp_path, input={"szie": [1, 1]}, output={"activaton": "sigmoid"})
    assert "m1: unknown field(s)" in message
    assert "input.szie" in message and "output.activaton" in message


def test_unknown_entry_field(tmp_path: Path) -> None:
    message = _error(tmp_path, sha265=SHA)
    assert "m1: unknown field(s) sha265" in message


@pytest.mark.parametrize("std", [0, [1, 0, 1], 0.0])
def test_std_zero(tmp_path: Path, std: Any) -> None:
    assert "m1: input.std cannot contain 0" in _error(tmp_path, input={"std": std})


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("input", {"mean": [1, 2]}, "m1: input.mean must be a number or a list of 3 numbers"),
        ("input", {"std": "x"}, "m1: input.std must be a number or a list of 3 numbers"),
        ("input", {"layout": "CHW"}, "m1: input.layout must be NCHW/NHWC"),
        ("input", {"channels": "RGBA"}, "channels RGB/BGR"),
        ("input", {"size": [0, 10]}, "m1: input.size must be two positive integers"),
        ("input", {"size": 1024}, "m1: input.size must be two positive integers"),
        ("output", {"activation": "softmax"}, "output.activation must be one of"),
        ("output", {"normalize": "zscore"}, "output.normalize one of"),
        ("output", {"index": "first"}, "m1: output.index must be a non-negative integer"),
        ("input", [1, 2], "malformed entry"),
    ],
)
def test_bad_values(tmp_path: Path, field: str, value: Any, expected: str) -> None:
    assert expected in _error(tmp_path, **{field: value})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"models": [', "not readable JSON"),
        ("[]", "expected an object with a 'models' list"),
        ('{"models": {}}', "expected an object with a 'models' list"),
        ('{"models": ["isnet"]}', "every model entry must be an object"),
    ],
)
def test_malformed_manifest(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "manifest.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ManifestError, match=expected) as info:
        load_manifest(path)
    assert str(path) in str(info.value)


def test_manifest_not_found_and_not_utf8(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="not found"):
        load_manifest(tmp_path / "manifest.json")
    (tmp_path / "manifest.json").write_bytes(b'{"models": ["\xff"]}')
    with pytest.raises(ManifestError, match="not readable JSON"):
        load_manifest(tmp_path / "manifest.json")


# --- discovery ---------------------------------------------------------------------------------


def _folders(tmp_path: Path) -> list[tuple[Path, str]]:
    return [(tmp_path / "bundled", "bundled"), (tmp_path / "machine", "machine"), (tmp_path / "user", "user")]


def test_discover_merges_bundled_machine_and_user(tmp_path: Path) -> None:
    b, m, u = (folder for folder, _ in _folders(tmp_path))
    _write(b, _entry(id="base", file="base.onnx"), _entry(id="alt", file="alt.onnx"), default="alt")
    _write(m, _entry(id="it-model", file="it.onnx", family="u2net"), default="it-model")
    _write(u, _entry(id="mine", file="mine.onnx", family="birefnet"), default="mine")
    cat = discover(_folders(tmp_path))
    assert cat.problems == []
    assert list(cat.models) == ["base", "alt", "it-model", "mine"]
    assert cat.default == "alt", "only the bundled manifest chooses the default"
    assert cat.get(None).id == "alt" and cat.get("mine").family == "birefnet"
    assert [cat.models[i].source for i in cat.models] == ["bundled", "bundled", "machine", "user"]
    assert cat.models["it-model"].file == m / "it.onnx"
    assert cat.models["mine"].file == u / "mine.onnx"


def test_imported_model_cannot_replace_a_bundled_id(tmp_path: Path) -> None:
    b, m, u = (folder for folder, _ in _folders(tmp_path))
    _write(b, _entry(id="isnet-medium", file="isnet-medium.onnx"))
    _write(m, _entry(id="extra", file="extra.onnx"))
    evil = _write(u, _entry(id="isnet-medium", file="evil.onnx", sha256="cd" * 32),
                  _entry(id="extra", file="other.onnx"))
    cat = discover(_folders(tmp_path))
    assert cat.models["isnet-medium"].file == b / "isnet-medium.onnx"
    assert cat.models["isnet-medium"].sha256 == SHA
    assert cat.models["extra"].source == "machine"
    assert cat.problems == [
        f"{evil}: model id 'isnet-medium' already defined by the bundled manifest; ignored",
        f"{evil}: model id 'extra' already defined by the machine manifest; ignored",
    ]


def test_missing_bundled_manifest_is_reported_but_missing_imports_are_not(tmp_path: Path) -> None:
    _write(tmp_path / "user", _entry(id="mine"))
    cat = discover(_folders(tmp_path))
    assert cat.problems == [f"bundled manifest missing: {tmp_path / 'bundled' / 'manifest.json'}"]
    assert list(cat.models) == ["mine"] and cat.default == "mine"


def test_broken_manifest_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    _write(tmp_path / "bundled", _entry(id="base"))
    (tmp_path / "machine").mkdir()
    (tmp_path / "machine" / "manifest.json").write_text("{oops", encoding="utf-8")
    _write(tmp_path / "user", _entry(id="mine", family="nope"))
    cat = discover(_folders(tmp_path))
    assert list(cat.models) == ["base"]
    assert len(cat.problems) == 2
    assert "machine" in cat.problems[0] and "not readable JSON" in cat.problems[0]
    assert "mine: unknown family 'nope'" in cat.problems[1]


def test_empty_catalogue_and_unknown_model(tmp_path: Path) -> None:
    cat = discover(_folders(tmp_path))
    assert cat.models == {} and cat.default == "isnet-medium"
    with pytest.raises(ManifestError, match=r"unknown model 'isnet-medium' \(available: none\)"):
        cat.get(None)
    _write(tmp_path / "bundled", _entry(id="a"), _entry(id="b", file="b.onnx"))
    with pytest.raises(ManifestError, match=r"unknown model 'zzz' \(available: a, b\)"):
        discover(_folders(tmp_path)).get("zzz")


def test_discover_defaults_to_the_app_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path / "user", _entry(id="mine"))
    monkeypatch.setattr(paths, "machine_models_dir", lambda: tmp_path / "machine")
    monkeypatch.setattr(paths, "user_models_dir", lambda: tmp_path / "user")
    cat = discover()
    assert cat.problems == []
    assert cat.default == "isnet-medium-int8" and cat.models["isnet-medium-int8"].source == "bundled"
    assert cat.models["mine"].source == "user"


# --- import hygiene ----------------------------------------------------------------------------

BLOCKER = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "onnxruntime" or name.startswith("onnxruntime."):
            raise ImportError("onnxruntime is blocked in this test")
sys.meta_path.insert(0, Block())
import app.inference.manifest, app.inference.providers
cat = app.inference.manifest.discover([(__import__("pathlib").Path(sys.argv[1]), "bundled")])
assert "isnet-medium" in cat.models, cat
assert not any(m.startswith("onnxruntime") for m in sys.modules)
print("ok")
"""


def test_manifest_imports_without_onnxruntime() -> None:
    result = subprocess.run([sys.executable, "-c", BLOCKER, str(ROOT / "models")], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_bundled_default_is_the_manifests_declared_id_and_falls_back_when_it_cannot_be_read(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "bundled_models_dir", lambda: tmp_path)
    assert mf.bundled_default() == mf.FALLBACK_MODEL  # no manifest at all
    (tmp_path / mf.MANIFEST_NAME).write_text(json.dumps({"default": "tiny", "models": []}), encoding="utf-8")
    assert mf.bundled_default() == "tiny"
    (tmp_path / mf.MANIFEST_NAME).write_text("[1, 2]", encoding="utf-8")
    assert mf.bundled_default() == mf.FALLBACK_MODEL
    (tmp_path / mf.MANIFEST_NAME).write_bytes(b"\xff\xfe not text")
    assert mf.bundled_default() == mf.FALLBACK_MODEL


# --- licence facts -----------------------------------------------------------------------------


def test_training_data_is_read_and_defaults_to_not_stated(tmp_path: Path) -> None:
    assert _load_one(tmp_path / "a").training_data == mf.TRAINING_DATA_UNKNOWN
    spec = _load_one(tmp_path / "b", training_data="  Licensed stock photos, commercial use allowed. ")
    assert spec.training_data == "Licensed stock photos, commercial use allowed."


@pytest.mark.parametrize("value", ["", "   ", 42, ["DIS5K"], "x" * (mf.TRAINING_DATA_MAX + 1)])
def test_training_data_must_be_a_short_text(tmp_path: Path, value: Any) -> None:
    assert "m1: training_data must be a non-empty text" in _error(tmp_path, training_data=value)


def test_bundled_isnet_weights_state_the_dis5k_training_data_terms() -> None:
    models, _ = load_manifest(ROOT / "models" / "manifest.json")
    for spec in models:
        assert spec.license == "MIT"
        assert "declared MIT by their packager" in spec.training_data
        assert "DIS5K training set is released for non-commercial research use only" in spec.training_data
        assert "xuebinqin/DIS issue #150" in spec.training_data


def test_legal_facts_names_the_declared_licence_then_the_training_data() -> None:
    assert mf.legal_facts("MIT", "DIS5K") == "licence MIT (as declared); training data: DIS5K"
