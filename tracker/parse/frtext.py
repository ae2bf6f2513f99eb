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

import html
import itertools
import re
import unicodedata
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final, Protocol
from zoneinfo import ZoneInfo

from tracker.notice import DATE_FIELDS, Amendment
from tracker.values import PARIS, fixed_offset, parse_boamp_moment, small_int, wall_time

__all__ = [
    "Found",
    "Moment",
    "field_for_label",
    "find_amounts",
    "find_durations",
    "find_moments",
    "find_urls",
    "fold",
    "hint_for_label",
    "interpret",
    "lots_in",
    "lots_named",
    "parse_amount_text",
    "parse_duration",
    "parse_moment",
]


@dataclass(frozen=True, slots=True)
class Moment:
    """A date, or a date and time, found in a text, with its span ``text[start:end]``."""

    value: date | datetime  # a datetime is tz-aware (fixed offset)
    start: int
    end: int


Pair = tuple[Any, Any]  # (old, new)
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


fold = _fold


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
    return [moment for moment in found if moment is not None and moment.value.year in _YEARS]


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
            r"|\bd\.?\s?[lr]\.?\s?[rl]\.?\s?o\b|date\s+limite\s+des\s+offres"
        ),
    ),
    (
        "opening_date",
        re.compile(r"ouverture\s+des\s+(?:plis|offres|enveloppes)|date\s+d'ouverture(?!\s+des\s+candidatures)"),
    ),
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
            r"|commencement|demarrage|entree\s+en\s+vigueur|entrera\s+en\s+vigueur"
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
    (
        "estimated_value",
        re.compile(
            r"valeur\s+(?:totale\s+)?estimee|montant\s+(?:total\s+)?estime"
            r"|valeur\s+(?:totale\s+)?hors\s+(?:t\.?\s?v\.?\s?a|taxes?)"
        ),
    ),
    (
        "max_value",
        re.compile(r"(?:valeur|montant)\s+(?:total\s+|totale\s+)?maxim|\bmaximum\s+(?:h\.?\s?t\b|ttc\b|de\s+\d)"),
    ),
)
_URL_KEYWORDS: Final[Keywords] = (
    (
        "submission_url",
        re.compile(
            r"profil\s+(?:d'\s?)?acheteur|adresse\s+de\s+depot|(?:remise|depot)\s+electronique|plateforme\s+de\s+depot"
            r"|offres\s+(?:ou\s+les\s+demandes\s+de\s+participation\s+)?doivent\s+etre\s+(?:envoyees|transmises|deposees|remises)"
            r"|offres\s+seront\s+(?:envoyees|transmises|deposees|remises)|soumission\s+des\s+offres"
            r"|(?:remettre|deposer|transmettre)\s+(?:leurs?\s+|sa\s+|la\s+|les\s+)?(?:candidatures?\s+et\s+)?(?:offres?|plis)"
        ),
    ),
    (
        "documents_url",
        re.compile(
            r"documents?\s+de\s+(?:la\s+)?consultation|\bdce\b|dossier\s+de\s+(?:la\s+)?consultation"
            r"|documents\s+du\s+marche|documents\s+peuvent\s+etre\s+obtenus|(?:retrait|telechargement)\s+du\s+dossier"
            r"|reglement\s+de\s+(?:la\s+)?consultation\s+(?:\w+\s+)?est\s+telechargeable|telecharger\s+ces\s+documents"
        ),
    ),
)
_DATE_WORD: Final = re.compile(r"\b(?:dates?|heures?|delais?|limites?)\b")
_VALIDITY: Final = re.compile(r"\bvalidite\b|maintenir\s+son\s+offre")
_DURATION: Final = re.compile(r"\bduree\b|delai\s+d'execution")
_SECTION: Final = re.compile(r"\b(iv|iii|ii|vi|v|i)(?:\s?\.\s?|\s)(\d{1,2})(?:\s?\.\s?(\d{1,2}))?(?!\.?\d)")
_SECTIONS: Final[dict[str, str | None]] = {
    "iv.2.2": "tender_deadline",
    "iv.3.4": "tender_deadline",
    "iv.2.7": "opening_date",
    "iv.3.8": "opening_date",
    "iv.2.6": None,  # offer validity: not tracked
    "ii.2.7": "duration",
    "ii.1.5": "estimated_value",
    "ii.2.6": "estimated_value",
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


#: Headings too generic to name the field of a value under them ("VI.3) Renseignements complémentaires").
_GENERIC_HEADING: Final = re.compile(
    r"[\W\divx]*(?:bloc\s+)?(?:autres?\s+)?(?:renseignements?|informations?)(?:\s+complementaires?)?\W*", re.I
)


#: The buyer's profile is the buyer's site, not the address where tenders go (unless the words say so).
_BUYER_PROFILE: Final = re.compile(r"profil\s+(?:d'\s?)?acheteur")


def hint_for_label(label: str | None) -> str | None:
    """The field a section heading names, to read a value under it that its own words do not name.

    As :func:`field_for_label`, except that a generic heading ("Renseignements complémentaires", which
    also names the questions deadline) hints nothing.
    """
    if not label or _GENERIC_HEADING.fullmatch(_words(label)):
        return None
    field = field_for_label(label)
    return None if field == "submission_url" and _BUYER_PROFILE.search(_words(label)) else field


# ---------------------------------------------------------------- sentences

#: A sentence ends at "." before a space and a capital (not "Lire", which continues "Au lieu de : ..."),
#: at "." glued to a capitalised word ("remaniée.En effet"), or at ";", "!" or "?" before a space.
#: "R.2132-7", "R. 2142-1", "05/10/2026", "IV.2.2" do not end one.
_SENTENCE_END: Final = re.compile(r"\.(?=\s+(?!(?i:lire)\b)[A-Z])|(?<=[a-z\d]{2})\.(?=[A-Z][a-z])|[;!?](?=\s)")
_LINE: Final = re.compile(r"[^\n]+")

#: Connectives introducing the new value (so a value before them is the old one).
_BEFORE_NEW: Final = re.compile(
    r"\b(?:report|repouss|prorog|decal|prolong)(?:e|ee|es|ees|ent|era|eront|ation|age)?\b"
    r"|\blire\b|→|->|=>|⇒|\bremplacee?s?\s+par\b|\bdesormais\b|\bnouvel(?:le)?s?\s+dates?\b"
    r"|\b(?:est|sont|sera|seront|ete)\s+(?:desormais\s+|donc\s+)?(?:fixee?s?|portee?s?)\b|\bmodifiee?s?\b"
    r"|\bfixee?s?(?=\s+(?:au|a|le)\b)",
    re.IGNORECASE,
)
#: Connectives introducing the old value (so a value before them is the new one).
_BEFORE_OLD: Final = re.compile(
    r"\bau\s+lieu\s+d|\bet\s+non\b|\ben\s+remplacement\s+d|\bremplace(?:nt)?\b(?!\s+par\b)", re.IGNORECASE
)
#: Words marking the following value as the former one, only meaningful before both values.
_FORMER: Final = re.compile(r"\b(?:initialement|precedemment|anciennement)\b", re.IGNORECASE)
_MODIFIED: Final = re.compile(r"\bmodifiee?s?\b", re.IGNORECASE)
_BARE_TO: Final = re.compile(r"\s*(?:,\s*)?(?:au|a|jusqu'au|jusqu'a)\s+(?:le\s+)?", re.IGNORECASE)
_VALUE_LEAD: Final = re.compile(
    r"\s*|.*(?:\b(?:au|a|le|du|jusqu'au|jusqu'a)|:|→|->|=>)\s*(?:(?:" + _WEEKDAYS + r")\s+)?",
    re.IGNORECASE | re.DOTALL,
)
_AMOUNT_LEAD: Final = re.compile(r"\s*|.*(?:\b(?:au|a|le|du|de|d'|jusqu'au|jusqu'a)|:|→|->|=>)\s*", re.I | re.DOTALL)
_OTHER_EVENT: Final = re.compile(
    r"\b(?:visite|lieu|seance|reunion|publication|publie|mise\s+en\s+ligne|rc|dce|reglement|notification)\b"
    r"|\b(?:rectifiee?s?|modifiee?s?|paru|parue)\s+le\b",
    re.I,
)
#: Other events, for a value stated without a verb: "aura lieu le" is the event itself, not another one.
_OTHER_EVENT_STATED: Final = re.compile(
    r"\b(?:visite|seance|reunion|publication|publie|mise\s+en\s+ligne|reponses?|echantillons?|notification|tranches?)\b"
    r"|\bjours?\s+(?:calendaires\s+|ouvres\s+|francs\s+)?avant\b"
    r"|(?<!aura )(?<!auront )(?<!a )\blieu\b",
    re.I,
)
_UNCHANGED: Final = re.compile(r"\b(?:inchangee?s?|maintenue?s?|reste|restent|demeure|demeurent)\b", re.I)
_NEGATION: Final = re.compile(r"(?<!non )\bpas\b|\bn'(?:est|a|ont|sont|etait|etaient|sera|seront)\b", re.I)
_MAX_LEAD: Final = 80
_MAX_STATED_LEAD: Final = 120
#: What may stand around a bare value named by the section alone ("Date : le 16/02/21 à 14h00").
_BARE: Final = re.compile(
    r"[\s:,.()\-]*(?:(?:le|la|au|a|du|des|de|d'|jusqu'au|jusqu'a|avant|date|heure|heures|limite|nouvelle|lire"
    r"|et|locale|paris|precises?|ht|h\.t\.|ttc|hors|taxes?|tva|valeur|montant|duree|en|mois|ouverture|lieu)\b"
    r"[\s:,.()\-]*)*",
    re.I,
)
#: The end of a label before its value in a free text: "Date limite de réception des offres : ".
_COLON_LEAD: Final = re.compile(r".*:\s*(?:le\s+)?", re.I | re.DOTALL)
#: Between two field names that share one value: "des offres et d'ouverture des plis".
_CONJ: Final = re.compile(
    r"\s*(?:,|et|ainsi\s+que)\s*(?:(?:la|le|les|de|du|des|d'|celle|celles)\s*){0,3}"
    r"(?:dates?\s*(?:et\s+heures?\s*)?(?:limites?\s*)?)?(?:(?:de|d'|du|des)\s*)?"
)

#: A clause break: a field named before it is not the subject of a value after it.
_CLAUSE: Final = re.compile(r",\s|;")

Change = tuple[str, Any, Any]  # (field, old, new)


class _Spanned(Protocol):
    @property
    def value(self) -> Any: ...
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Found:
    """A value found in a text (an amount, a duration, a URL), with its span ``text[start:end]``."""

    value: Any
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class _Unit:
    """One sentence (or line) of a text, in its three forms, with its moments and how to read it."""

    text: str
    folded: str
    lower: str
    start: int
    end: int
    moments: list[Moment]
    stated: bool
    hint: str | None

    @property
    def span(self) -> tuple[int, int]:
        return self.start, self.end


def interpret(
    text: str,
    *,
    field_hint: str | None = None,
    lot: str | None = None,
    section: str | None = None,
    zone: ZoneInfo = PARIS,
    stated: bool = False,
) -> list[Amendment]:
    """Typed amendments stated by a text, one per sentence and field it changes (and per lot it names).

    Dates, amounts, durations, URLs and the status (a procedure or lot declared "sans suite" or
    "infructueux") are read. A free text (``stated=False``) must say that a value changes ("est reportée
    au", "au lieu de", "lire", "Date limite … : <date>"); a text that states the values to read
    (``stated=True``: a ``LIRE`` or added text) may also name a field and its value without a verb. Sentences
    that state no typed change produce nothing (the caller keeps the text). ``field_hint`` names the
    field when a sentence's words name none. ``lot`` wins over the lots a sentence names.
    """
    folded = _fold(text)
    lower = _lower(folded)
    found: list[Amendment] = []
    for start, end, moments in _units(folded, _moments(folded, zone)):
        unit = _Unit(text, folded, lower, start, end, moments, stated, field_hint)
        changes = _unit_changes(unit)
        if not changes:
            continue
        evidence = " ".join(text[start:end].split())
        lots: list[str | None] = [lot] if lot else [*lots_in(lower, start, end)] or [None]
        for field, old, new in changes:
            found += [
                Amendment(field=field, old=old, new=new, lot=each, section=section, evidence=evidence) for each in lots
            ]
    return found


def _lower(folded: str) -> str:
    lower = folded.lower()
    if len(lower) == len(folded):
        return lower
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in folded)


