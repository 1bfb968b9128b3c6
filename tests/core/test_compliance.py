"""Compliance: an export that breaks its preset's rules is flagged in plain language."""

from __future__ import annotations

import io

from PIL import Image, ImageCms

from app.core.compliance import Rules, check
from app.core.export import ExportSettings, encode

WHITE = (255, 255, 255)
MARKET = Rules(background=WHITE, fill_range=(0.80, 0.95), min_size=100)


def product(size=200, subject=170, bg=WHITE, mode="RGB") -> Image.Image:
    img = Image.new(mode, (size, size), bg if mode == "RGB" else (*bg, 255))
    start = (size - subject) // 2
    img.paste((40, 90, 160) if mode == "RGB" else (40, 90, 160, 255), (start, start, start + subject, start + subject))
    return img


def codes(image: Image.Image, rules: Rules = MARKET) -> list[str]:
    return [v.code for v in check(image, rules)]


def test_a_compliant_marketplace_image_passes_even_after_jpeg():
    fh = io.BytesIO()
    encode(product(), fh, ExportSettings(format="jpg", quality=85))
    assert codes(Image.open(io.BytesIO(fh.getvalue()))) == []


def test_off_white_background_is_flagged():
    problems = check(product(bg=(240, 240, 240)), MARKET)
    assert [p.code for p in problems] == ["background"]
    assert "not pure white" in problems[0].message


def test_transparent_background_is_not_white():
    img = Image.new("RGBA", (200, 200), (0, 0, 0, 0))
    img.paste((40, 90, 160, 255), (15, 15, 185, 185))
    problems = check(img, MARKET)
    assert problems[0].code == "background" and "transparent" in problems[0].message


def test_subject_too_small_or_too_large_for_the_fill_range():
    small = check(product(subject=100), MARKET)
    assert [p.code for p in small] == ["fill"] and "at least 80%" in small[0].message
    assert codes(product(subject=194)) == ["fill"]


def test_empty_canvas_has_no_subject():
    assert codes(Image.new("RGB", (200, 200), WHITE)) == ["no-subject"]


def test_too_small_image_names_its_size():
    problems = check(product(size=50, subject=42), MARKET)
    assert [p.code for p in problems] == ["too-small"] and "50×50 px" in problems[0].message


def test_colour_space_must_be_srgb():
    assert codes(product().convert("CMYK"), Rules()) == ["colour-space"]
    tagged = product()
    tagged.info["icc_profile"] = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
    assert codes(tagged, Rules()) == ["colour-space"]
    tagged.info["icc_profile"] = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    assert codes(tagged, Rules()) == []


def test_unset_rules_check_nothing():
    assert check(Image.new("CMYK", (5, 5)), Rules(colour_space=None)) == []


def test_each_broken_rule_carries_its_numbers_for_the_windows_languages():
    [small] = check(Image.new("RGB", (300, 200), "white"), Rules(min_size=500))
    assert small.as_dict()["params"] == {"variant": "short", "width": 300, "height": 200, "limit": 500}
    [shape] = check(Image.new("RGB", (300, 200), "white"), Rules(aspects=((1, 1), (3, 4))))
    assert shape.params["shapes"] == ["1:1", "3:4"] and "1:1 or 3:4" in shape.message  # the CLI's English stays


def test_the_rules_in_words_and_as_codes_line_up():
    from app.core.compliance import describe, describe_codes

    rules = Rules(background=(255, 255, 255), fill_range=(0.75, 0.9), min_long_side=1000, aspects=((4, 3), (1, 1)))
    words, codes = describe(rules), describe_codes(rules)
    assert len(words) == len(codes) and words[0] == "pure white background"
    assert codes[:3] == [{"code": "background", "params": {"colour": "pure white"}},
                         {"code": "fill-range", "params": {"low": 75, "high": 90}},
                         {"code": "min-long", "params": {"px": 1000}}]
