"""``knockout models list``: every model with its hash check, declared licence and training data."""

from __future__ import annotations

from pathlib import Path

import pytest

from app import cli, paths
from tests import onnx_graphs as g


@pytest.fixture
def bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, sub in {"bundled_models_dir": "bundle", "machine_models_dir": "machine",
                      "user_models_dir": "user"}.items():
        monkeypatch.setattr(paths, name, lambda sub=sub: tmp_path / sub)
    g.install(tmp_path / "bundle", [g.isnet()])
    return tmp_path / "bundle"


def test_models_list_shows_each_models_licence_and_training_data(bundle, capsys):
    model = g.isnet()
    g.write_manifest(bundle, [g.entry(model, g.save(model, bundle),
                                      training_data="DIS5K, for non-commercial research use only")])
    assert cli.main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:4] == ["id", "family", "size", "licence"]
    section = out.split("Licences and training data\n", 1)[1]
    assert section.splitlines() == ["  tiny-isnet: licence MIT (as declared); training data: "
                                    "DIS5K, for non-commercial research use only"]


def test_a_model_without_training_data_says_not_stated(bundle, capsys):
    assert cli.main(["models", "list"]) == 0
    assert "  tiny-isnet: licence MIT (as declared); training data: not stated" in capsys.readouterr().out
