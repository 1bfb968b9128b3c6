"""No user-facing English is hard-coded in the window (ui/): every text node and label of
index.html says which catalogue message it shows (data-i18n…), and every string the scripts put
on screen (textContent, title, aria-label, placeholder, toasts, banners, dialogs, el()'s text)
goes through t(). Allowed without a catalogue: symbols, numbers and units, key names, the
product's name and each language's own name."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar

UI = Path(__file__).resolve().parents[2] / "ui"
# Text that is not in any language: the product's name, key names on <kbd>, zoom "100%".
ALLOWED = {"Knockout", "Ctrl+O", "Ctrl+V", "Ctrl+S", "Ctrl+Shift+S", "100%", "40", "80%", "–", "·", "."}
LABELLED = ("title", "aria-label", "placeholder", "alt")
WORD = re.compile(r"[A-Za-z]{2,}")
KEYS = set(json.loads((UI / "i18n" / "en.json").read_text(encoding="utf-8")))


class _Scan(HTMLParser):
    """Text nodes and labelling attributes of index.html that do not come from the catalogue."""

    VOID: ClassVar[set[str]] = {"meta", "link", "img", "input", "br", "hr", "source"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, dict[str, str | None]]] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        given = dict(attrs)
        for name in LABELLED:
            value = given.get(name)
            if value and WORD.search(value) and value not in ALLOWED and f"data-i18n-{name}" not in given:
                self.problems.append(f"<{tag}> {name}={value!r}")
        if tag not in self.VOID:
            self.stack.append((tag, given))

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        text = data.strip()
        if not text or not WORD.search(text) or text in ALLOWED or not self.stack:
            return
        tag, attrs = self.stack[-1]
        if tag in ("title", "script", "style", "kbd") or "data-i18n" in attrs:
            return
        self.problems.append(f"<{tag}> text {text!r}")


def test_every_text_and_label_in_the_page_comes_from_the_catalogue():
    scan = _Scan()
    scan.feed((UI / "index.html").read_text(encoding="utf-8"))
    assert scan.problems == []


# Where a script puts words on screen: the start of the expression that gives them.
SINKS = re.compile(r"""(\.textContent\s*=|\.title\s*=|\.placeholder\s*=|\b(?:toast|banner|confirmAction)\(|"""
                   r"""showError\([^,()]*,|setAttribute\(\s*'(?:aria-label|title|placeholder|alt)'\s*,|"""
                   r"""\b(?:text|title|label|'aria-label'|placeholder|alt):\s)""")
LITERAL = re.compile(r"'(?:[^'\\\n]|\\.)*'|\"(?:[^\"\\\n]|\\.)*\"|`(?:[^`\\]|\\.)*`")
TRANSLATED = re.compile(r"\bt\(\s*('[^']*'|`[^`]*`)")  # t('key' or t(`key.${…}`: a catalogue key
# a literal compared with (item.state === 'working') or naming an element ($('.filter-label')) is no text
NOT_TEXT = re.compile(r"(?:[!=]==?\s*|\$\$?\(\s*|querySelector(?:All)?\(\s*)$")
COMMENT = re.compile(r"/\*.*?\*/|(?<![:'\"\w])//[^\n]*", re.S)


def _continues(text: str) -> bool:
    """Does an expression go on after this line (a ternary, a concatenation, an open call)?"""
    return text.rstrip().endswith(("?", ":", "+", "(", "&&", "||"))


def _expression(source: str, start: int) -> str:
    """From `start` to the end of its expression: the first , ; or ) at bracket depth 0, or a line end."""
    depth, i = 0, start
    while i < len(source):
        ch = source[i]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            if depth == 0:
                break
            depth -= 1
        elif depth == 0 and (ch in ",;" or (ch == "\n" and not _continues(source[start:i]))):
            break
        elif ch in "'\"`":
            match = LITERAL.match(source, i)
            if match:
                i = match.end()
                continue
        i += 1
    return source[start:i]


def english_in(expression: str) -> list[str]:
    """String literals with words in them that are not catalogue keys passed to t()."""
    bare = TRANSLATED.sub("t(", expression)
    found = []
    for match in LITERAL.finditer(bare):
        literal = match.group()
        text = re.sub(r"\$\{[^}]*\}", "", literal[1:-1])
        if text in KEYS or NOT_TEXT.search(bare[:match.start()]) or not WORD.search(text):
            continue
        if " " in text.strip() or text.strip()[:1].isupper():  # words, not an identifier ('working')
            found.append(literal)
    return found


def hard_coded(source: str) -> list[str]:
    source = COMMENT.sub(lambda m: "\n" * m.group().count("\n"), source)  # line numbers stay right
    problems = []
    for match in SINKS.finditer(source):
        line = source.count("\n", 0, match.start()) + 1
        problems += [f"line {line}: {literal}" for literal in english_in(_expression(source, match.end()))]
    return problems


def test_the_scan_finds_english_wherever_a_script_shows_it():
    assert hard_coded("node.textContent = 'Done';")
    assert hard_coded("toast(`Saved ${n} files`, 'ok');")
    assert hard_coded("el('span', { text: ok ? 'Ready' : t('x.y') })")
    assert hard_coded("wrap.setAttribute('aria-label', 'Overall progress');")
    assert hard_coded("showError(result, 'The export could not start.');")
    assert not hard_coded("node.textContent = t('queue.done_of', { done: 1, total: 2 });")
    assert not hard_coded("toast(t(`flag.${code}`), 'error');")
    assert not hard_coded("el('span', { class: 'q-name', text: item.name, title: item.path })")


def test_no_script_shows_hard_coded_english():
    problems = {}
    for path in sorted((UI / "js").glob("*.js")):
        found = hard_coded(path.read_text(encoding="utf-8"))
        if found:
            problems[path.name] = found
    assert problems == {}


SENTENCE = re.compile(r"^[A-Z][a-z]+[ ,]+[a-z]")  # "Could not cut out", "Done, please check"


def sentences(source: str) -> list[str]:
    """Any literal anywhere that reads like English words (kept in a table, then shown)."""
    source = COMMENT.sub(lambda m: "\n" * m.group().count("\n"), source)
    return [m.group() for m in LITERAL.finditer(source)
            if SENTENCE.match(re.sub(r"\$\{[^}]*\}", "", m.group()[1:-1]).strip())]


def test_no_script_keeps_english_sentences_in_tables_either():
    assert sentences("const STATE = { failed: 'Could not cut out', done: 'Done, please check' };")
    found = {p.name: sentences(p.read_text(encoding="utf-8")) for p in sorted((UI / "js").glob("*.js"))}
    assert {name: s for name, s in found.items() if s} == {}
