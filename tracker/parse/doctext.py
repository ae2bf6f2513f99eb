"""Plain text of documents (a PDF's extracted text, a Markdown or text extract): lines and labelled entries. Pure.

The BOAMP PDF extracts and the règlements de consultation are read from their text, whatever produced it: a
PDF text layer (one line per printed line, long values wrapped), or a Markdown conversion (``**Label** :
value``, ``## Section 5 - Lot``, ``<https://…>``). :func:`plain_lines` removes the Markdown marks and keeps the
lines; :func:`entries` cuts them into ``Label : value`` entries, a value running over the following lines
until a blank line, a heading or the next known label.

General helpers used by the document parsers (``notice_text``, ``rc``) that the French interpreter
(``frtext``) does not offer: :func:`normalise_clock` ("12 :00 :00" → "12:00"), :func:`french_number`
("cent-vingt" → 120).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Final

from tracker.parse.frtext import fold

_MD_LINK: Final = re.compile(r"\[([^\]\n]{0,500})\]\((?:mailto:)?([^)\s]{0,2000})\)")
_ANGLE_URL: Final = re.compile(r"<((?:https?://|www\.)[^>\s]{1,2000})>")
_HTML_TAG: Final = re.compile(r"</?(?:b|p|sup|sub|i|em|strong|br|span)(?:\s[^<>]{0,200})?/?>", re.I)
_MARKS: Final = re.compile(r"\*\*|__|(?<!\w)\*(?=\S)|(?<=\S)\*(?!\w)")
_HEADING_MARK: Final = re.compile(r"^\s{0,3}#{1,6}\s*")
_RULE: Final = re.compile(r"^\s*(?:-{3,}|\*{3,}|_{3,})\s*$")
_SPACES: Final = re.compile(r"[ \t\u00a0\u202f]+")
#: a section number at the start of a line: "5.1.12 ", "2.1 "
SECTION_NUMBER: Final = re.compile(r"^(?P<num>\d{1,2}(?:\.\d{1,2}){1,4})\.?\s+(?=\S)")
_CLOCK: Final = re.compile(r"(?<!\d)(\d{1,2})\s?:\s?(\d{2})(?:\s?:\s?\d{2})?(?!\d)")


def plain_lines(text: str) -> list[str]:
    """The text's lines without Markdown marks, links reduced to their address, spaces collapsed."""
    out: list[str] = []
    for raw in text.splitlines():
        if _RULE.match(raw):
            out.append("")
            continue
        # each mark's pattern runs only on lines holding its character (most lines hold none)
        line = _HEADING_MARK.sub("", raw) if "#" in raw else raw
        if "](" in line:
            line = _MD_LINK.sub(lambda m: m.group(2) if m.group(1) in ("", m.group(2)) else m.group(1), line)
        if "<" in line:
            line = _HTML_TAG.sub(" ", _ANGLE_URL.sub(r"\1", line))
        if "*" in line or "_" in line:
            line = _MARKS.sub("", line)
        if "  " in line or "\t" in line or "\u00a0" in line or "\u202f" in line:
            line = _SPACES.sub(" ", line)
        out.append(line.strip())
    return out


def normalise_clock(text: str) -> str:
    """ "avant 12 :00 :00" → "avant 12:00": the clock forms the interpreter reads."""
    return _CLOCK.sub(r"\1:\2", text)


@dataclass(frozen=True, slots=True)
class Entry:
    """One ``Label : value`` of a document, with the section number its line carried and its first line."""

    label: str  # as written
    key: str  # folded, lower case, spaces collapsed, no trailing colon
    value: str
    number: str | None
    line: int


_PAREN_SPACE: Final = re.compile(r"\s*([()])\s*")


@functools.lru_cache(maxsize=8192)
def label_key(label: str) -> str:
    """A label's comparable form: folded, lower case, single spaces, none around parentheses, no colon."""
    return _PAREN_SPACE.sub(r"\1", " ".join(fold(label).lower().split())).strip(" :")


_LABEL: Final = re.compile(r"^(?P<label>[^\W\d_][^:\n]{0,110}?)\s?:(?:\s+|$)(?P<value>.*)$")


def entries(
    lines: Iterable[str], known: frozenset[str], *, free: frozenset[str], is_heading: re.Pattern[str]
) -> Iterator[Entry]:
    """``Label : value`` entries. A line starting with a known label (folded) opens an entry; a line with any
    other label opens one too, unless it continues a free text (an entry whose key is in ``free``, whose value
    may hold colons); a blank line or a heading ends an entry."""
    current: list[str] = []
    head: tuple[str, str, str | None, int] | None = None

    def flush() -> Iterator[Entry]:
        if head is not None:
            label, key, number, line = head
            yield Entry(label, key, " ".join(current).strip(), number, line)

    for index, line in enumerate(lines):
        if not line:
            yield from flush()
            head, current = None, []
            continue
        number = None
        body = line
        m = SECTION_NUMBER.match(line)
        if m:
            number, body = m.group("num"), line[m.end() :]
        label = _LABEL.match(body)
        key = label_key(label.group("label")) if label else ""
        opens = label is not None and (key in known or head is None or number is not None or head[1] not in free)
        if opens and label is not None:
            yield from flush()
            head, current = (label.group("label").strip(), key, number, index), [label.group("value")]
        elif is_heading.match(line):
            yield from flush()
            head, current = None, []
            yield Entry(line, label_key(body), "", number, index)
        elif head is not None:
            current.append(line)
        else:
            yield Entry(line, label_key(body), "", number, index)
    yield from flush()


_UNITS: Final = {
    "zero": 0,
    "un": 1,
    "une": 1,
    "deux": 2,
    "trois": 3,
    "quatre": 4,
    "cinq": 5,
    "six": 6,
    "sept": 7,
    "huit": 8,
    "neuf": 9,
    "dix": 10,
    "onze": 11,
    "douze": 12,
    "treize": 13,
    "quatorze": 14,
    "quinze": 15,
    "seize": 16,
    "vingt": 20,
    "vingts": 20,
    "trente": 30,
    "quarante": 40,
    "cinquante": 50,
    "soixante": 60,
}
NUMBER_WORDS: Final = (
    r"(?:(?:zero|une?|deux|trois|quatre|cinq|six|sept|huit|neuf|dix|onze|douze|treize|quatorze|quinze|seize"
    r"|vingts?|trente|quarante|cinquante|soixante|cents?|et)(?:[\s-]+|(?=\W)|$)){1,8}"
)


def french_number(words: str) -> int | None:
    """ "cent-vingt" → 120, "quatre-vingt-dix" → 90, "soixante et onze" → 71; None when not a number up to 999."""
    parts = [p for p in re.split(r"[\s-]+", fold(words).lower().strip()) if p and p != "et"]
    if not parts:
        return None
    total, current = 0, 0
    for i, part in enumerate(parts):
        if part in ("cent", "cents"):
            total += (current or 1) * 100
            current = 0
        elif part in ("vingt", "vingts") and i > 0 and parts[i - 1] == "quatre":
            current = current - 4 + 80
        elif part in _UNITS:
            current += _UNITS[part]
        else:
            return None
    value = total + current
    return value if 0 < value < 1000 else None