def _unit_changes(u: _Unit) -> list[Change]:
    return [*_date_changes(u), *_status_changes(u), *_value_changes(u), *_duration_changes(u), *_url_changes(u)]


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
    """Sentence spans; a period inside a URL ("…entreprise.EntrepriseAdvancedSearch") ends none."""
    urls = [(m.start(), m.end()) for m in _URL.finditer(folded)]
    spans, start = [], 0
    for match in _SENTENCE_END.finditer(folded):
        if any(lo < match.start() < hi - 1 for lo, hi in urls):
            continue
        spans.append((start, match.end()))
        start = match.end()
    spans.append((start, len(folded)))
    return spans


def _between(moments: list[Moment], starts: Sequence[int], start: int, end: int) -> list[Moment]:
    return moments[bisect_left(starts, start) : bisect_left(starts, end)]


# ---------------------------------------------------------------- sentences: dates


def _date_changes(u: _Unit) -> list[Change]:
    if not u.moments:
        return []
    if len(u.moments) <= 2:
        pair = _old_new(u.folded, u.span, u.moments)
        if pair is not None:
            return [(field, pair[0], pair[1]) for field in _fields(u, u.moments[-1].end)]
    if _connected(u.folded, u.start, u.end) or _doubtful(u.folded, u.start, u.end):
        return []
    return _stated_moments(u)


