"""Règlements de consultation (RC), as text: the facts a bidder acts on. Pure.

An RC states in prose what the notice states in fields, and a buyer who amends the consultation on its
platform replaces the RC without publishing a rectificatif. :func:`parse_rc_text` reads:

* the consultation's number ("Numéro de la consultation : SGCDN-SFA-2025-3"), title, buyer, procedure;
* ``tender_deadline`` (or ``request_deadline`` when the date closes the applications) from "Date et heure
  limite(s) de remise des plis / des offres / de réception …", in every form the seeds show ("le 19/05/2025
  avant 12 :00 :00", "Vendredi 14 novembre 2025 12h00");
* ``questions_deadline`` when a date is given for the questions, ``site_visit`` when a date is given for the
  visit (a visit without a date is said in ``extra["site_visit"]``: "obligatoire" / "facultative");
* ``offer_validity`` ("Le délai de validité des offres est de 6 mois", "valables cent-vingt jours");
* ``start_date`` ("La date prévisionnelle de début des prestations est le 1/06/2025");
* lots ("LOT 1 : Défense en contentieux administratif") with the amounts stated per lot, ``max_value``
  ("montant maximum de 90 000 euros HT"; HT/TTC kept in ``extra["max_value_tax"]``);
* the platform's address (``extra["platform_url"]``).

Only what the text states for sure is typed: a relative date ("10 jours francs avant cette date") gives
nothing, two different deadlines give none. The RC is a restating snapshot of source ``rc`` whose notice id
is the consultation number with the content's hash, so a replaced RC is a new snapshot to diff.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar, Final

from tracker.documents import Document
from tracker.exceptions import ParseError
from tracker.notice import NoticeKind, NoticeSnapshot
from tracker.parse import frtext
from tracker.parse.doctext import NUMBER_WORDS, french_number, normalise_clock, plain_lines
from tracker.parse.notice_text import document_text, published_of
from tracker.values import PARIS, small_int

__all__ = ["SOURCE", "RcTextParser", "looks_like_rc", "parse_rc_text", "rc_facts"]

SOURCE: Final = "rc"

_IS_RC: Final = re.compile(r"\breglement\s+(?:de\s+(?:la\s+)?|du\s+)?consultation\b", re.I)
_NUMBER: Final = re.compile(
    r"\b(?:numero|n\s?°|no|reference)\s+(?:de\s+(?:la\s+)?)?(?:consultation|marche|procedure)\s*:?\s*"
    r"(?P<ref>[A-Z0-9](?:[A-Z0-9._/]|-(?=[A-Z0-9])|\s-\s?(?=\d)){1,40})",
    re.I,
)
_DEADLINE: Final = re.compile(
    r"\bdates?\s+(?:et\s+heures?\s+)?limites?\s+(?:de\s+|d'\s?)(?:remise|reception|depot)"
    r"(?P<what>[^:\n]{0,60})",
    re.I,
)
_QUESTIONS: Final = re.compile(
    r"\bdate\s+limite\s+(?:de\s+|d'\s?)(?:reception|envoi|depot)\s+des\s+(?:questions|demandes\s+de\s+renseignements)"
    r"|\bquestions?\s+(?:devront|doivent)\s+(?:etre\s+)?(?:posees|parvenir|envoyees|transmises)[^.\n]{0,60}?\bavant\s+le",
    re.I,
)
_VISIT: Final = re.compile(r"\bvisites?\s+(?:du\s+site|des\s+lieux|sur\s+site|obligatoire|facultative)", re.I)
_VISIT_MANDATORY: Final = re.compile(r"\bvisite[^.\n]{0,80}\best\s+obligatoire|\bvisite\s+obligatoire", re.I)
_VISIT_OPTIONAL: Final = re.compile(
    r"\bvisite[^.\n]{0,40}\b(?:n'est\s+pas\s+obligatoire|facultative)|\bfaculte[^.\n]{0,60}\bvisiter", re.I
)
_VALIDITY: Final = re.compile(
    r"\b(?:delai\s+de\s+validite\s+des\s+offres|offres\s+sont\s+valables|validite\s+des\s+offres)"
    r"[^.\n]{0,40}?\b(?:est\s+(?:fixe\s+a|de)\s+|pendant\s+|:\s*)?(?P<n>\d{1,3}|" + NUMBER_WORDS + r")\s*"
    r"(?P<unit>mois|jours?|semaines?|ans?)\b",
    re.I,
)
_START: Final = re.compile(
    r"\bdate\s+(?:previsionnelle\s+)?de\s+(?:debut|demarrage|commencement)\b|\bprend\s+effet\b", re.I
)
_MAX: Final = re.compile(r"\bmontant\s+maxim(?:um|al)\b", re.I)
_TAX: Final = re.compile(r"\s?(h\.?\s?t\.?|t\.?\s?t\.?\s?c\.?)(?![a-z])", re.I)
_LOT_LINE: Final = re.compile(r"^\s*[-•]?\s*lot\s+(?:n\s?°\s?)?(?P<id>\d{1,3})\s*[:–-]\s*(?P<rest>.+)$", re.I)
_NOT_ALLOTTED: Final = re.compile(r"\bn'est\s+pas\s+allotie?\b|\bpas\s+d'allotissement\b", re.I)
_PLATFORM: Final = re.compile(r"plate-?\s?forme|profil\s+d'acheteur|dematerialis|\bPLACE\b", re.I)
_PROCEDURE: Final = re.compile(r"\bprocedure\s+de\s+passation\s*:\s*(?P<v>[^\n]{3,80})", re.I)
_BUYER: Final = re.compile(r"\b(?:pouvoir\s+adjudicateur|acheteur|entite\s+adjudicatrice)\s*:\s*$", re.I)
_TITLE: Final = re.compile(r"\b(?:intitule|objet)\s+(?:du\s+marche|de\s+la\s+consultation)\s*:\s*$", re.I)
_UNITS: Final = {"m": "M", "j": "D", "s": "W", "a": "Y"}
_WINDOW: Final = 240


def looks_like_rc(text: str) -> bool:
    """A règlement de consultation: the words near the top."""
    return bool(_IS_RC.search(frtext.fold(text[:8000])))


def parse_rc_text(text: str, *, published: date | None = None, digest: str | None = None) -> NoticeSnapshot:
    """The snapshot an RC states; raise ParseError when it names no consultation."""
    facts = rc_facts(text)
    number = facts.pop("number", None)
    if not number:
        raise ParseError("règlement de consultation: no consultation number found")
    sha = digest or hashlib.sha256(text.encode()).hexdigest()
    return NoticeSnapshot(
        source=SOURCE,
        notice_id=f"{number}#{sha[:12]}",
        kind=NoticeKind.OTHER.value,
        published=published,
        identifiers=[("buyer_ref", number)],
        title=facts.pop("title", None),
        buyer=facts.pop("buyer", None),
        fields=facts.pop("fields"),
        lots=facts.pop("lots"),
        restatement=True,
        extra={"document": "rc", **facts},
    )


def rc_facts(text: str) -> dict[str, Any]:
    """What an RC states: ``number``, ``title``, ``buyer``, ``fields``, ``lots`` and extra facts."""
    lines = plain_lines(text)
    joined = normalise_clock("\n".join(lines))
    folded = frtext.fold(joined)
    fields: dict[str, Any] = {}
    folded_lines = frtext.fold("\n".join(lines)).split("\n")  # folding keeps lengths: one pass for all lines
    facts: dict[str, Any] = {"fields": fields, "lots": _lots(lines, folded_lines)}
    number = _NUMBER.search(folded)
    if number:
        facts["number"] = re.sub(r"\s+", "", joined[number.start("ref") : number.end("ref")]).strip("-.")
    _deadlines(joined, folded, fields)
    _dated(joined, folded, _QUESTIONS, "questions_deadline", fields)
    _visit(joined, folded, fields, facts)
    validity = _validity(folded)
    if validity:
        fields["offer_validity"] = validity
    start = _first_moment_after(joined, folded, _START)
    if start is not None:
        fields["start_date"] = start.date() if isinstance(start, datetime) else start
    _max_value(joined, folded, fields, facts)
    _describe(lines, folded_lines, folded, facts)
    return facts


def _moments(joined: str, start: int, end: int) -> list[frtext.Moment]:
    return frtext.find_moments(joined[start:end], zone=PARIS)


def _deadlines(joined: str, folded: str, fields: dict[str, Any]) -> None:
    """The first deadline label followed by a date: the tender (or request) deadline."""
    for match in _DEADLINE.finditer(folded):
        moments = _moments(joined, match.end(), min(len(joined), match.end() + _WINDOW))
        datetimes = [m for m in moments if isinstance(m.value, datetime)]
        if not moments:
            continue
        value = (datetimes or moments)[0].value
        what = match.group("what").lower()
        name = "request_deadline" if "candidature" in what and "offre" not in what else "tender_deadline"
        fields.setdefault(name, value)
        if name == "tender_deadline":
            return


def _dated(joined: str, folded: str, pattern: re.Pattern[str], name: str, fields: dict[str, Any]) -> None:
    value = _first_moment_after(joined, folded, pattern)
    if value is not None:
        fields[name] = value


def _first_moment_after(joined: str, folded: str, pattern: re.Pattern[str]) -> Any:
    """The first date stated in the sentence a label opens (or the paragraph under a heading)."""
    for match in pattern.finditer(folded):
        end = min(len(joined), match.end() + _WINDOW)
        stop = folded.find(". ", match.end(), end)
        moments = _moments(joined, match.end(), stop if stop > 0 else end)
        if moments:
            return moments[0].value
    return None


def _visit(joined: str, folded: str, fields: dict[str, Any], facts: dict[str, Any]) -> None:
    """The first visit paragraph that says whether the visit is required, and its date when it gives one."""
    for match in _VISIT.finditer(folded):
        window = folded[match.start() : match.start() + 4 * _WINDOW]
        if _VISIT_OPTIONAL.search(window):
            facts["site_visit"] = "facultative"
        elif _VISIT_MANDATORY.search(window):
            facts["site_visit"] = "obligatoire"
        else:
            continue
        stop = window.find("\n\n", 80)
        moments = _moments(joined, match.start(), match.start() + (stop if stop > 0 else len(window)))
        if len({m.value for m in moments}) == 1:
            fields["site_visit"] = moments[0].value
        return


def _validity(folded: str) -> str | None:
    match = _VALIDITY.search(folded)
    if not match:
        return None
    raw = match.group("n")
    count = small_int(raw, digits=4) if raw.isdigit() else french_number(raw)
    if not count:
        return None
    return f"P{count}{_UNITS[match.group('unit')[0].lower()]}"


def _max_value(joined: str, folded: str, fields: dict[str, Any], facts: dict[str, Any]) -> None:
    """The first "montant maximum … <amount>" of a sentence; HT/TTC as stated."""
    values: list[tuple[Decimal, str | None]] = []
    for match in _MAX.finditer(folded):
        stop = folded.find(".\n", match.end(), match.end() + 160)
        end = stop if stop > 0 else min(len(folded), match.end() + 120)
        amounts = frtext.find_amounts(joined[match.end() : end])
        if amounts and amounts[0].value is not None:
            tail = folded[match.end() + amounts[0].end : match.end() + amounts[0].end + 8]
            tax = _TAX.match(tail)
            values.append((amounts[0].value, _tax(tax.group(1)) if tax else None))
    if values and len({v for v, _ in values}) == 1:
        fields["max_value"] = values[0][0]
        if values[0][1]:
            facts["max_value_tax"] = values[0][1]


def _tax(text: str) -> str:
    return "TTC" if text.lower().replace(".", "").replace(" ", "").startswith("tt") else "HT"


def _lots(lines: list[str], folded_lines: list[str]) -> dict[str, dict[str, Any]]:
    """``LOT 1 : title`` lines (the allotment article), with an amount a lot line states."""
    lots: dict[str, dict[str, Any]] = {}
    amounts: dict[str, Decimal] = {}
    for line, folded_line in zip(lines, folded_lines, strict=True):
        match = _LOT_LINE.match(folded_line)
        if not match:
            continue
        lot = match.group("id")
        rest = line[match.start("rest") :].strip(" ;.")
        found = frtext.find_amounts(rest)
        if found and found[0].value is not None and len(found) == 1:
            amounts.setdefault(lot, found[0].value)
        elif lot not in lots and len(rest) > 3:
            lots[lot] = {"title": rest}
    for lot, amount in amounts.items():
        lots.setdefault(lot, {})["estimated_value"] = amount
    return lots


def _describe(lines: list[str], folded_lines: list[str], folded: str, facts: dict[str, Any]) -> None:
    procedure = _PROCEDURE.search(folded)
    if procedure:
        facts["procedure_type"] = "\n".join(lines)[procedure.start("v") : procedure.end("v")].strip()
    near = [" ".join(lines[i : i + 2]) for i, line in enumerate(lines) if _PLATFORM.search(line)]
    urls = [f.value for f in frtext.find_urls("\n".join(near))]
    if urls:
        facts["platform_url"] = urls[0]
    for index, folded_line in enumerate(folded_lines):
        if "title" not in facts and _TITLE.search(folded_line):
            facts["title"] = _following(lines, index)
        if "buyer" not in facts and _BUYER.search(folded_line):
            facts["buyer"] = _following(lines, index)
        if "title" in facts and "buyer" in facts:
            break
    if "title" not in facts:
        facts["title"] = _cover_title(lines)


def _following(lines: list[str], index: int) -> str | None:
    """The paragraph after a heading line (until a blank line after some text)."""
    out: list[str] = []
    for line in lines[index + 1 : index + 8]:
        if not line and out:
            break
        if line:
            out.append(line)
    return " ".join(out) or None


def _cover_title(lines: list[str]) -> str | None:
    """On a cover page without labels, the longest line before the consultation's number."""
    cover: list[str] = []
    for line in lines[:60]:
        if _NUMBER.search(frtext.fold(line)):
            break
        cover.append(line)
    candidates = [c for c in cover if len(c) > 25 and not _IS_RC.search(frtext.fold(c))]
    return max(candidates, key=len) if candidates else None


class RcTextParser:
    """A règlement de consultation as text (``.txt``, ``.md``, or a PDF's text through :mod:`tracker.parse.pdf`)."""

    kind: ClassVar[str] = "rc_text"

    def accepts(self, document: Document) -> bool:
        text = document_text(document)
        return text is not None and looks_like_rc(text)

    def parse(self, document: Document) -> list[NoticeSnapshot]:
        text = document_text(document)
        if text is None:
            raise ParseError("règlement de consultation: not a text document")
        return [parse_rc_text(text, published=published_of(document), digest=document.sha256)]
