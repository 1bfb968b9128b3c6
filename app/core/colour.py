"""Colour management: whatever the source profile, the pipeline works in sRGB.

LittleCMS (through Pillow's ImageCms) does the conversion; transforms are cached per
profile because a batch usually repeats the same camera or printer profile.
"""

from __future__ import annotations

import functools
import hashlib
import io

from PIL import Image, ImageCms

SRGB_PROFILE = ImageCms.createProfile("sRGB")
_SRGB_BYTES: bytes | None = None


def srgb_icc_bytes() -> bytes:
    """The sRGB profile we embed in exports."""
    global _SRGB_BYTES
    if _SRGB_BYTES is None:
        _SRGB_BYTES = ImageCms.ImageCmsProfile(SRGB_PROFILE).tobytes()
    return _SRGB_BYTES


def to_srgb(img: Image.Image, icc: bytes | None, warnings: list[str]) -> tuple[Image.Image, str]:
    """Convert an L/RGB/CMYK/LAB image to RGB sRGB; return it with a note on what was done."""
    mode = img.mode
    if icc:
        try:
            transform, name = _transform_for(hashlib.sha256(icc).hexdigest(), icc, mode)
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError) as exc:
            warnings.append(f"embedded colour profile is unusable and was ignored ({exc})")
        else:
            if transform is None:
                return _plain_rgb(img), f"{name} (sRGB)"
            converted = ImageCms.applyTransform(img, transform)
            assert converted is not None  # applyTransform returns None only when in place
            return converted, f"{name} → sRGB"
    if mode == "CMYK":
        return img.convert("RGB"), "CMYK without a usable profile → RGB (naive conversion)"
    if mode == "LAB":
        lab = ImageCms.createProfile("LAB")
        converted = ImageCms.profileToProfile(img, lab, SRGB_PROFILE, outputMode="RGB")
        assert converted is not None
        return converted, "Lab → sRGB"
    return _plain_rgb(img), "no usable profile (assumed sRGB)"


def _plain_rgb(img: Image.Image) -> Image.Image:
    return img if img.mode == "RGB" else img.convert("RGB")


@functools.lru_cache(maxsize=16)
def _transform_for(digest: str, icc: bytes, mode: str) -> tuple[ImageCms.ImageCmsTransform | None, str]:
    """Build (or skip, for sRGB itself) the transform from an embedded profile to sRGB."""
    del digest  # part of the cache key only
    profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    name = (ImageCms.getProfileDescription(profile) or "embedded profile").strip()
    if mode == "RGB" and _is_srgb(name):
        return None, name
    intent = ImageCms.Intent.PERCEPTUAL if mode == "CMYK" else ImageCms.Intent.RELATIVE_COLORIMETRIC
    flags = ImageCms.Flags.BLACKPOINTCOMPENSATION
    transform = ImageCms.buildTransform(profile, SRGB_PROFILE, mode, "RGB", intent, flags)
    return transform, name


def _is_srgb(name: str) -> bool:
    """sRGB-tagged photos (most cameras and phones) need no conversion."""
    lowered = name.lower()
    return lowered.startswith("srgb") or "iec61966-2" in lowered