def _fields(u: _Unit, until: int) -> list[str]:
    """The date fields named up to the last moment, else in the whole sentence, else the hint.

    Words before and among the moments win over later ones ("Date limite ... : A au lieu de B, suite aux
    questions"); several fields named together share the value ("la date limite de réception des offres
    et d'ouverture des plis"), named apart they are ambiguous.
    """
    for end in (until, u.end):
        matches = _date_field_matches(u.lower, u.start, end)
        if matches:
            return _conjoined(u.lower, matches)
        found, field = _section_field(_words(u.folded[u.start : end]))
        if found:
            return [field] if field in DATE_FIELDS and field is not None else []
    return [u.hint] if u.hint in DATE_FIELDS and u.hint is not None else []


def _date_field_matches(lower: str, start: int, end: int) -> list[tuple[str, int, int]]:
    """(field, start, end) of the first words naming each date field in ``lower[start:end]``, in order."""
    found: list[tuple[str, int, int]] = []
    for field, regex in _DATE_KEYWORDS:
        match = regex.search(lower, start, end)
        if match:
            found.append((field, match.start(), match.end()))
    names = {field for field, _, _ in found}
    if "tender_deadline" in names and "request_deadline" in names:
        found = [f for f in found if f[0] != "request_deadline"]  # "offres ou demandes de participation"
    return sorted(found, key=lambda f: f[1])


