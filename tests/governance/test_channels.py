"""Channel presets: per channel, a compliant export passes its rules and a non-compliant one breaks them.

Each test renders a small synthetic cutout through the one export path (render, atomic write,
the rules checked on the file as written) and reads the verdict.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.batch.export_service import ExportService, rule_breaks
from app.batch.pipeline import Job, MaskOptions, Provenance
from app.core import compliance
from app.core.compose import Cutout
from app.governance.channels import channel_presets
from app.governance.presets import Preset
from tests.fakes import FakeEngine

CHANNELS = {p.id: p for p in channel_presets()}
PROVENANCE = Provenance(FakeEngine().spec, MaskOptions())

# A setting that takes each channel's export outside one of its rules, and the verdict expected.
BREAKS = {
    "amazon-main": ({"fill": 0.6}, "fill"),  # the product fills too little of the frame
    "ebay": ({"canvas": (400, 300)}, "too-small"),  # under 500 px on the longest side
    "etsy": ({"canvas": (1600, 900)}, "aspect"),  # 16:9 is neither 4:3 nor 1:1
    "google-shopping": ({"canvas": (200, 200)}, "too-small"),  # under 250×250
    "zalando": ({"canvas": (2048, 2048)}, "aspect"),  # square, not 3:4
    "otto": ({"format": "webp", "background": None}, "format"),  # WebP with transparency
    "allegro": ({"format": "png", "background": None}, "transparent"),
}


def _cutout() -> Cutout:
    """A warm box on a dark backdrop, cut out: 240×180 with the subject in the middle."""
    rgb = np.full((180, 240, 3), (30, 40, 50), np.uint8)
    rgb[45:135, 60:180] = (200, 120, 60)
    alpha = np.zeros((180, 240), np.uint8)
    alpha[45:135, 60:180] = 255
    return Cutout(Image.fromarray(rgb), Image.fromarray(alpha))


def _export(preset: Preset, folder: Path) -> list[dict[str, str]]:
    job = Job(folder / "photo.jpg", folder / f"photo-{preset.id}{preset.settings.extension}", "photo.jpg")
    result = ExportService(preset.settings, preset).export(_cutout(), None, job, PROVENANCE)
    assert result.status == "written", result.message
    return result.violations


def test_every_channel_carries_its_sources_date_unchecked_rules_and_the_note_that_rules_change():
    assert set(CHANNELS) == set(BREAKS)
    for preset in CHANNELS.values():
        channel = preset.channel
        assert channel is not None and preset.rules is not None
        assert channel.read_on == "2026-12-05"
        assert channel.unchecked_rules and "change" in channel.note.lower()
        assert all(source.url.startswith("https://") and source.took for source in channel.sources)
        assert channel.sources or not channel.confirmed  # no page found: said so, not pretended
    assert not CHANNELS["allegro"].channel.confirmed and not CHANNELS["zalando"].channel.confirmed
    amazon = CHANNELS["amazon-main"].rules
    assert (amazon.background, amazon.fill_range, amazon.min_long_side, amazon.max_side) == (
        (255, 255, 255), (0.85, 1.0), 1000, 10000)


@pytest.mark.parametrize("channel", sorted(BREAKS))
def test_a_channels_own_export_complies_with_its_rules(channel, tmp_path):
    assert _export(CHANNELS[channel], tmp_path) == []


@pytest.mark.parametrize("channel", sorted(BREAKS))
def test_an_export_outside_a_channels_rules_is_named_by_the_rule_it_breaks(channel, tmp_path):
    preset = CHANNELS[channel]
    change, code = BREAKS[channel]
    broken = dataclasses.replace(preset, settings=dataclasses.replace(preset.settings, **change))
    assert code in {v["code"] for v in _export(broken, tmp_path)}


def test_file_size_and_pixel_count_limits_are_checked_on_the_written_file(tmp_path):
    google = CHANNELS["google-shopping"]
    path = tmp_path / "big.png"
    Image.new("RGB", (300, 300), (255, 255, 255)).save(path)
    tight = dataclasses.replace(google, rules=dataclasses.replace(google.rules, max_bytes=100, fill_range=None,
                                                                  max_pixels=50_000))
    assert {v.code for v in rule_breaks(path, tight)} == {"file-size", "too-large"}


def test_a_longest_side_over_the_limit_and_an_unlisted_format_are_refused():
    rules = compliance.Rules(max_side=100, formats=("jpg",), colour_space=None)
    image = Image.new("RGB", (120, 80))
    image.format = "TIFF"  # as Image.open sets it for a written file
    assert [v.code for v in compliance.check(image, rules)] == ["too-large", "format"]
