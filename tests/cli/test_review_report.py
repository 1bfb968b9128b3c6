"""``knockout report OUTDIR``: the batch's review sheet, written beside the journal by default."""

from __future__ import annotations

import re

from app import cli
from tests.fakes import photo


def test_report_writes_one_entry_per_photo_escaped_and_self_contained(tmp_path, fake_engine, capsys):
    hostile = tmp_path / "in" / '<b>&"shoot"'  # a folder name is mirrored into the output folder as it is
    photo(hostile / "a.jpg")
    photo(tmp_path / "in" / "b.jpg")
    out = tmp_path / "out"
    assert cli.main(["cut", str(tmp_path / "in"), "-o", str(out), "-q"]) == 0
    capsys.readouterr()
    assert cli.main(["report", str(out)]) == 0
    assert "review sheet for 2 photos" in capsys.readouterr().out
    page = (out / "review-sheet.html").read_text(encoding="utf-8")
    assert page.count("<section class='photo ") == 2
    assert "&lt;b&gt;&amp;&quot;shoot&quot;/a.jpg" in page and '<b>&"shoot"' not in page
    assert not re.search(r"(src|href)\s*=\s*[\"']?\s*(https?:|//)", page, re.IGNORECASE)


def test_report_to_another_file_and_a_folder_without_a_batch(tmp_path, fake_engine, capsys):
    photo(tmp_path / "a.jpg")
    assert cli.main(["cut", str(tmp_path / "a.jpg"), "-o", str(tmp_path / "out"), "-q"]) == 0
    assert cli.main(["report", str(tmp_path / "out"), "-o", str(tmp_path / "sheet.html")]) == 0
    assert (tmp_path / "sheet.html").is_file() and not (tmp_path / "out" / "review-sheet.html").exists()
    capsys.readouterr()
    assert cli.main(["report", str(tmp_path)]) == 1
    assert "holds no batch journal" in capsys.readouterr().err


def test_a_journal_replaced_by_a_link_is_refused_with_a_message(tmp_path, capsys):
    (tmp_path / "out").mkdir()
    (tmp_path / "elsewhere.jsonl").write_text("{}\n")
    (tmp_path / "out" / ".knockout-journal.jsonl").symlink_to(tmp_path / "elsewhere.jsonl")
    assert cli.main(["report", str(tmp_path / "out")]) == 1
    assert "cannot read the batch" in capsys.readouterr().err