def _conjoined(lower: str, matches: list[tuple[str, int, int]]) -> list[str]:
    """The fields of the matches when they form one list ("A et B"), else none (ambiguous)."""
    if len(matches) == 1:
        return [matches[0][0]]
    if all(_CONJ.fullmatch(lower, end, start) for (_, _, end), (_, start, _) in itertools.pairwise(matches)):
        return [field for field, _, _ in matches]
    (_, _, end), (last, start, _) = matches[-2], matches[-1]
    return [last] if start > end and _CLAUSE.search(lower, end, start) else []


def _connected(folded: str, start: int, end: int) -> bool:
    """Whether the text holds a connective of change ("reportée", "au lieu de", "initialement")."""
    return any(regex.search(folded, start, end) for regex in (_BEFORE_NEW, _BEFORE_OLD, _FORMER))


def _doubtful(folded: str, start: int, end: int) -> bool:
    return bool(_UNCHANGED.search(folded, start, end) or _NEGATION.search(folded, start, end))


def _stated_moments(u: _Unit) -> list[Change]:
    """Moments each introduced by its own field name ("Date limite … : A. Date d'ouverture … : B").

    A free text gives one, after a colon; a stated text (``LIRE``, added text) may give several, or one
    that only the section names (the hint) when nothing but a bare value stands around it. A moment that
    no name introduces makes the whole sentence ambiguous.
    """
    moments = u.moments
    if not u.stated and len(moments) != 1:
        return []
    out: list[Change] = []
    previous = u.start
    for moment in moments:
        fields = _lead_fields(u, previous, moment.start)
        if not fields and len(moments) == 1 and u.stated and u.hint in DATE_FIELDS and u.hint is not None:
            bare = _BARE.fullmatch(u.folded, previous, moment.start) and _BARE.fullmatch(u.folded, moment.end, u.end)
            fields = [u.hint] if bare else []
        if not fields or (not u.stated and not _COLON_LEAD.fullmatch(u.folded, previous, moment.start)):
            return []
        out += [(field, None, moment.value) for field in fields]
        previous = moment.end
    if len({field for field, _, _ in out}) != len(out):
        return []  # one field given twice
    return out


