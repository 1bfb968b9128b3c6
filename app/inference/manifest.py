"""Models are data: parse ``manifest.json`` files without importing onnxruntime.

Each entry names its file, sha256, family and, where the family's defaults do not fit,
its own input size / normalisation / output / activation. Families exist only where
pre- or post-processing really differs. Manifests are read from the bundle, then the
machine-wide and the per-user model folders (so IT can add models); an imported entry
can never replace a bundled id. Each entry also carries the facts legal asks for: the
licence its publisher declares and what the weights were trained on (``training_data``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from app import paths
from app.core.errors import KnockoutError

MANIFEST_NAME = "manifest.json"
FALLBACK_MODEL = "isnet-medium"  # the default id when no manifest names one
IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)
TRAINING_DATA_UNKNOWN = "not stated"
TRAINING_DATA_MAX = 1000  # characters: a fact for a table, not a document


class ManifestError(KnockoutError):
    """A manifest that cannot be used, with the file and the reason."""

    code = "manifest_error"


@dataclass(frozen=True)
class InputSpec:
    """How a photo becomes the model's input tensor: ``(pixel - mean) / std`` per channel, 0..255.

    ``mean`` and ``std`` follow the tensor's channel order (B, G, R when ``channels`` is BGR).
    """

    name: str | None = None  # None: the model's first input
    size: tuple[int, int] = (1024, 1024)  # width, height
    mean: tuple[float, float, float] = (127.5, 127.5, 127.5)
    std: tuple[float, float, float] = (255.0, 255.0, 255.0)
    layout: str = "NCHW"  # or NHWC
    channels: str = "RGB"  # or BGR
    # The graph runs at any size and batch (models/derive.py any-input-size), not only ``size``
    # one photo at a time: what the window's quick first look and batched views need.
    resizable: bool = False


@dataclass(frozen=True)
class OutputSpec:
    """Which output holds the matte and how to turn it into a probability."""

    name: str | None = None  # None: use ``index``
    index: int = 0
    activation: str = "none"  # none | sigmoid
    normalize: str = "none"  # none | minmax


@dataclass(frozen=True)
class ModelSpec:
    id: str
    name: str
    file: Path
    sha256: str
    family: str
    input: InputSpec
    output: OutputSpec
    size: int | None = None
    license: str = "unknown"  # as declared by whoever publishes the weights
    provenance: str = ""
    # What the weights were trained on and under what terms, as far as known: a declared licence
    # covers the weights, not the data they learnt from, and legal asks about both.
    training_data: str = TRAINING_DATA_UNKNOWN
    source: str = "bundled"  # bundled | machine | user
    manifest: Path | None = field(default=None, compare=False)
    # Variants of the same weights share this name (int8, fp32, fp16 of one network): equal in
    # quality on the eval sets, so the fastest on a CPU may stand in for another (app.inference.variants).
    weights: str | None = None


# Defaults per family; a manifest entry overrides any field it names.
FAMILIES: dict[str, tuple[InputSpec, OutputSpec]] = {
    "isnet": (InputSpec(size=(1024, 1024)), OutputSpec()),
    "u2net": (
        InputSpec(size=(320, 320), mean=IMAGENET_MEAN, std=IMAGENET_STD),
        OutputSpec(normalize="minmax"),
    ),
    "birefnet": (
        InputSpec(size=(1024, 1024), mean=IMAGENET_MEAN, std=IMAGENET_STD),
        OutputSpec(activation="sigmoid"),
    ),
    "rmbg": (InputSpec(size=(1024, 1024)), OutputSpec(normalize="minmax")),
    "modnet": (InputSpec(size=(512, 512), std=(127.5, 127.5, 127.5)), OutputSpec()),
}
ACTIVATIONS = ("none", "sigmoid")
NORMALIZATIONS = ("none", "minmax")
ENTRY_FIELDS = frozenset(
    {"id", "name", "file", "sha256", "size", "family", "input", "output", "license", "provenance", "derive",
     "weights", "training_data"}
)


def legal_facts(license: str, training_data: str) -> str:
    """One line per model for ``models list`` and ``diagnose``: the declared licence, then the training data."""
    return f"licence {license} (as declared); training data: {training_data}"


def _triple(value: Any, what: str) -> tuple[float, float, float]:
    if isinstance(value, (int, float)):
        return (float(value),) * 3
    if isinstance(value, list) and len(value) == 3 and all(isinstance(v, (int, float)) for v in value):
        return (float(value[0]), float(value[1]), float(value[2]))
    raise ManifestError(f"{what} must be a number or a list of 3 numbers")


def _parse_entry(raw: dict[str, Any], folder: Path, source: str, manifest: Path) -> ModelSpec:
    try:
        model_id = str(raw["id"])
        family = str(raw["family"])
        file_name = str(raw["file"])
        sha = str(raw["sha256"]).lower()
    except KeyError as exc:
        which = f"{raw['id']}: " if "id" in raw else ""
        raise ManifestError(f"{which}model entry is missing {exc.args[0]!r}") from None
    if family not in FAMILIES:
        raise ManifestError(f"{model_id}: unknown family {family!r} (known: {', '.join(FAMILIES)})")
    if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
        raise ManifestError(f"{model_id}: sha256 must be 64 hex digits")
    # Checked with both path flavours so a manifest means the same on every platform.
    if file_name in ("", ".", "..") or any(
        flavour(file_name).name != file_name for flavour in (PurePosixPath, PureWindowsPath)
    ):
        raise ManifestError(f"{model_id}: file must be a plain name inside the model folder")
    unknown = sorted(set(raw) - ENTRY_FIELDS)
    if unknown:
        raise ManifestError(f"{model_id}: unknown field(s) {', '.join(unknown)}")
    base_in, base_out = FAMILIES[family]
    inp = dict(raw.get("input") or {})
    out = dict(raw.get("output") or {})
    in_spec = base_in
    if "size" in inp:
        size = inp.pop("size")
        if not (isinstance(size, list) and len(size) == 2
                and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size)):
            raise ManifestError(f"{model_id}: input.size must be two positive integers [width, height]")
        in_spec = replace(in_spec, size=(size[0], size[1]))
    if "mean" in inp:
        in_spec = replace(in_spec, mean=_triple(inp.pop("mean"), f"{model_id}: input.mean"))
    if "std" in inp:
        in_spec = replace(in_spec, std=_triple(inp.pop("std"), f"{model_id}: input.std"))
    if 0.0 in in_spec.std:
        raise ManifestError(f"{model_id}: input.std cannot contain 0")
    if "resizable" in inp:
        resizable = inp.pop("resizable")
        if not isinstance(resizable, bool):
            raise ManifestError(f"{model_id}: input.resizable must be true or false")
        in_spec = replace(in_spec, resizable=resizable)
    for key in ("name", "layout", "channels"):
        if key in inp:
            in_spec = replace(in_spec, **{key: inp.pop(key)})
    if in_spec.layout not in ("NCHW", "NHWC") or in_spec.channels not in ("RGB", "BGR"):
        raise ManifestError(f"{model_id}: input.layout must be NCHW/NHWC and channels RGB/BGR")
    out_spec = replace(base_out, **{k: out.pop(k) for k in ("name", "index", "activation", "normalize")
                                    if k in out})
    if not isinstance(out_spec.index, int) or isinstance(out_spec.index, bool) or out_spec.index < 0:
        raise ManifestError(f"{model_id}: output.index must be a non-negative integer")
    if out_spec.activation not in ACTIVATIONS or out_spec.normalize not in NORMALIZATIONS:
        raise ManifestError(f"{model_id}: output.activation must be one of {ACTIVATIONS}, "
                            f"output.normalize one of {NORMALIZATIONS}")
    if inp or out:
        unknown = sorted([f"input.{k}" for k in inp] + [f"output.{k}" for k in out])
        raise ManifestError(f"{model_id}: unknown field(s) {', '.join(unknown)}")
    weights = raw.get("weights")
    if weights is not None and not (isinstance(weights, str) and weights):
        raise ManifestError(f"{model_id}: weights must be a name shared by variants of the same weights")
    training_data = raw.get("training_data", TRAINING_DATA_UNKNOWN)
    if not (isinstance(training_data, str) and training_data.strip() and len(training_data) <= TRAINING_DATA_MAX):
        raise ManifestError(f"{model_id}: training_data must be a non-empty text of at most {TRAINING_DATA_MAX} "
                            "characters (what the weights were trained on, and its terms)")
    return ModelSpec(
        id=model_id,
        name=str(raw.get("name", model_id)),
        file=folder / file_name,
        sha256=sha,
        family=family,
        input=in_spec,
        output=out_spec,
        size=raw.get("size"),
        license=str(raw.get("license", "unknown")),
        provenance=str(raw.get("provenance", "")),
        training_data=training_data.strip(),
        source=source,
        manifest=manifest,
        weights=weights,
    )


def load_manifest(path: Path, source: str = "bundled") -> tuple[list[ModelSpec], str | None]:
    """Parse one manifest; returns its models and its declared default id (if any)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ManifestError(f"{path}: not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"{path}: not readable JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("models"), list):
        raise ManifestError(f"{path}: expected an object with a 'models' list")
    models = []
    for raw in data["models"]:
        if not isinstance(raw, dict):
            raise ManifestError(f"{path}: every model entry must be an object")
        try:
            models.append(_parse_entry(raw, path.parent, source, path))
        except ManifestError as exc:
            raise ManifestError(f"{path}: {exc}") from None
        except (TypeError, ValueError) as exc:
            raise ManifestError(f"{path}: malformed entry ({exc})") from None
    return models, data.get("default")


