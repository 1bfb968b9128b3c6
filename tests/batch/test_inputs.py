import os
import socket
from pathlib import Path

import pytest

from app.batch import inputs
from tests.fakes import photo


def test_folder_is_walked_recursively_and_tree_mirrored(tmp_path):
    photo(tmp_path / "in" / "a.jpg")
    photo(tmp_path / "in" / "sub" / "deeper" / "b.png")
    (tmp_path / "in" / "notes.txt").write_text("not an image")
    sources, problems = inputs.collect([str(tmp_path / "in")])
    assert problems == []
    jobs, early = inputs.plan(sources, tmp_path / "out", ".png")
    assert early == []
    outs = sorted(j.output.relative_to(tmp_path / "out").as_posix() for j in jobs)
    assert outs == ["a.png", "sub/deeper/b.png"]


def test_glob_patterns_expand_and_a_pattern_matching_nothing_is_reported(tmp_path):
    photo(tmp_path / "x1.jpg")
    photo(tmp_path / "x2.jpg")
    sources, problems = inputs.collect([str(tmp_path / "x*.jpg"), str(tmp_path / "nothing*.png")])
    assert sorted(s.path.name for s in sources) == ["x1.jpg", "x2.jpg"]
    assert [p.code for p in problems] == ["no_match"]


def test_folder_without_images_and_missing_path_are_reported_by_name(tmp_path):
    (tmp_path / "empty").mkdir()
    sources, problems = inputs.collect([str(tmp_path / "empty"), str(tmp_path / "gone.jpg")])
    assert sources == []
    by_label = {p.label: p for p in problems}
    assert by_label[str(tmp_path / "empty")].code == "no_images"
    assert "does not exist" in by_label[str(tmp_path / "gone.jpg")].message


def test_same_file_given_twice_is_processed_once(tmp_path):
    photo(tmp_path / "a.jpg")
    sources, _ = inputs.collect([str(tmp_path / "a.jpg"), str(tmp_path / "a.jpg"), str(tmp_path)])
    assert len(sources) == 1


def test_name_collisions_get_numbered_instead_of_overwriting_each_other(tmp_path):
    photo(tmp_path / "one" / "a.jpg")
    photo(tmp_path / "two" / "a.jpg")
    sources, _ = inputs.collect([str(tmp_path / "one" / "a.jpg"), str(tmp_path / "two" / "a.jpg")])
    jobs, _ = inputs.plan(sources, tmp_path / "out", ".png")
    assert sorted(j.output.name for j in jobs) == ["a-2.png", "a.png"]


@pytest.mark.parametrize("existing", ["refuse", "skip"])
def test_a_versioned_name_plans_the_next_version_for_each_source_whatever_exists(tmp_path, existing):
    photo(tmp_path / "one" / "a.jpg")
    photo(tmp_path / "two" / "a.jpg")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "a-v1.png").write_bytes(b"old")
    sources, _ = inputs.collect([str(tmp_path / "one" / "a.jpg"), str(tmp_path / "two" / "a.jpg")])
    jobs, early = inputs.plan(sources, tmp_path / "out", ".png", template="{stem}-{version}", existing=existing)
    assert early == [] and [(j.output.name, j.version) for j in jobs] == [("a-v2.png", "v2"), ("a-v3.png", "v3")]


def test_a_delivery_set_cannot_version_its_names(tmp_path):
    photo(tmp_path / "a.jpg")
    sources, _ = inputs.collect([str(tmp_path / "a.jpg")])
    with pytest.raises(ValueError, match="delivery set"):
        inputs.plan(sources, tmp_path / "out", ".png", outputs=(("web", "{stem}-{version}", ".webp"),
                                                                ("print", "{stem}", ".tif")))


def test_name_template_fields(tmp_path):
    photo(tmp_path / "SKU123-front.jpg")
    sources, _ = inputs.collect([str(tmp_path / "SKU123-front.jpg")])
    jobs, _ = inputs.plan(sources, tmp_path / "out", ".webp", template="{stem}-cutout-{ext}")
    assert jobs[0].output.name == "SKU123-front-cutout-jpg.webp"


@pytest.mark.parametrize("template", ["{nope}", "../{stem}", "{stem}/x", ""])
def test_bad_name_template_is_a_usage_error(tmp_path, template):
    photo(tmp_path / "a.jpg")
    sources, _ = inputs.collect([str(tmp_path / "a.jpg")])
    with pytest.raises(ValueError, match="template"):
        inputs.plan(sources, tmp_path / "out", ".png", template=template)


def test_output_that_would_overwrite_a_source_is_refused(tmp_path):
    photo(tmp_path / "a.png")
    sources, _ = inputs.collect([str(tmp_path / "a.png")])
    jobs, early = inputs.plan(sources, tmp_path, ".png")
    assert jobs == []
    assert early[0].code == "would_overwrite_source"


@pytest.mark.parametrize(("existing", "status", "n_jobs"), [("refuse", "failed", 0), ("skip", "skipped", 0),
                                                            ("overwrite", None, 1)])