def _lead_fields(u: _Unit, start: int, end: int) -> list[str]:
    """The date fields that the words just before a value name, if nothing else stands between."""
    matches = _date_field_matches(u.lower, start, end)
    if not matches:
        found, field = _section_field(_words(u.folded[start:end]))
        return [field] if found and field in DATE_FIELDS and field is not None else []
    between = max(e for _, _, e in matches)
    if end - between > _MAX_STATED_LEAD or _OTHER_EVENT_STATED.search(u.folded, start, end):
        return []
    return _conjoined(u.lower, matches)


def _old_new(
    folded: str, span: tuple[int, int], items: Sequence[_Spanned], lead: re.Pattern[str] = _VALUE_LEAD
) -> Pair | None:
    start = span[0]
    if len(items) == 1:
        pair = _single(folded, span, items[0], lead)
    elif len(items) == 2:
        pair = _ordered(folded, start, items[0], items[1])
    else:
        return None
    if pair is None or pair[0] == pair[1] or _NEGATION.search(folded, start, items[-1].start):
        return None
    return pair


def _ordered(folded: str, start: int, first: _Spanned, second: _Spanned) -> Pair | None:
    """Two values: which one is old, from the connective between them, else before them."""
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


def _single(folded: str, span: tuple[int, int], item: _Spanned, lead_re: re.Pattern[str]) -> Pair | None:
    """One value: the new value when a "new value" verb introduces it closely ("est reportée au")."""
    start, end = span
    last = _last_connective(folded, start, item.start)
    if last is None or last[1] != "new" or _MODIFIED.fullmatch(last[0][0]):
        return None  # "modifié" alone does not say that the value after it is the new one
    lead = folded[last[0].end() : item.start]
    if len(lead) > _MAX_LEAD or not lead_re.fullmatch(lead) or _OTHER_EVENT.search(lead):
        return None
    if _UNCHANGED.search(folded, start, end):
        return None
    return None, item.value


def _last_connective(folded: str, start: int, end: int) -> tuple[re.Match[str], str] | None:
    """The last connective in ``folded[start:end]``, with its kind: "new" or "old" (the value it introduces)."""
    best: tuple[re.Match[str], str] | None = None
    for kind, regex in (("new", _BEFORE_NEW), ("old", _BEFORE_OLD), ("old", _FORMER)):
        for match in regex.finditer(folded, start, end):
            if best is None or match.end() > best[0].end():
                best = (match, kind)
    return best


# ---------------------------------------------------------------- sentences: other values


def _typed_items(
    u: _Unit, items: list[Found], fields: list[str], field_set: tuple[str, ...], lead: re.Pattern[str]
) -> list[Change]:
    """Changes of non-date values: one field named (else the hint), one or two values, as dates are read."""
    if not items or len(items) > 2:
        return []
    if not fields and u.hint in field_set and u.hint is not None:
        bare = _BARE.fullmatch(u.folded, u.start, items[0].start) and _BARE.fullmatch(u.folded, items[-1].end, u.end)
        fields = [u.hint] if bare or field_set == _URL_FIELDS else []
    if len(fields) != 1:
        return []
    pair = _old_new(u.folded, u.span, items, lead)
    if pair is not None:
        return [(fields[0], pair[0], pair[1])]
    if len(items) != 1 or _connected(u.folded, u.start, u.end) or _doubtful(u.folded, u.start, u.end):
        return []
    if not u.stated and not _COLON_LEAD.fullmatch(u.folded, u.start, items[0].start):
        return []
    return [(fields[0], None, items[0].value)]


def _named(lower: str, start: int, end: int, keywords: Keywords) -> list[str]:
    return [field for field, regex in keywords if regex.search(lower, start, end)]