def bundled_default() -> str:
    """The bundled manifest's declared default model id, read cheaply (no entry is checked, no folder
    searched): what the settings and the command line start from before any model is loaded."""
    try:
        data = json.loads((paths.bundled_models_dir() / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return FALLBACK_MODEL
    declared = data.get("default") if isinstance(data, dict) else None
    return declared if isinstance(declared, str) and declared else FALLBACK_MODEL


@dataclass
class Catalogue:
    """Every usable model, the default id, and the problems met while reading manifests."""

    models: dict[str, ModelSpec]
    default: str
    problems: list[str] = field(default_factory=list)

    def get(self, model_id: str | None) -> ModelSpec:
        wanted = model_id or self.default
        try:
            return self.models[wanted]
        except KeyError:
            known = ", ".join(sorted(self.models)) or "none"
            raise ManifestError(f"unknown model {wanted!r} (available: {known})") from None


def discover(folders: list[tuple[Path, str]] | None = None) -> Catalogue:
    """Read the bundled manifest, then machine and user folders; bundled ids always win."""
    if folders is None:
        folders = [
            (paths.bundled_models_dir(), "bundled"),
            (paths.machine_models_dir(), "machine"),
            (paths.user_models_dir(), "user"),
        ]
    models: dict[str, ModelSpec] = {}
    default: str | None = None
    problems: list[str] = []
    for folder, source in folders:
        manifest = folder / MANIFEST_NAME
        if not manifest.is_file():
            if source == "bundled":
                problems.append(f"bundled manifest missing: {manifest}")
            continue
        try:
            found, declared = load_manifest(manifest, source)
        except ManifestError as exc:
            problems.append(str(exc))
            continue
        if source == "bundled" and declared:
            default = declared
        for spec in found:
            if spec.id in models:
                problems.append(f"{manifest}: model id {spec.id!r} already defined by the "
                                f"{models[spec.id].source} manifest; ignored")
                continue
            models[spec.id] = spec
    if default is None:
        default = next(iter(models), FALLBACK_MODEL)
    return Catalogue(models, default, problems)