def test_existing_outputs_policy(tmp_path, existing, status, n_jobs):
    photo(tmp_path / "in" / "a.jpg")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "a.png").write_bytes(b"old")
    sources, _ = inputs.collect([str(tmp_path / "in")])
    jobs, early = inputs.plan(sources, tmp_path / "out", ".png", existing=existing)
    assert len(jobs) == n_jobs
    assert [r.status for r in early] == ([status] if status else [])
    assert (tmp_path / "out" / "a.png").read_bytes() == b"old"


def test_hidden_and_non_image_files_are_ignored_in_folders(tmp_path):
    photo(tmp_path / ".hidden.jpg")
    photo(tmp_path / ".cache" / "c.jpg")
    photo(tmp_path / "ok.jpg")
    sources, _ = inputs.collect([str(tmp_path)])
    assert [s.path.name for s in sources] == ["ok.jpg"]


def test_non_ascii_names_are_kept(tmp_path):
    photo(tmp_path / "café-日本.jpg")
    sources, _ = inputs.collect([str(tmp_path)])
    jobs, _ = inputs.plan(sources, tmp_path / "out", ".png")
    assert jobs[0].output == Path(tmp_path / "out" / "café-日本.png")


# -- odd files in a folder: skipped with a reason before anything opens them ---------------

def test_a_fifo_or_socket_with_an_image_name_in_a_folder_is_skipped_with_a_reason(tmp_path):
    photo(tmp_path / "in" / "a.jpg")
    os.mkfifo(tmp_path / "in" / "x.jpg")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(tmp_path / "in" / "s.png"))
        sources, problems = inputs.collect([str(tmp_path / "in")])
    assert [s.path.name for s in sources] == ["a.jpg"]
    by_name = {Path(p.label).name: p for p in problems}
    assert set(by_name) == {"s.png", "x.jpg"}
    assert all(p.status == "skipped" and "not a regular file" in p.message for p in by_name.values())


def test_a_fifo_named_on_the_command_line_is_refused_by_name(tmp_path):
    fifo = tmp_path / "x.jpg"
    os.mkfifo(fifo)
    sources, problems = inputs.collect([str(fifo)])
    assert sources == []
    assert [(p.label, p.status) for p in problems] == [(str(fifo), "failed")]
    assert "not a regular file" in problems[0].message


def test_a_symlink_that_leaves_the_folder_is_skipped_and_one_inside_is_kept(tmp_path):
    photo(tmp_path / "private" / "me.jpg")
    photo(tmp_path / "in" / "a.jpg")
    (tmp_path / "in" / "pulled-in.jpg").symlink_to(tmp_path / "private" / "me.jpg")
    (tmp_path / "in" / "sub").mkdir()
    (tmp_path / "in" / "sub" / "alias.jpg").symlink_to(Path("..") / "a.jpg")
    sources, problems = inputs.collect([str(tmp_path / "in")])
    assert [s.path.name for s in sources] == ["a.jpg"]  # the alias is the same file: once
    [skipped] = problems
    assert Path(skipped.label).name == "pulled-in.jpg" and skipped.status == "skipped"
    assert "outside" in skipped.message


def test_a_symlink_out_of_a_glob_folder_is_skipped(tmp_path):
    photo(tmp_path / "private" / "me.jpg")
    photo(tmp_path / "in" / "a.jpg")
    (tmp_path / "in" / "b.jpg").symlink_to(tmp_path / "private" / "me.jpg")
    sources, problems = inputs.collect([str(tmp_path / "in" / "*.jpg")])
    assert [s.path.name for s in sources] == ["a.jpg"]
    assert [Path(p.label).name for p in problems] == ["b.jpg"] and "outside" in problems[0].message


def test_a_symlink_loop_in_a_folder_is_reported_and_the_rest_planned(tmp_path):
    photo(tmp_path / "in" / "a.jpg")
    (tmp_path / "in" / "loop.jpg").symlink_to("loop.jpg")
    (tmp_path / "in" / "sub").mkdir()
    (tmp_path / "in" / "sub" / "round").symlink_to(Path("..") / "sub")  # a folder that contains itself
    sources, problems = inputs.collect([str(tmp_path / "in"), str(tmp_path / "in" / "loop.jpg")])
    jobs, _ = inputs.plan(sources, tmp_path / "out", ".png")
    assert [j.source.name for j in jobs] == ["a.jpg"]
    assert [(Path(p.label).name, p.status) for p in problems] == [("loop.jpg", "skipped"), ("loop.jpg", "failed")]
    assert all("symlink loop" in p.message for p in problems)


def test_a_glob_through_a_folder_that_contains_itself_names_each_refused_file_once(tmp_path):
    photo(tmp_path / "in" / "a.jpg")
    (tmp_path / "in" / "loop.jpg").symlink_to("loop.jpg")
    (tmp_path / "in" / "sub").mkdir()
    (tmp_path / "in" / "sub" / "up").symlink_to("..")  # glob's ** follows it round and round
    sources, problems = inputs.collect([str(tmp_path / "in" / "**" / "*.jpg")])
    assert [s.path.name for s in sources] == ["a.jpg"]
    assert [Path(p.label).name for p in problems] == ["loop.jpg"]