# amounts: "659,764 Euro", "1 234,56 €", "90 000 euros HT", "72 millions d'euros H.T.", "1,2 M€"
_AMOUNT: Final = re.compile(
    r"(?<![\d.,])(?<!\d )"
    r"(?P<num>\d{1,3}(?P<sep>[ .,])\d{3}(?:(?P=sep)\d{3}){0,4}(?:[.,]\d{1,2})?|\d{1,12}(?:[.,]\d{1,2})?)"
    r"(?!\d)\s?(?:(?P<mult>millions?|milliards?)\s(?:d'\s?|de\s)?|(?P<short>[mk])\s?(?=€|eur))?"
    r"(?:€|euros?(?:\(s\))?|eur\b)(?![a-z])",
    re.I,
)
_PLAIN_NUMBER: Final = re.compile(r"\s*(?:\d{1,3}(?:[ .]\d{3})+|\d{1,12})(?:,\d{1,2})?\s*")
_GROUPED: Final = re.compile(r"(?P<int>\d{1,3}(?:[ .,]\d{3})+)(?:(?P<dsep>[.,])(?P<dec>\d{1,2}))?")
_MULTIPLIERS: Final = {
    "million": 10**6,
    "millions": 10**6,
    "milliard": 10**9,
    "milliards": 10**9,
    "m": 10**6,
    "k": 1000,
}
_VALUE_DOUBT: Final = re.compile(
    r"\bpar\s+jour\b|\bchiffres?\s+d'\s?affaires?|\bpenalit|\bcaution"
    r"|\bgarantie|\bcapital\b|\bassurance|\bunitaire|\bsubvention|\bavance\b|\baugment|\bsupplementaire|\bdiminu|\breduit",
    re.I,
)
_VALUE_FIELDS: Final = ("estimated_value", "max_value")


def parse_amount_text(text: str) -> Decimal | None:
    """The amount a short text states ("90 000 euros HT", "659,764 Euro"), or None if none or ambiguous."""
    found = find_amounts(text)
    return found[0].value if len(found) == 1 and found[0].value is not None else None


def find_amounts(text: str) -> list[Found]:
    """Amounts in euros, in order; an ambiguous number ("1,234,56 €") has the value None."""
    folded = _fold(text)
    return [Found(_amount(m), m.start(), m.end()) for m in _AMOUNT.finditer(folded)]


def _amount(match: re.Match[str]) -> Decimal | None:
    num = match["num"]
    if match["sep"]:
        grouped = _GROUPED.fullmatch(num)
        if grouped is None or grouped["dsep"] == match["sep"]:
            return None  # "1,234,56": the same mark cannot separate thousands and cents
        value = Decimal(re.sub(r"\D", "", grouped["int"]) + ("." + grouped["dec"] if grouped["dec"] else ""))
    else:
        value = Decimal(num.replace(",", "."))
    factor = _MULTIPLIERS.get((match["mult"] or match["short"] or "").lower(), 1)
    return value * factor


def _value_changes(u: _Unit) -> list[Change]:
    items = find_amounts(u.text[u.start : u.end])
    if not items and u.stated and u.hint in _VALUE_FIELDS and _PLAIN_NUMBER.fullmatch(u.text, u.start, u.end):
        items = find_amounts(u.text[u.start : u.end] + " €")  # a bare number under a value heading
    if not items or any(f.value is None for f in items) or _VALUE_DOUBT.search(u.folded, u.start, u.end):
        return []
    items = [Found(f.value, f.start + u.start, f.end + u.start) for f in items]
    fields = _named(u.lower, u.start, items[0].start, _VALUE_KEYWORDS) or _named(
        u.lower, u.start, u.end, _VALUE_KEYWORDS
    )
    return _typed_items(u, items, fields, _VALUE_FIELDS, _AMOUNT_LEAD)


# durations: "12 mois", "4 ans", "Durée en mois : 44"
_DURATION_ITEM: Final = re.compile(
    r"(?<![\d.,])(?<!\d )(?P<n>\d{1,3})\s?(?P<unit>mois|annees?|ans?|semaines?|jours?)\b"
    r"|\bduree\s+en\s+(?P<unit2>mois|annees|jours|semaines)\s?:?\s?(?P<n2>\d{1,3})(?![\d.,]?\d)",
    re.I,
)
_FORM_DURATION: Final = re.compile(r"duree\s+en\s", re.I)
_VALIDITY_DOUBT: Final = re.compile(
    r"\bvalidite\b|\bvalable|\bmaintenir\b|\ba\s+compter\s+de\s+la\s+date\s+(?:limite\s+)?de\s+(?:reception|remise)",
    re.I,
)
_UNITS: Final = {"m": "M", "a": "Y", "s": "W", "j": "D"}
_DURATION_NAME: Final = re.compile(r"\bduree\b|\bdelai\s+d'\s?execution\b", re.I)
_DURATION_DOUBT: Final = re.compile(
    r"\bvalidite\b|\bvalable|\bmaintenir\b|\bgarantie|\breconduction|\breconductible|\bpreavis|\blivraison"
    r"|\bpaiement|\bconservation|\bstage|\bvisite|\ba\s+compter\s+de\s+la\s+date\s+(?:limite\s+)?de\s+(?:reception|remise)"
    r"|\bprolong|\bpreparation|\bmaximum|\bminim|\bjusqu|\baugment|\bsupplementaire|\bdiminu|\breduit",
    re.I,
)


