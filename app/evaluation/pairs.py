"""Match photos to their ground-truth masks (and optional ignore / true-foreground layers) by stem."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import ImageOps

from app.core.decode import DEFAULT_MAX_PIXELS, is_image_name, open_checked
from app.core.errors import ImageError


@dataclass
class Pair:
    """One photo and the layers that describe its truth; absent optional layers are None."""

    image: Path
    mask: Path
    ignore: Path | None = None
    fg: Path | None = None

    @property
    def name(self) -> str:
        return self.image.name


@dataclass
class Matching:
    pairs: list[Pair]
    unmatched: list[str] = field(default_factory=list)  # photos without a mask
    duplicates: list[str] = field(default_factory=list)  # stems with more than one mask/layer file


def _images_by_stem(folder: Path, duplicates: list[str]) -> dict[str, Path]:
    """Image files directly in ``folder`` keyed by stem; a repeated stem keeps the first (sorted)."""
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if not is_image_name(path) or not path.is_file():
            continue
        if path.stem in found:
            duplicates.append(path.name)
            continue
        found[path.stem] = path
    return found


def match(images: Path, masks: Path, ignore: Path | None = None, fg: Path | None = None) -> Matching:
    """Pair every photo in ``images`` with the file of the same stem in ``masks`` (and the layers)."""
    duplicates: list[str] = []
    mask_by_stem = _images_by_stem(masks, duplicates)
    ignore_by_stem = _images_by_stem(ignore, duplicates) if ignore else {}
    fg_by_stem = _images_by_stem(fg, duplicates) if fg else {}
    result = Matching([], duplicates=duplicates)
    for path in sorted(images.iterdir()):
        if not is_image_name(path) or not path.is_file():
            continue
        mask = mask_by_stem.get(path.stem)
        if mask is None or mask.resolve() == path.resolve():
            result.unmatched.append(path.name)
            continue
        result.pairs.append(Pair(path, mask, ignore_by_stem.get(path.stem), fg_by_stem.get(path.stem)))
    return result


class SizeMismatch(ImageError):
    code = "size_mismatch"


def load_mask(path: Path, size: tuple[int, int]) -> np.ndarray:
    """A mask file of ``size`` (the photo's) as uint8 0..255 exactly as stored.

    No colour management: masks are data, not photos. 16-bit and float masks are scaled to
    8 bits; RGB masks are read as their luminance. The size is checked from the header,
    before decoding, so a mismatched (or huge) file is refused cheaply.
    """
    label = str(path)
    # through the decoder's guards (formats, pixel limit, typed errors); no photo is larger than this
    with open_checked(path, max(size[0] * size[1], DEFAULT_MAX_PIXELS), label) as opened:
        if opened.size not in (size, size[::-1]):
            raise SizeMismatch(f"{path.name} is {opened.width}×{opened.height}, the photo {size[0]}×{size[1]}",
                               label)
        opened.load()
        img = ImageOps.exif_transpose(opened)
        if img.size != size:
            raise SizeMismatch(f"{path.name} is {img.width}×{img.height}, the photo {size[0]}×{size[1]}", label)
        if img.mode in ("I", "I;16", "I;16L", "I;16B", "I;16N"):
            wide = np.asarray(img).astype(np.uint32)
            sixteen = img.mode.startswith("I;16") or int(wide.max(initial=0)) > 255
            return ((np.minimum(wide, 65535) * 255 + 32767) // 65535 if sixteen else wide).astype(np.uint8)
        if img.mode == "F":
            arr = np.nan_to_num(np.asarray(img, dtype=np.float32))
            scale = 255.0 if float(arr.max(initial=0.0)) <= 1.0 else 1.0
            return (np.clip(arr * scale, 0, 255) + 0.5).astype(np.uint8)
        return np.asarray(img.convert("L"))
