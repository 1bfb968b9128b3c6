"""app.core.versions and {version} in app.core.naming: new versions, never an old one replaced."""

from __future__ import annotations

import pytest

from app.core import naming
from app.core.atomic import write_atomic
from app.core.versions import versioned


def test_the_next_version_is_one_past_the_highest_on_disk(tmp_path):
    versions = versioned("{stem}-{version}", {"stem": "mug"}, tmp_path, ".png")
    assert versions is not None and versions.path(versions.next_free()) == tmp_path / "mug-v1.png"
    for name in ("mug-v1.png", "mug-v3.png", "mug-v7.jpg", "mugs-v9.png", "mug-v2.png.json", "mug-vx.png"):
        (tmp_path / name).write_bytes(b"x")
    assert versions.next_free() == 4  # v2 was deleted: not reused, and other names do not count
    assert versions.next_free([tmp_path / "mug-v4.png"]) == 5  # given out earlier in the same run


def test_a_template_without_version_has_no_versions_and_a_missing_folder_starts_at_v1(tmp_path):
    assert versioned("{stem}-main", {"stem": "mug"}, tmp_path, ".png") is None
    versions = versioned("{version} {stem}", {"stem": "mug"}, tmp_path / "not-yet", ".webp")
    assert versions is not None and versions.path(versions.next_free()).name == "v1 mug.webp"
    assert versions.number("v12 mug.webp") == 12 and versions.number("v12 mugs.webp") is None


@pytest.mark.parametrize("template", ["{stem}-{version:>4}", "{version}-{stem}-{version}"])
def test_version_is_written_once_and_bare(template):
    with pytest.raises(ValueError, match="once and without a format spec"):
        naming.check_template(template)


def test_version_is_a_name_field():
    assert naming.check_template("{stem}-{preset}-{version}") and naming.has_version("{stem}-{version}")
    assert not naming.has_version("{stem}") and not naming.has_version("{stem")


def test_a_write_that_must_not_replace_refuses_an_existing_file_and_leaves_it(tmp_path):
    target = tmp_path / "mug-v1.png"
    target.write_bytes(b"old")
    with pytest.raises(FileExistsError):
        write_atomic(target, lambda fh: fh.write(b"new"), replace=False)
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["mug-v1.png"]
    write_atomic(tmp_path / "mug-v2.png", lambda fh: fh.write(b"new"), replace=False)
    assert (tmp_path / "mug-v2.png").read_bytes() == b"new"