def parse_duration(text: str) -> str | None:
    """The ISO 8601 duration a short text states ("48 mois" → "P48M", "4 ans" → "P4Y"), or None."""
    found = find_durations(text)
    return found[0].value if len(found) == 1 else None


def find_durations(text: str) -> list[Found]:
    folded = _fold(text)
    out: list[Found] = []
    for m in _DURATION_ITEM.finditer(folded):
        count, unit = (m["n"], m["unit"]) if m["n"] else (m["n2"], m["unit2"])
        if int(count) > 0:
            out.append(Found(f"P{int(count)}{_UNITS[unit[0].lower()]}", m.start(), m.end()))
    return out


def _duration_changes(u: _Unit) -> list[Change]:
    items = [Found(f.value, f.start + u.start, f.end + u.start) for f in find_durations(u.text[u.start : u.end])]
    form = [f for f in items if _FORM_DURATION.match(u.folded, f.start)]
    if form and _VALIDITY_DOUBT.search(u.folded, u.start, u.end):
        return []
    if form:
        items = form[:1] if len({f.value for f in form}) == 1 else form  # the form's field, whatever follows
    elif not items or _DURATION_DOUBT.search(u.folded, u.start, u.end):
        return []
    named = _DURATION_NAME.search(u.folded, u.start, u.end)
    return _typed_items(u, items, ["duration"] if named else [], ("duration",), _AMOUNT_LEAD)


# URLs
_URL: Final = re.compile(
    r"\bhttps?://[^\s<>\"'()\[\]{}|\\^`]{1,2000}|(?<![/:\w.])www\.[^\s<>\"'()\[\]{}|\\^`]{1,2000}", re.I
)
_GLUED: Final = re.compile(r"[a-z0-9][A-Z]")
_URL_FIELDS: Final = ("submission_url", "documents_url")
#: In a free text, a URL is a change only when the words say so.
_URL_CHANGE: Final = re.compile(
    r"\bnouvel(?:le)?s?\b|\bcorrecte?s?\b|\berreur|\bremplac|\bdesormais\b|\bau\s+lieu\s+d|\blire\b|\brectifi", re.I
)


def find_urls(text: str) -> list[Found]:
    """URLs in order, cleaned of trailing punctuation and of a word glued to their host ("….frSous")."""
    out: list[Found] = []
    for m in _URL.finditer(text):
        raw = m.group(0)
        host_end = raw.find("/", raw.find("//") + 2) if "//" in raw else raw.find("/")
        host = raw if host_end < 0 else raw[:host_end]
        glued = _GLUED.search(host, raw.find("//") + 2 if "//" in raw else 0)
        if glued:
            raw = raw[: glued.start() + 1]
        raw = raw.rstrip(".,;:!?")
        if "." in raw.split("//")[-1]:
            out.append(Found(html.unescape(raw), m.start(), m.start() + len(raw)))
    return out


def _profile_only(u: _Unit, field: str) -> bool:
    """Whether only "profil acheteur" names the submission URL: the buyer's site, not a tracked address."""
    if field != "submission_url" or not _BUYER_PROFILE.search(u.lower, u.start, u.end):
        return False
    masked = _BUYER_PROFILE.sub(lambda m: " " * len(m.group(0)), u.lower[u.start : u.end])
    return not dict(_URL_KEYWORDS)["submission_url"].search(masked)


