"""BOAMP notices as text (the PDF extract of an eForms-era notice, as its text layer or a Markdown conversion). Pure.

The BOAMP "extrait PDF" of a notice prints the eForms sections as labelled lines::

    Annonce n° 26-15766
    Section 1 - Acheteur … Nom officiel : Métropole Aix-Marseille-Provence
    Section 2 - Procédure … Titre : … Identifiant de la procédure : 47316d2e-… Identifiant interne : 73250233
    Section 5 - Lot … 5.1 Identifiant technique du lot : LOT-0001 … Date de début : 01/06/2026
        Valeur estimée hors TVA : 659,764 Euro … Date limite de réception des offres : 24/02/2026 à 12:00
    Section 10 - Modification … Version de l'avis antérieur à modifier : 033855a4-…-02
        Identifiant de la section : LOT-0001 … Description des modifications : … au lieu de : …
    Identifiant/version de l'avis : af23a5b2-… - 02

:func:`parse_notice_text` reads identifiers (idweb, procedure UUID, notice UUID, the buyer's internal reference),
buyer, title, CPV, NUTS, departments, per-lot dates, values, duration, offer validity and addresses, and the
"Section 10 - Modification" statements: each description goes through the statement reader
(:func:`tracker.parse.statements.read_statement`, every "X au lieu de Y", "Au lieu de : … Lire : …", "est
reportée au" sentence typed where its text allows, the rest kept as text) with the lot its section names. A
notice with a Section 10 is a rectificatif linked to the notice version it modifies (BT-758), to its procedure
(BT-04) and to the platform consultation its documents address names.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, ClassVar, Final
from zoneinfo import ZoneInfo

from tracker.documents import Document
from tracker.exceptions import ParseError
from tracker.notice import Amendment, NoticeKind, NoticeSnapshot
from tracker.parse import frtext
from tracker.parse.doctext import Entry, entries, label_key, normalise_clock, plain_lines
from tracker.parse.statements import Statement, StatementForm, read_statement
from tracker.values import PARIS, parse_iso, zone_for_department

__all__ = ["SOURCE", "BoampTextParser", "document_text", "looks_like_boamp_notice", "parse_notice_text"]

#: the source name of notices read from BOAMP's PDF extracts
SOURCE: Final = "boamp_pdf"

_IDWEB: Final = re.compile(r"\b(\d{2}-\d{3,7})\b")
_UUID: Final = re.compile(
    r"\b([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?:\s?-\s?(\d{2}))?\b", re.I
)
_CPV: Final = re.compile(r"\b(\d{8})(?:-\d)?\b")
_NUTS: Final = re.compile(r"\(\s?(FR[A-Z0-9]{1,3})\s?\)")
_DEPARTMENT: Final = re.compile(r"\b(2[AB]|97\d|\d{2})\b")
_LOT_ID: Final = re.compile(r"\b(LOT-\d{4})\b", re.I)
_HEADING: Final = re.compile(r"^(?:Section\s+\d{1,2}\s*[-–:]|\d{1,2}(?:\.\d{1,2}){1,4}\.?\s+[^:]{1,120}$)", re.I)
_SECTION: Final = re.compile(r"^section\s+(\d{1,2})\b")
_HEAD_KIND: Final = (
    (re.compile(r"avis\s+d'?\s?annulation", re.I), NoticeKind.CANCELLATION),
    (re.compile(r"rectificatif|section\s+10\s*[-–]\s*modification", re.I), NoticeKind.RECTIFICATIF),
    (re.compile(r"avis\s+d'?\s?attribution|resultat\s+de\s+marche|avis\s+de\s+resultat", re.I), NoticeKind.AWARD),
)
_MARKERS: Final = (re.compile(r"\bannonce\s+n\s?[°o]", re.I), re.compile(r"\bboamp\b", re.I))

Reader = Callable[[str, ZoneInfo], Any]


def _moment(value: str, zone: ZoneInfo) -> Any:
    moments = frtext.find_moments(normalise_clock(value), zone=zone)
    return moments[0].value if len(moments) == 1 else None


def _day(value: str, zone: ZoneInfo) -> Any:
    moment = _moment(value, zone)
    return moment.date() if isinstance(moment, datetime) else moment


def _amount(value: str, zone: ZoneInfo) -> Any:
    return frtext.parse_amount_text(value)


def _duration(value: str, zone: ZoneInfo) -> Any:
    return frtext.parse_duration(value)


def _validity(value: str, zone: ZoneInfo) -> Any:
    return frtext.parse_duration(value) or _moment(value, zone)


def _url(value: str, zone: ZoneInfo) -> Any:
    found = frtext.find_urls(value)
    return found[0].value if found else None


#: label (folded) → (canonical field, reader); per lot in Section 5, per procedure elsewhere
FIELD_LABELS: Final[dict[str, tuple[str, Reader]]] = {
    "date limite de reception des offres": ("tender_deadline", _moment),
    "date limite de reception des offres ou des demandes de participation": ("tender_deadline", _moment),
    "date limite de reception des demandes de participation": ("request_deadline", _moment),
    "date limite de reception des demandes de participation ou des offres": ("request_deadline", _moment),
    "date limite de reception des demandes d'informations supplementaires": ("questions_deadline", _moment),
    "date limite pour la reception des demandes d'informations supplementaires": ("questions_deadline", _moment),
    "date d'ouverture": ("opening_date", _moment),
    "date de debut": ("start_date", _day),
    "date de fin de duree": ("end_date", _day),
    "date de fin": ("end_date", _day),
    "duree": ("duration", _duration),
    "valeur estimee hors tva": ("estimated_value", _amount),
    "valeur maximale de l'accord-cadre": ("max_value", _amount),
    "valeur maximale de l'accord cadre": ("max_value", _amount),
    "date limite de validite de l'offre": ("offer_validity", _validity),
    "adresse des documents de marche": ("documents_url", _url),
    "adresse de presentation": ("submission_url", _url),
}

#: labels whose lines are read for identifiers and descriptions
OTHER_LABELS: Final = frozenset(
    {
        "departement(s)de publication",
        "nom officiel",
        "titre",
        "description",
        "identifiant de la procedure",
        "identifiant interne",
        "nomenclature principale(cpv)",
        "nomenclature supplementaire(cpv)",
        "subdivision pays(nuts)",
        "identifiant technique du lot",
        "identifiant de la section",
        "description des modifications",
        "version de l'avis anterieur a modifier",
        "identifiant/version de l'avis",
        "date d'envoi de l'avis",
        "date d'envoi du present avis a la publication",
        "type de procedure",
        "nature du marche",
        "forme juridique de l'acheteur",
        "activite du pouvoir adjudicateur",
        "informations complementaires",
        "description des options",
        "informations relatives aux delais de recours",
        "type de formulaire",
        "type d'avis",
        "ville",
        "code postal",
        "pays",
        "adresse postale",
    }
)
#: entries whose values are free texts, which may hold colons of their own
FREE_LABELS: Final = frozenset(
    {
        "description",
        "description des modifications",
        "informations complementaires",
        "description des options",
        "informations relatives aux delais de recours",
    }
)
KNOWN_LABELS: Final = frozenset(FIELD_LABELS) | OTHER_LABELS


def looks_like_boamp_notice(text: str) -> bool:
    """A BOAMP notice extract: "Annonce n°" and "BOAMP" near the top."""
    top = frtext.fold(text[:6000])
    return all(marker.search(top) for marker in _MARKERS)


@dataclass(slots=True)
class _Reading:
    zone: ZoneInfo = PARIS
    section: int = 0
    lot: str | None = None  # the lot of Section 5 being read
    change_lot: str | None = None  # the section a Section 10 modification names
    change_section: str | None = None
    snap: NoticeSnapshot = field(
        default_factory=lambda: NoticeSnapshot(source=SOURCE, notice_id="", kind="initial", published=None)
    )
    modifications: list[Statement] = field(default_factory=list)
    sent: date | None = None
    published_on: date | None = None
    titles: list[str] = field(default_factory=list)


def parse_notice_text(text: str, *, published: date | None = None, locator: str = "") -> NoticeSnapshot:
    """The snapshot a BOAMP notice extract states; raise ParseError when it names no notice."""
    lines = plain_lines(text)
    reading = _Reading()
    reading.zone = _zone(lines)
    for entry in entries(lines, KNOWN_LABELS, free=FREE_LABELS, is_heading=_HEADING):
        _read_entry(reading, entry)
    snap = reading.snap
    idweb = _idweb(lines)
    if idweb:
        snap.notice_id = idweb
        snap.identifiers.insert(0, ("idweb", idweb))
    if not snap.notice_id:
        raise ParseError("BOAMP notice text: no 'Annonce n°' (idweb) and no notice identifier")
    snap.kind = _kind(lines, bool(reading.modifications)).value
    snap.published = published or reading.published_on or reading.sent
    if reading.modifications or snap.kind == NoticeKind.RECTIFICATIF:
        snap.restatement = False
        snap.amendments = _modifications(reading)
    snap.url = (
        f"https://www.boamp.fr/pages/avis/?q=idweb:{snap.notice_id}" if _IDWEB.fullmatch(snap.notice_id) else None
    )
    if locator:
        snap.extra["locator"] = locator
    snap.identifiers = list(dict.fromkeys(snap.identifiers))
    snap.links = [link for link in dict.fromkeys(snap.links) if link not in snap.identifiers]
    return snap


_ANNONCE: Final = re.compile(r"\bannonce\s+n\s?[°o]\s?:?\s*(\d{2}-\d{3,7})\b", re.I)


def _idweb(lines: list[str]) -> str | None:
    for line in lines[:120]:
        found = _ANNONCE.search(frtext.fold(line))
        if found:
            return found.group(1)
    return None


def _zone(lines: list[str]) -> ZoneInfo:
    for line in lines[:80]:
        key, _, value = line.partition(":")
        if label_key(key).startswith("departement(s)de publication"):
            found = _DEPARTMENT.findall(value)
            return zone_for_department(found[0]) if found else PARIS
    return PARIS


def _kind(lines: list[str], modified: bool) -> NoticeKind:
    top = frtext.fold(" ".join(lines[:40]))
    for pattern, kind in _HEAD_KIND:
        if pattern.search(top):
            return kind
    return NoticeKind.RECTIFICATIF if modified else NoticeKind.INITIAL


def _read_entry(r: _Reading, entry: Entry) -> None:
    section = _SECTION.match(entry.key)
    if section:
        r.section = int(section.group(1))
        r.lot = None
        return
    key, value = entry.key, entry.value
    if not value:
        return
    if key in FIELD_LABELS:
        _read_field(r, key, value)
    else:
        _read_other(r, key, value)


def _read_field(r: _Reading, key: str, value: str) -> None:
    name, reader = FIELD_LABELS[key]
    typed = reader(value, r.zone)
    if typed is None:
        return
    if r.section == 5 and r.lot:
        r.snap.lots.setdefault(r.lot, {}).setdefault(name, typed)
    elif r.section in (2, 0):
        r.snap.fields.setdefault(name, typed)


def _read_other(r: _Reading, key: str, value: str) -> None:
    snap = r.snap
    if key == "departement(s)de publication":
        snap.departments = list(dict.fromkeys(_DEPARTMENT.findall(value)))
    elif key == "nom officiel" and r.section == 1 and not snap.buyer:
        snap.buyer = value
    elif key == "titre":
        if r.section == 5 and r.lot:
            snap.lots.setdefault(r.lot, {})["title"] = value
        elif r.section == 2 and not snap.title:
            snap.title = value
    elif key == "description" and r.section == 2 and not snap.description:
        snap.description = value
    elif key == "identifiant de la procedure":
        found = _UUID.search(value)
        if found:
            snap.identifiers.append(("procedure_uuid", found.group(1).lower()))
    elif key == "identifiant interne":
        _internal_reference(r, value)
    elif key.startswith("nomenclature") and "cpv" in key:
        snap.cpv = list(dict.fromkeys([*snap.cpv, *_CPV.findall(value)[:1]]))
    elif key == "subdivision pays(nuts)":
        snap.nuts = list(dict.fromkeys([*snap.nuts, *_NUTS.findall(value)]))
    elif key == "identifiant technique du lot":
        found = _LOT_ID.search(value)
        r.lot = found.group(1).upper() if found else value.split()[0]
        snap.lots.setdefault(r.lot, {})
    else:
        _read_notice_info(r, key, value)


def _internal_reference(r: _Reading, value: str) -> None:
    if r.section == 5 and r.lot:
        r.snap.extra.setdefault("lot_refs", {})[r.lot] = value
    elif r.section == 2 and "buyer_ref" not in r.snap.extra:
        r.snap.extra["buyer_ref"] = value
        r.snap.identifiers.append(("buyer_ref", value))


def _read_notice_info(r: _Reading, key: str, value: str) -> None:
    snap = r.snap
    if key == "identifiant de la section":
        r.change_section = value
        found = _LOT_ID.search(value)
        r.change_lot = found.group(1).upper() if found else None
    elif key == "description des modifications":
        lot = r.change_lot
        r.modifications.append(
            Statement(StatementForm.FREE_TEXT, section=r.change_section or "Section 10", lot=lot, new=value)
        )
    elif key == "version de l'avis anterieur a modifier":
        found = _UUID.search(value)
        if found:
            snap.links.append(("notice_id", found.group(1).lower()))
    elif key == "identifiant/version de l'avis":
        found = _UUID.search(value)
        if found:
            snap.identifiers.append(("notice_id", found.group(1).lower()))
            snap.extra["notice_version"] = found.group(2)
            if not snap.notice_id:
                snap.notice_id = found.group(1).lower()
    elif key == "date d'envoi du present avis a la publication":
        r.published_on = _day(value, r.zone)
    elif key == "date d'envoi de l'avis":
        r.sent = r.sent or _day(value, r.zone)
    elif key == "type de procedure":
        snap.extra["procedure_type"] = value
    elif key == "nature du marche" and not snap.family:
        snap.family = value


def _modifications(r: _Reading) -> list[Amendment]:
    """Every Section 10 description read into amendments (typed where its text allows); never none."""
    found: list[Amendment] = []
    for statement in r.modifications:
        found += read_statement(statement, zone=r.zone)
    if not found:
        found.append(Amendment(field="text", new="avis rectificatif publié", section="Section 10 - Modification"))
    return found


TEXT_TYPES: Final = frozenset({"text/plain", "text/markdown", "text/x-markdown", "application/octet-stream", ""})


def document_text(document: Document) -> str | None:
    """A text document's content, when it is one (a declared text type, UTF-8 or Latin-1)."""
    if document.media_type not in TEXT_TYPES or b"\x00" in document.content[:4096]:
        return None
    try:
        return document.content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return document.content.decode("latin-1")


def published_of(document: Document) -> date | None:
    value = parse_iso(document.published) if document.published else None
    return value.date() if isinstance(value, datetime) else value


class BoampTextParser:
    """A BOAMP notice as text: the PDF extract's text layer, or its Markdown conversion (``.txt``, ``.md``)."""

    kind: ClassVar[str] = "boamp_text"

    def accepts(self, document: Document) -> bool:
        text = document_text(document)
        return text is not None and looks_like_boamp_notice(text)

    def parse(self, document: Document) -> list[NoticeSnapshot]:
        text = document_text(document)
        if text is None:
            raise ParseError("BOAMP notice text: not a text document")
        return [parse_notice_text(text, published=published_of(document), locator=document.locator)]
