"""French dates and times, and the free text of BOAMP "avis rectificatifs", read into typed amendments.

Pure functions, no I/O.

Approach
--------
1. **Folding.** The text is folded character by character with :meth:`str.translate` (accents dropped,
   typographic apostrophes and non-breaking spaces made plain). The folded text has exactly the
   length of the original, so every span found in it is a span of the original text.
2. **Moments.** One regex finds the dates (ISO 8601, ``dd/mm/yyyy``, ``[jeudi] 1er octobre 2026``);
   a second one, anchored at the end of each date, reads the time that may follow it (``à 14 H 00``,
   ``avant 16h00``, ``- 12 h 00``, ``12:00``, ``midi``, ``Heure locale : 16:00``). A French wall time
   becomes an aware datetime with the Europe/Paris offset of that day, as a fixed offset; a date
   alone stays a :class:`datetime.date`; an ISO date-time keeps the offset it states.
3. **Fields.** Keywords (accent- and case-insensitive) name a canonical field; specific words win
   over a section number (``IV.2.2``), which wins over the generic word "durée".
4. **Sentences.** :func:`interpret` splits the text into sentences and keeps those holding one or two
   moments. With two, the connective *between* them orders them ("au lieu de", "et non" introduce
   the old value; "reportée au", "lire", "→" the new one), else the words *before* them ("au lieu
   de A, B", "reportée du A au B"). With one, a "new value" verb must introduce it closely
   ("est reportée au", "est fixée au", "lire :"). Anything ambiguous yields nothing: a wrong typed
   change is worse than the text change the caller keeps.

Every regex is linear: no nested or adjacent quantifiers over the same characters, bounded gaps,
lookarounds of fixed width, so hostile input (100 KB of digits, dots or spaces) stays fast.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Final
from zoneinfo import ZoneInfo

from tracker.notice import DATE_FIELDS, Amendment
from tracker.values import PARIS, fixed_offset, parse_boamp_moment, wall_time

__all__ = ["Moment", "field_for_label", "find_moments", "interpret", "parse_moment"]


@dataclass(frozen=True, slots=True)
class Moment:
    """A date, or a date and time, found in a text, with its span ``text[start:end]``."""

    value: date | datetime  # a datetime is tz-aware (fixed offset)
    start: int
    end: int


Pair = tuple[date | datetime | None, date | datetime]  # (old, new)
Keywords = tuple[tuple[str, re.Pattern[str]], ...]  # (field, regex), best first

# ---------------------------------------------------------------- folding


def _fold_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for code in range(0xC0, 0x250):
        base = unicodedata.normalize("NFD", chr(code))[0]
        if base != chr(code) and base.isascii():
            table[code] = base
    table.update({0x2019: "'", 0x2018: "'", 0x02BC: "'", 0x00A0: " ", 0x202F: " ", 0x2007: " "})
    return table


_FOLD: Final = _fold_table()


def _fold(text: str) -> str:
    """Accents off, plain apostrophes and spaces; same length as ``text``."""
    return text.translate(_FOLD)


def _words(text: str) -> str:
    """Folded, lower-case, single-spaced: the form keywords are matched against."""
    return " ".join(_fold(text).lower().split())


# ---------------------------------------------------------------- moments

_MONTHS: Final = {
    "janvier": 1,
    "janv": 1,
    "fevrier": 2,
    "fevr": 2,
    "fev": 2,
    "mars": 3,
    "avril": 4,
    "avr": 4,
    "mai": 5,
    "juin": 6,
    "juillet": 7,
    "juil": 7,
    "aout": 8,
    "septembre": 9,
    "sept": 9,
    "octobre": 10,
    "oct": 10,
    "novembre": 11,
    "nov": 11,
    "decembre": 12,
    "dec": 12,
}
_MONTH_WORDS: Final = "|".join(sorted(_MONTHS, key=len, reverse=True))
_WEEKDAYS: Final = "lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche"

_DATE: Final = re.compile(
    r"(?<![\d/])(?:"
    r"(?P<iso>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)"
    r"|(?P<iy>\d{4})-(?P<im>\d{2})-(?P<id>\d{2})"
    r"|(?P<d>\d{1,2})(?P<sep>[/.-])(?P<m>\d{1,2})(?P=sep)(?P<y>\d{4}|\d{2})"
    r")(?![\d/])"
    r"|(?:\b(?:" + _WEEKDAYS + r"),?\s+)?(?<![\d/])(?P<td>\d{1,2})(?:\s?er)?\s+"
    r"(?P<tm>" + _MONTH_WORDS + r")\b\.?\s+(?P<ty>\d{4})(?!\d)",
    re.IGNORECASE,
)
_TIME_AFTER: Final = re.compile(
    r"[\s,]{0,10}(?:(?:a|avant|de|des|vers|jusqu'a|pour|a\s+partir\s+de)\s+|[-–—]\s*|heure\s+locale\s*(?::\s*)?|:\s*)?"
    r"(?:(?P<h>\d{1,2})\s?(?:heures?|h(?![a-z]))\s?(?P<mi>\d{2})?(?!\d)"
    r"|(?P<h2>\d{1,2}):(?P<mi2>\d{2})(?::\d{2})?(?!\d)"
    r"|(?P<noon>midi)\b)",
    re.IGNORECASE,
)
_YEARS: Final = range(1900, 2200)


def find_moments(text: str, *, zone: ZoneInfo = PARIS) -> list[Moment]:
    """Every date (with its time when one follows) in the text, in order.

    A wall time ("à 14 H 00") is a time in ``zone``: the buyer's (Europe/Paris in metropolitan France).
    """
    return _moments(_fold(text), zone)


def parse_moment(text: str, *, zone: ZoneInfo = PARIS) -> date | datetime | None:
    """The single moment a short text states, or None. If several moments, the first."""
    moments = find_moments(text, zone=zone)
    return moments[0].value if moments else None


def _moments(folded: str, zone: ZoneInfo = PARIS) -> list[Moment]:
    found = (_moment(folded, match, zone) for match in _DATE.finditer(folded))
    return [moment for moment in found if moment is not None]


def _moment(folded: str, match: re.Match[str], zone: ZoneInfo = PARIS) -> Moment | None:
    if match["iso"]:
        value = parse_boamp_moment(match["iso"].upper(), zone=zone)
        return None if value is None else Moment(value, match.start(), match.end())
    day = _day(match)
    if day is None:
        return None
    after = _TIME_AFTER.match(folded, match.end())
    clock = _clock(after) if after else None
    if after is None or clock is None:
        return Moment(day, match.start(), match.end())
    return Moment(fixed_offset(wall_time(day, *clock, zone=zone)), match.start(), after.end())


def _day(match: re.Match[str]) -> date | None:
    if match["iy"]:
        return _safe_date(int(match["iy"]), int(match["im"]), int(match["id"]))
    if match["d"]:
        year = match["y"]
        if len(year) == 2 and match["sep"] != "/":
            return None  # "01.02.03" is rather a phone number or a version than a date
        return _safe_date(int(year) + (2000 if len(year) == 2 else 0), int(match["m"]), int(match["d"]))
    return _safe_date(int(match["ty"]), _MONTHS[match["tm"].lower()], int(match["td"]))


def _safe_date(year: int, month: int, day: int) -> date | None:
    if year not in _YEARS:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _clock(match: re.Match[str]) -> tuple[int, int] | None:
    if match["noon"]:
        return 12, 0
    hour = int(match["h"] or match["h2"])
    minute = int(match["mi"] or match["mi2"] or 0)
    return (hour, minute) if hour < 24 and minute < 60 else None


# ---------------------------------------------------------------- fields

_DATE_KEYWORDS: Final[Keywords] = (
    (
        "tender_deadline",
        re.compile(
            r"(?:reception|remise|depot|transmission|envoi)\s+des\s+(?:offres|plis)"
            r"|(?:reception|remise|depot)\s+des\s+candidatures\s+et\s+des\s+offres"
            r"|date\s+limite\s+de\s+(?:reponse|remise|depot)(?!\s+(?:des|aux)\s+(?:questions|candidatures|demandes))"
        ),
    ),
    ("opening_date", re.compile(r"ouverture\s+des\s+(?:plis|offres|candidatures|enveloppes)|date\s+d'ouverture")),
    ("request_deadline", re.compile(r"demandes?\s+de\s+participation|(?<!ouverture des )\bcandidatures?\b")),
    (
        "questions_deadline",
        re.compile(r"\bquestions?\b|renseignements\s+complementaires|demandes?\s+de\s+renseignements"),
    ),
    (
        "start_date",
        re.compile(
            r"date\s+(?:previsionnelle\s+)?(?:de\s+)?debut"
            r"|debut\s+(?:previsionnel\s+)?(?:des\s+(?:prestations|travaux)|d'execution|du\s+marche|de\s+l'execution)"
            r"|commencement|demarrage"
        ),
    ),
    (
        "end_date",
        re.compile(
            r"date\s+(?:previsionnelle\s+)?(?:de\s+)?fin\b"
            r"|fin\s+(?:previsionnelle\s+)?(?:des\s+(?:prestations|travaux)|d'execution|du\s+marche|de\s+l'execution)"
            r"|achevement"
        ),
    ),
)
_VALUE_KEYWORDS: Final[Keywords] = (
    ("estimated_value", re.compile(r"valeur\s+(?:totale\s+)?estimee|montant\s+(?:total\s+)?estime")),
    ("max_value", re.compile(r"(?:valeur|montant)\s+(?:total\s+|totale\s+)?maxim")),
)
_URL_KEYWORDS: Final[Keywords] = (
    (
        "submission_url",
        re.compile(r"profil\s+(?:d'\s?)?acheteur|adresse\s+de\s+depot|(?:remise|depot)\s+electronique"),
    ),
    (
        "documents_url",
        re.compile(r"documents?\s+de\s+(?:la\s+)?consultation|\bdce\b|dossier\s+de\s+(?:la\s+)?consultation"),
    ),
)
_DATE_WORD: Final = re.compile(r"\b(?:dates?|heures?|delais?|limites?)\b")
_VALIDITY: Final = re.compile(r"\bvalidite\b|maintenir\s+son\s+offre")
_DURATION: Final = re.compile(r"\bduree\b|delai\s+d'execution")
_SECTION: Final = re.compile(r"\b(iv|iii|ii|vi|v|i)\s?\.\s?(\d{1,2})(?:\s?\.\s?(\d{1,2}))?(?!\.?\d)")
_SECTIONS: Final[dict[str, str | None]] = {
    "iv.2.2": "tender_deadline",
    "iv.3.4": "tender_deadline",
    "iv.2.7": "opening_date",
    "iv.3.8": "opening_date",
    "iv.2.6": None,  # offer validity: not tracked
    "ii.2.7": "duration",
    "ii.3": "duration",
}


def field_for_label(label: str | None) -> str | None:
    """Map a section number or heading to a canonical field name, or None."""
    if not label:
        return None
    words = _words(label)
    if _VALIDITY.search(words):
        return None
    named = _named_fields(words)
    if named:
        return named[0]
    found, field = _section_field(words)
    if found:
        return field
    return "duration" if _DURATION.search(words) else None


def _named_fields(words: str) -> list[str]:
    """Fields named by specific words, best first. URLs come first unless a date word is present."""
    groups: tuple[Keywords, ...] = (_DATE_KEYWORDS, _VALUE_KEYWORDS, _URL_KEYWORDS)
    if not _DATE_WORD.search(words):
        groups = (_URL_KEYWORDS, _DATE_KEYWORDS, _VALUE_KEYWORDS)
    named = [field for group in groups for field, regex in group if regex.search(words)]
    if "tender_deadline" in named and "request_deadline" in named:
        named.remove("request_deadline")  # "offres ou demandes de participation": offers win
    return named


def _section_field(words: str) -> tuple[bool, str | None]:
    for match in _SECTION.finditer(words):
        key = ".".join(part for part in match.groups() if part)
        if key in _SECTIONS:
            return True, _SECTIONS[key]
    return False, None


def _date_fields(words: str) -> list[str]:
    """The date fields some words name (by keyword, else by section number)."""
    named = [field for field in _named_fields(words) if field in DATE_FIELDS]
    if named:
        return named
    _, field = _section_field(words)
    return [field] if field in DATE_FIELDS and field is not None else []


# ---------------------------------------------------------------- sentences

#: A sentence ends at "." before a space and a capital (not "Lire", which continues "Au lieu de : ..."),
#: at "." glued to a capitalised word ("remaniée.En effet"), or at ";", "!" or "?" before a space.
#: "R.2132-7", "R. 2142-1", "05/10/2026", "IV.2.2" do not end one.
_SENTENCE_END: Final = re.compile(r"\.(?=\s+(?!(?i:lire)\b)[A-Z])|(?<=[a-z\d]{2})\.(?=[A-Z][a-z])|[;!?](?=\s)")
_LINE: Final = re.compile(r"[^\n]+")

#: Connectives introducing the new value (so a moment before them is the old one).
_BEFORE_NEW: Final = re.compile(
    r"\b(?:report|repouss|prorog|decal|prolong)(?:e|ee|es|ees|ent|era|eront|ation|age)?\b"
    r"|\blire\b|→|->|=>|⇒|\bremplacee?s?\s+par\b|\bdesormais\b|\bnouvel(?:le)?s?\s+dates?\b"
    r"|\b(?:est|sont|sera|seront|ete)\s+(?:desormais\s+|donc\s+)?fixee?s?\b|\bmodifiee?s?\b",
    re.IGNORECASE,
)
#: Connectives introducing the old value (so a moment before them is the new one).
_BEFORE_OLD: Final = re.compile(
    r"\bau\s+lieu\s+d|\bet\s+non\b|\ben\s+remplacement\s+d|\bremplace(?:nt)?\b(?!\s+par\b)", re.IGNORECASE
)
#: Words marking the following moment as the former value, only meaningful before both moments.
_FORMER: Final = re.compile(r"\b(?:initialement|precedemment|anciennement)\b", re.IGNORECASE)
_MODIFIED: Final = re.compile(r"\bmodifiee?s?\b", re.IGNORECASE)
_BARE_TO: Final = re.compile(r"\s*(?:,\s*)?(?:au|a|jusqu'au|jusqu'a)\s+(?:le\s+)?", re.IGNORECASE)
_VALUE_LEAD: Final = re.compile(r"\s*|.*(?:\b(?:au|a|le|du|jusqu'au|jusqu'a)|:|→|->|=>)\s*", re.IGNORECASE | re.DOTALL)
_OTHER_EVENT: Final = re.compile(r"\b(?:visite|lieu|seance|reunion|publication|publie|mise\s+en\s+ligne)\b", re.I)
_UNCHANGED: Final = re.compile(r"\b(?:inchangee?s?|maintenue?s?|reste|restent|demeure|demeurent)\b", re.I)
_NEGATION: Final = re.compile(r"(?<!non )\bpas\b|\bn'(?:est|a|ont|sont|etait|etaient|sera|seront)\b", re.I)
_MAX_LEAD: Final = 80


def interpret(
    text: str,
    *,
    field_hint: str | None = None,
    lot: str | None = None,
    section: str | None = None,
    zone: ZoneInfo = PARIS,
) -> list[Amendment]:
    """Typed amendments stated by a free text (one per sentence that moves a date).

    Sentences that state no typed change produce nothing (the caller keeps the whole text as a text
    change). ``field_hint`` names the field when a sentence's words name none.
    """
    folded = _fold(text)
    hint = field_hint if field_hint in DATE_FIELDS else None
    found: list[Amendment] = []
    for start, end, moments in _units(folded, _moments(folded, zone)):
        pair = _old_new(folded, (start, end), moments)
        field = _field(folded, (start, end), moments[-1].end, hint) if pair else None
        if pair is None or field is None:
            continue
        evidence = " ".join(text[start:end].split())
        found.append(Amendment(field=field, old=pair[0], new=pair[1], lot=lot, section=section, evidence=evidence))
    return found


def _field(folded: str, span: tuple[int, int], until: int, hint: str | None) -> str | None:
    """The one date field named up to the last moment, else in the whole sentence, else the hint.

    Words before and among the moments win over later ones ("Date limite ... : A au lieu de B, suite
    aux questions"); several fields named at the same level is ambiguous.
    """
    start, end = span
    for words in (_words(folded[start:until]), _words(folded[start:end])):
        named = _date_fields(words)
        if named:
            return named[0] if len(named) == 1 else None
    return hint


def _units(folded: str, moments: list[Moment]) -> Iterator[tuple[int, int, list[Moment]]]:
    """Sentences with their moments; a sentence with more than two moments is tried line by line."""
    starts = [moment.start for moment in moments]
    for start, end in _sentence_spans(folded):
        inside = _between(moments, starts, start, end)
        if len(inside) <= 2 or "\n" not in folded[start:end]:
            yield start, end, inside
            continue
        for line in _LINE.finditer(folded, start, end):
            yield line.start(), line.end(), _between(moments, starts, line.start(), line.end())


def _sentence_spans(folded: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for match in _SENTENCE_END.finditer(folded):
        spans.append((start, match.end()))
        start = match.end()
    spans.append((start, len(folded)))
    return spans


def _between(moments: list[Moment], starts: Sequence[int], start: int, end: int) -> list[Moment]:
    return moments[bisect_left(starts, start) : bisect_left(starts, end)]


def _old_new(folded: str, span: tuple[int, int], moments: list[Moment]) -> Pair | None:
    start = span[0]
    if len(moments) == 1:
        pair = _single(folded, span, moments[0])
    elif len(moments) == 2:
        pair = _ordered(folded, start, moments[0], moments[1])
    else:
        return None
    if pair is None or pair[0] == pair[1] or _NEGATION.search(folded, start, moments[-1].start):
        return None
    return pair


def _ordered(folded: str, start: int, first: Moment, second: Moment) -> Pair | None:
    """Two moments: which one is old, from the connective between them, else before them."""
    gap_old = _BEFORE_OLD.search(folded, first.end, second.start)
    gap_new = _BEFORE_NEW.search(folded, first.end, second.start)
    if gap_old and gap_new:
        return None
    if gap_old:
        return second.value, first.value
    if gap_new:
        return first.value, second.value
    last = _last_connective(folded, start, first.start)
    if last is not None and last[1] == "old":
        return first.value, second.value  # "au lieu de A, B"
    if last is not None and _BARE_TO.fullmatch(folded, first.end, second.start):
        return first.value, second.value  # "reportée du A au B"
    return None


def _single(folded: str, span: tuple[int, int], moment: Moment) -> Pair | None:
    """One moment: the new value when a "new value" verb introduces it closely ("est reportée au")."""
    start, end = span
    last = _last_connective(folded, start, moment.start)
    if last is None or last[1] != "new" or _MODIFIED.fullmatch(last[0][0]):
        return None  # "modifié" alone does not say that the date after it is the new one
    lead = folded[last[0].end() : moment.start]
    if len(lead) > _MAX_LEAD or not _VALUE_LEAD.fullmatch(lead) or _OTHER_EVENT.search(lead):
        return None
    if _UNCHANGED.search(folded, start, end):
        return None
    return None, moment.value


def _last_connective(folded: str, start: int, end: int) -> tuple[re.Match[str], str] | None:
    """The last connective in ``folded[start:end]``, with its kind: "new" or "old" (the value it introduces)."""
    best: tuple[re.Match[str], str] | None = None
    for kind, regex in (("new", _BEFORE_NEW), ("old", _BEFORE_OLD), ("old", _FORMER)):
        for match in regex.finditer(folded, start, end):
            if best is None or match.end() > best[0].end():
                best = (match, kind)
    return best
