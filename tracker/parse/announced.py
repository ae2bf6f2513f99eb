"""Dates an eForms change notice announces only in its free texts (BT-141 descriptions, BT-762 reason). Pure.

A real change notice may say "Termin składania ofert: 2023-12-12 12:30:00" in its reason while its structured
BT-131 still shows the old deadline. The subscriber must still hear of it, but the text is not a typed fact:
each date found here becomes an :class:`~tracker.notice.Amendment` flagged ``announced``.

A date counts only when it is tied to a field by a keyword of some EU language (the nearest one before the
date, else the first one after it, within its sentence) and when it differs from what the structured data of
that field states (a text repeating the structured deadline announces nothing). Forms read: ``2023-12-12``,
``12.12.2023``, ``12/12/2023``, ``12-12-2023``, with an optional time (``12:30``, ``12h30``, ``12 h 30``,
``12.30``) close after it, and day-month-year with month names in French, English, German, Spanish, Italian,
Polish (also ``December 12, 2023``). Day-first numeric forms only, as EU notices write them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, tzinfo
from typing import Any, Final

from tracker.notice import Amendment

__all__ = ["DateMention", "announced_amendments", "find_dates"]

_MONTHS: Final[dict[str, int]] = {}
for _number, _names in enumerate(
    (
        "janvier january jan januar janner enero gennaio stycznia styczen",
        "fevrier february feb februar febrero febbraio lutego luty",
        "mars march mar marz marzo marca marzec",
        "avril april apr abril aprile kwietnia kwiecien ",
        "mai may mayo maggio maja maj",
        "juin june jun juni junio giugno czerwca czerwiec",
        "juillet july jul juli julio luglio lipca lipiec",
        "aout august aug agosto sierpnia sierpien",
        "septembre september sep sept septiembre settembre wrzesnia wrzesien",
        "octobre october oct oktober octubre ottobre pazdziernika pazdziernik",
        "novembre november nov noviembre listopada listopad",
        "decembre december dec dezember diciembre dicembre grudnia grudzien",
    ),
    start=1,
):
    for _name in _names.split():
        _MONTHS[_name] = _number

_MONTH_WORD: Final = "|".join(sorted((re.escape(m) for m in _MONTHS), key=len, reverse=True))
_TIME: Final = r"(?P<hour>[01]?\d|2[0-3])\s?(?::|h|H|\.|godz\.?)\s?(?P<minute>[0-5]\d)(?![\d.,]\d)"
_DATE_FORMS: Final = (
    r"(?<![\d.])(?P<y1>\d{4})-(?P<m1>\d{1,2})-(?P<d1>\d{1,2})(?!\d)",
    r"(?<![\d.])(?P<d2>\d{1,2})[./-](?P<m2>\d{1,2})[./-](?P<y2>\d{4})(?!\d)",
    rf"(?<!\d)(?P<d3>\d{{1,2}})(?:er|st|nd|rd|th|\.)?\s+(?:de\s+)?(?P<n3>{_MONTH_WORD})\.?\s+(?:de\s+)?(?P<y3>\d{{4}})(?!\d)",
    rf"\b(?P<n4>{_MONTH_WORD})\.?\s+(?P<d4>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y4>\d{{4}})(?!\d)",
)
_DATE: Final = re.compile("|".join(f"(?:{form})" for form in _DATE_FORMS))  # read on folded text
#: a time right after the date: "2023-12-12 12:30", "12/12/2023 à 12h30", "12. Dezember 2023 um 12.30 Uhr"
_AFTER: Final = re.compile(
    rf"^[T\s,]*(?:(?:à|a|at|um|o|godz\.?|godzina|godziny|alle|ore|a las|las|kl\.?|klo|h|,)\s*){{0,2}}{_TIME}",
    re.IGNORECASE,
)
_SENTENCE_END: Final = re.compile(r"[.;!?]\s|\n\s*\n")

#: keywords (accents removed, lower case) naming a date field, in EU languages; the nearest one wins
_KEYWORDS: Final[dict[str, tuple[str, ...]]] = {
    "tender_deadline": (
        "date limite de reception des offres",
        "reception des offres",
        "remise des offres",
        "depot des offres",
        "remise des plis",
        "date limite",
        "time limit for receipt of tenders",
        "receipt of tenders",
        "tender deadline",
        "submission deadline",
        "deadline for submission",
        "submission of tenders",
        "deadline",
        "angebotsfrist",
        "eingang der angebote",
        "angebotsabgabe",
        "abgabefrist",
        "schlusstermin",
        "presentacion de ofertas",
        "recepcion de ofertas",
        "fecha limite",
        "plazo de presentacion",
        "presentazione delle offerte",
        "ricevimento delle offerte",
        "termine per",
        "scadenza",
        "termin skladania ofert",
        "skladania ofert",
        "termin skladania",
        "esitamise tahtaeg",
        "tahtaeg",
        "ontvangst van inschrijvingen",
        "indiening van",
        "apresentacao de propostas",
    ),
    "opening_date": (
        "ouverture des plis",
        "ouverture des offres",
        "ouverture",
        "opening of tenders",
        "tender opening",
        "opening",
        "offnung der angebote",
        "angebotsoffnung",
        "eroffnung",
        "apertura de ofertas",
        "apertura",
        "otwarcia ofert",
        "otwarcie ofert",
        "otwarcia",
        "otwarcie",
        "avamine",
        "opening van de inschrijvingen",
        "abertura",
    ),
    "request_deadline": (
        "demandes de participation",
        "candidatures",
        "requests to participate",
        "request to participate",
        "teilnahmeantrag",
        "teilnahmeantrage",
        "solicitudes de participacion",
        "domande di partecipazione",
        "skladania wnioskow",
        "wnioskow o dopuszczenie",
        "verzoeken tot deelneming",
    ),
    "questions_deadline": (
        "questions",
        "demandes de renseignements",
        "clarification",
        "additional information",
        "fragen",
        "ruckfragen",
        "preguntas",
        "aclaraciones",
        "chiarimenti",
        "quesiti",
        "pytania",
        "wyjasnien",
        "wyjasnienia",
        "kusimuste",
    ),
}
_KEYWORD: Final = re.compile(
    "|".join(
        f"(?P<k{i}>{'|'.join(re.escape(w) for w in sorted(words, key=len, reverse=True))})"
        for i, words in enumerate(_KEYWORDS.values())
    )
)
_FIELD_OF: Final = {f"k{i}": name for i, name in enumerate(_KEYWORDS)}
MAX_TEXT: Final = 20_000  # characters of one text read; a longer text is cut there


@dataclass(frozen=True, slots=True)
class DateMention:
    """One date found in a text: the day, the wall time if one follows, and where it sits."""

    day: date
    at: time | None
    start: int
    end: int


def _fold(text: str) -> str:
    """Lower case without accents, one character per character (positions stay valid)."""
    out = []
    for char in text:
        lower = char.lower()
        out.append("l" if lower == "ł" else (unicodedata.normalize("NFD", lower) or " ")[0])
    return "".join(out)


def _mention(match: re.Match[str], text: str) -> DateMention | None:
    g = match.groupdict()
    year = g["y1"] or g["y2"] or g["y3"] or g["y4"]
    day = g["d1"] or g["d2"] or g["d3"] or g["d4"]
    month_name = g["n3"] or g["n4"]
    month = _MONTHS.get(month_name) if month_name else int(g["m1"] or g["m2"])
    try:
        found = date(int(year), month or 0, int(day))
    except (TypeError, ValueError):
        return None
    after = _AFTER.match(text[match.end() : match.end() + 30])
    at = time(int(after.group("hour")), int(after.group("minute"))) if after else None
    return DateMention(found, at, match.start(), match.end() + (after.end() if after else 0))


def find_dates(text: str) -> list[DateMention]:
    """Every date of the text, in order (impossible dates such as 31.02.2024 are skipped)."""
    folded = _fold(text[:MAX_TEXT])
    return [m for m in (_mention(match, folded) for match in _DATE.finditer(folded)) if m is not None]


def _field_for(folded: str, mention: DateMention, previous: tuple[int, str | None]) -> str | None:
    """The field named nearest before the date (since the previous date); else the previous date's field when
    both sit in one sentence ("du 01/03 au 08/03"); else the first named after the date in its sentence."""
    previous_end, previous_field = previous
    before = list(_KEYWORD.finditer(folded, previous_end, mention.start))
    if before:
        return _FIELD_OF[str(before[-1].lastgroup)]
    if previous_field and previous_end and not _SENTENCE_END.search(folded, previous_end, mention.start):
        return previous_field
    stop = _SENTENCE_END.search(folded, mention.end)
    after = _KEYWORD.search(folded, mention.end, stop.start() if stop else len(folded))
    return _FIELD_OF[str(after.lastgroup)] if after else None


def _zone(values: Iterable[Any]) -> tzinfo | None:
    for value in values:
        if isinstance(value, datetime) and value.tzinfo is not None:
            return value.tzinfo
    return None


def _moment(mention: DateMention, zone: tzinfo | None) -> date | datetime:
    """The announced moment, in the offset the notice gives that field (else any of its times); a time without
    any offset to read it in is dropped, the day kept."""
    if mention.at is None or zone is None:
        return mention.day
    return datetime.combine(mention.day, mention.at, tzinfo=zone)


def _agrees(new: date | datetime, stated: Any) -> bool:
    if isinstance(stated, datetime):
        return stated == new if isinstance(new, datetime) else stated.date() == new
    if isinstance(stated, date):
        return (new.date() if isinstance(new, datetime) else new) == stated
    return False


def _evidence(text: str, mention: DateMention) -> str:
    start = max(text.rfind("\n", 0, mention.start) + 1, mention.start - 160)
    stop = text.find("\n", mention.end)
    stop = len(text) if stop == -1 else min(stop, mention.end + 80)
    return " ".join(text[start:stop].split())


def announced_amendments(texts: Iterable[str], lots: dict[str, dict[str, Any]]) -> list[Amendment]:
    """Dates the texts announce for a field that the structured ``lots`` state otherwise, flagged ``announced``.

    ``lots`` are the notice's own lots (typed values): a date equal to one of them announces nothing; ``old``
    is the value they state (when they agree on one), ``lot`` the notice's only lot, else None.
    """
    out: dict[tuple[str, str | None, Any], Amendment] = {}
    all_values = [v for lot in lots.values() for v in lot.values()]
    for text in texts:
        folded = _fold(text[:MAX_TEXT])
        previous: tuple[int, str | None] = (0, None)
        for mention in find_dates(text):
            name = _field_for(folded, mention, previous)
            previous = (mention.end, name)
            if name is None:
                continue
            stated = [lot[name] for lot in lots.values() if lot.get(name) is not None]
            new = _moment(mention, _zone(stated) or _zone(all_values))
            if any(_agrees(new, value) for value in stated):
                continue
            lot_id = next(iter(lots)) if len(lots) == 1 else None
            old = stated[0] if stated and all(v == stated[0] for v in stated) else None
            key = (name, lot_id, new)
            out.setdefault(
                key,
                Amendment(field=name, new=new, old=old, lot=lot_id, evidence=_evidence(text, mention), announced=True),
            )
    return list(out.values())