def _url_changes(u: _Unit) -> list[Change]:
    found = [Found(f.value, f.start + u.start, f.end + u.start) for f in find_urls(u.text[u.start : u.end])]
    items: list[Found] = []
    for item in found:
        if not items or items[-1].value != item.value:
            items.append(item)
    if not items:
        return []
    fields = [f for f in _named(u.lower, u.start, u.end, _URL_KEYWORDS) if not _profile_only(u, f)]
    if not u.stated and not (fields and _URL_CHANGE.search(u.folded, u.start, u.end)):
        return []
    if len(items) == 1 and not u.stated and not _connected(u.folded, u.start, u.end):
        return [(fields[0], None, items[0].value)] if len(fields) == 1 else []
    return _typed_items(u, items, fields, _URL_FIELDS, _AMOUNT_LEAD)


# status
_CANCELLED: Final = re.compile(
    r"\bdeclar(?:e|ee|es|ees|er|ent|ons|ation)\s+(?:de\s+)?(?:la\s+(?:presente\s+)?(?:procedure|consultation)\s+)?"
    r"sans\s+suite\b"
    r"|\b(?:procedure|consultation|appel\s+d'\s?offres?|avis)\b[^.;:]{0,60}?\b(?:est|a\s+ete|sont|ont\s+ete)\s+"
    r"(?:purement\s+et\s+simplement\s+)?(?:annulee?s?|abandonnee?s?)\b",
    re.I,
)
_UNSUCCESSFUL: Final = re.compile(
    r"\b(?:declaree?s?|est|sont|a\s+ete|ont\s+ete|devenue?s?)\s+infructueu(?:x|se|ses)\b", re.I
)
_STATUS_DOUBT: Final = re.compile(
    r"\bpourr|\bpeu(?:t|vent)\b|\breserve|\bsusceptible|\beventuel|\bpossibilit|\ben\s+cas\s+d|\bsi\s|\blorsqu"
    r"|\bfaculte|\bprecedente?s?\b|\banterieure?s?\b|\bprecedemment|\binitialement|\bdroit\s+de"
    r"|\bsuite\s+a\s+(?:la|une|l')\s?(?:procedure|consultation)",
    re.I,
)


def _status_changes(u: _Unit) -> list[Change]:
    cancelled = _CANCELLED.search(u.folded, u.start, u.end)
    unsuccessful = _UNSUCCESSFUL.search(u.folded, u.start, u.end)
    if bool(cancelled) == bool(unsuccessful):
        return []  # neither, or both ("sans suite car infructueux"): not for sure
    if _STATUS_DOUBT.search(u.folded, u.start, u.end) or _NEGATION.search(u.folded, u.start, u.end):
        return []
    return [("status", None, "cancelled" if cancelled else "unsuccessful")]


# ---------------------------------------------------------------- lots

_LOT: Final = re.compile(
    r"\blot-(?P<eforms>\d{4})\b"
    r"|\blots?\s?(?:n\s?[°o]s?\.?\s?|numeros?\s?)?(?P<n>\d{1,3})(?![\d/]|[.,]\d|\s?(?:h\d|h\b|heures?|mois|ans?|jours?|euros?|€|%))",
    re.I,
)
_LOT_MORE: Final = re.compile(
    r"\s?(?:,|et|&)\s?(?:(?:le|les)\s)?(?:lots?\s?(?:n\s?[°o]s?\.?\s?)?)?(?P<n>\d{1,3})(?![\d/]|[.,]\d)", re.I
)


def lots_in(text: str, start: int = 0, end: int | None = None) -> list[str]:
    """The lots a text names ("lot n° 2", "lots 1, 2 et 3", "LOT-0001"), as lot keys ("2", "LOT-0001")."""
    stop = len(text) if end is None else end
    out: list[str] = []
    for m in _LOT.finditer(text, start, stop):
        if m["eforms"]:
            out.append(f"LOT-{m['eforms']}")
            continue
        out.append(str(int(m["n"])))
        more = _LOT_MORE.match(text, m.end(), stop)
        while more:
            out.append(str(int(more["n"])))
            more = _LOT_MORE.match(text, more.end(), stop)
    return list(dict.fromkeys(out))


def lots_named(text: str | None) -> list[str]:
    """The lots a ``LOT`` element names: "3" → ["3"], "Lot 1 et lot 2" → ["1", "2"], "unique" → []."""
    if not text:
        return []
    words = _fold(text).strip()
    if words.isdigit():
        number = small_int(words)
        return [str(number)] if number is not None else []
    named = lots_in(words) or lots_in(f"lot {words}")
    if named:
        return named
    return [] if re.fullmatch(r"(?i)(?:lot\s+)?unique", words) else [text.strip()]
