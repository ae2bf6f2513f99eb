"""eForms notice (as a dict tree) to :class:`~tracker.notice.NoticeSnapshot`.

Input is the dict shape of :func:`tracker.parse.xmltree.xml_to_dict`, which is also the shape of BOAMP's
OpenDataSoft ``donnees["EFORMS"]`` records: prefixed keys (``cbc:ID``), ``@attr`` and ``#text`` keys, a
repeated element as a list and a single one as a value. Pure: no I/O, the input is never mutated, a
missing or oddly shaped element is skipped, never fatal.

Business terms mapped (eForms BT → snapshot):

* BT-701 notice identifier ``cbc:ID[@schemeName='notice-id']`` → identifier ``notice_id``
* BT-04 procedure identifier ``cbc:ContractFolderID`` → identifier ``procedure_uuid``
* BT-22 procedure internal identifier ``cac:ProcurementProject/cbc:ID`` → identifier ``buyer_ref``
* OPP-010 ``efac:Publication/efbc:NoticePublicationID`` → identifier ``ted_pub`` (unpadded ``740039-2023``)
* OPP-012 ``efac:Publication/efbc:PublicationDate``, else BT-05 ``cbc:IssueDate`` → ``published``
* BT-757 ``cbc:VersionID``, notice subtype ``efac:NoticeSubType/cbc:SubTypeCode`` → ``extra``
* BT-758 ``efac:Changes/efbc:ChangedNoticeIdentifier`` and BT-1501(n)
  ``efac:ContractModification/efbc:ChangedNoticeIdentifier`` → ``links`` (``notice_id`` or ``ted_pub``)
* a change notice is one with ``efac:Changes`` (not its notice type, whose meaning changed in SDK 1.9)
* BT-140 change reason code, BT-762 change reason text → ``kind``, ``reason``, ``extra["reason_code"]``; the
  code ``cancel`` cancels the procedure (``cancel-intent`` only announces it: a change, not a status)
* BT-13716 changed section + BT-141 change description → ``extra["change_descriptions"]`` (BT-13716 sits in
  ``efac:ChangedSection`` since SDK 1.1, directly in ``efac:Change`` before)
* BT-718 / BT-719 procurement documents changed / date → ``extra["documents_changed"|"documents_change_date"]``
  and one ``documents`` amendment per changed section (``{"date": …, "url": BT-15}``): an event, not a state
* dates BT-141 / BT-762 texts announce (:mod:`tracker.parse.announced`) that the structured fields do not
  state → amendments flagged ``announced``
* result notices (``efac:NoticeResult``): per lot (BT-13713) whose BT-142 is ``selec-w``, the winning
  tenders (OPT-320, narrowed to those a contract BT-3202 names) → ``award_winner`` (their tenderers' BT-500
  names) and ``award_value`` (BT-720), as amendments; a result notice without a winner is no award (kind
  ``other``; ``unsuccessful`` when every lot is ``clos-nw``)
* BT-21 title, BT-24 description (procedure ``cac:ProcurementProject``) → ``title``, ``description``
* buyer organisation (``cac:ContractingParty`` → ``efac:Organizations``) name → ``buyer``
* BT-262 main CPV (procedure and lots) → ``cpv``; BT-5071 place NUTS (procedure, lots, buyer) → ``nuts``
* per lot (``cac:ProcurementProjectLot[cbc:ID/@schemeName='Lot']``): BT-21 title, BT-131 tender deadline,
  BT-1311 request deadline, BT-13 questions deadline, BT-132 opening date, BT-536/BT-537 start/end dates,
  BT-36 duration, BT-27 estimated value, BT-271 framework maximum value, BT-15 documents URL, BT-18
  submission URL
* procedure: BT-27 / BT-271 procedure values, and the derived ``status``
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Final

from tracker.exceptions import ParseError
from tracker.notice import Amendment, NoticeSnapshot
from tracker.parse.announced import announced_amendments
from tracker.parse.xmltree import Keep, xml_to_dict
from tracker.values import combine_date_time, parse_amount, parse_iso, small_int

_EXT_PATH: Final = ("ext:UBLExtensions", "ext:UBLExtension", "ext:ExtensionContent", "efext:EformsExtension")
_UUID_VERSION = re.compile(
    r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})(?:-\d{2})?$"
)
_PUBLICATION_NUMBER = re.compile(r"^0*(\d{1,8})-(\d{4})$")
_LOT_ID = re.compile(r"^LOT-\d+$")
_DURATION_UNITS: Final = {"MONTH": "M", "DAY": "D", "YEAR": "Y", "WEEK": "W"}
_CANCEL_CODES: Final = frozenset({"cancel"})
#: BT-142 winner-selection-status: a winner was chosen; no winner and the competition is closed
_WINNER, _NO_WINNER_CLOSED = "selec-w", "clos-nw"
_AWARD_SUBTYPES: Final = range(29, 38)
_MODIFICATION_SUBTYPES: Final = range(38, 41)
_PREFERRED_LANGUAGE: Final = "FRA"


# ---------------------------------------------------------------- what the reader reads

_PERIOD: Final = None  # a (small) subtree read whole
_PLACE: Final[Keep] = {"cac:Address": {"cbc:CountrySubentityCode": None}}
_PROJECT: Final[Keep] = {
    "cbc:ID": None,
    "cbc:Name": None,
    "cbc:Description": None,
    "cac:MainCommodityClassification": {"cbc:ItemClassificationCode": None},
    "cac:RealizedLocation": _PLACE,
    "cac:RequestedTenderTotal": None,
    "cac:PlannedPeriod": None,
}
_COMPANY: Final[Keep] = {
    "cac:PartyIdentification": None,
    "cac:PartyName": None,
    "cac:PostalAddress": {"cbc:CountrySubentityCode": None},
    "cac:PartyLegalEntity": {"cbc:CompanyID": None},
}
_ID: Final[Keep] = {"cbc:ID": None}
_RESULT: Final[Keep] = {
    "efac:LotTender": {
        "cbc:ID": None,
        "cbc:RankCode": None,
        "cac:LegalMonetaryTotal": {"cbc:PayableAmount": None},
        "efac:TenderingParty": _ID,
    },
    "efac:TenderingParty": {"cbc:ID": None, "cbc:Name": None, "efac:Tenderer": None},
    "efac:SettledContract": {"efac:LotTender": _ID},
    "efac:LotResult": {"cbc:TenderResultCode": None, "efac:LotTender": _ID, "efac:TenderLot": _ID},
}
_EFORMS_EXTENSION: Final[Keep] = {
    "efac:Publication": None,
    "efac:NoticeSubType": None,
    "efac:Changes": None,
    "efac:ContractModification": None,
    "efac:Organizations": {"efac:Organization": {"efac:Company": _COMPANY}},
    "efac:NoticeResult": _RESULT,
}
_EXTENSIONS: Final[Keep] = {"ext:UBLExtension": {"ext:ExtensionContent": {"efext:EformsExtension": _EFORMS_EXTENSION}}}
#: every element :func:`snapshot_from_eforms` reads, for :func:`tracker.parse.xmltree.xml_to_dict`'s ``keep``:
#: converting only these gives the same snapshot as the whole tree, several times faster (keep it in step
#: with the readers below; tests/test_eforms.py compares both conversions on every corpus file)
EFORMS_KEEP: Final[Keep] = {
    "cbc:ID": None,
    "cbc:ContractFolderID": None,
    "cbc:VersionID": None,
    "cbc:NoticeTypeCode": None,
    "cbc:CustomizationID": None,
    "cbc:IssueDate": None,
    "cac:ProcurementProject": _PROJECT,
    "cac:ContractingParty": {"cac:Party": {"cac:PartyIdentification": _ID}},
    "cac:ProcurementProjectLot": {
        "cbc:ID": None,
        "cac:ProcurementProject": _PROJECT,
        "cac:TenderingProcess": {
            "cac:TenderSubmissionDeadlinePeriod": _PERIOD,
            "cac:ParticipationRequestReceptionPeriod": _PERIOD,
            "cac:AdditionalInformationRequestPeriod": _PERIOD,
            "cac:OpenTenderEvent": _PERIOD,
        },
        "cac:TenderingTerms": {
            "cac:CallForTendersDocumentReference": {"cac:Attachment": {"cac:ExternalReference": {"cbc:URI": None}}},
            "cac:TenderRecipientParty": {"cbc:EndpointID": None},
        },
    },
    "ext:UBLExtensions": _EXTENSIONS,
}


def eforms_xml_to_dict(data: bytes) -> tuple[str, Any]:
    """Safe-parse eForms XML into the dict shape, converting only what the reader reads (:data:`EFORMS_KEEP`)."""
    return xml_to_dict(data, EFORMS_KEEP)


# ---------------------------------------------------------------- generic tree access


def as_list(value: Any) -> list[Any]:
    """A repeated element is a list, a single one is not: always get a list (never the input's own)."""
    if value is None:
        return []
    if isinstance(value, list):
        return list(value)
    return [value]


def _path(nodes: Any, *keys: str) -> list[Any]:
    """Every value reached by following ``keys`` from ``nodes``, lists flattened at each step (XPath-like)."""
    if not keys:
        return as_list(nodes)
    current = nodes if isinstance(nodes, list) else [nodes]  # read, never mutated nor returned
    for key in keys:
        found: list[Any] = []
        for node in current:
            if isinstance(node, dict):
                value = node.get(key)
                if isinstance(value, list):
                    found.extend(value)
                elif value is not None:
                    found.append(value)
        if not found:
            return found
        current = found
    return current


def _text(value: Any) -> str | None:
    """The text of an element: a plain string, a ``#text``, or a scalar; None when empty or not text."""
    if isinstance(value, dict):
        value = value.get("#text")
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return str(value).strip() or None
    return None


def _attr(value: Any, name: str) -> str | None:
    if isinstance(value, dict):
        attr = value.get(f"@{name}")
        if isinstance(attr, str):
            return attr.strip()
    return None


def _first_text(nodes: Any, *keys: str) -> str | None:
    for value in _path(nodes, *keys):
        text = _text(value)
        if text is not None:
            return text
    return None


def _all_texts(nodes: Any, *keys: str) -> list[str]:
    return [t for t in (_text(v) for v in _path(nodes, *keys)) if t is not None]


def _ml_text(nodes: Any, *keys: str) -> str | None:
    """A multilingual text: the French version when there is one, else the first non-empty one."""
    values = [v for v in _path(nodes, *keys) if _text(v) is not None]
    for value in values:
        if (_attr(value, "languageID") or "").upper() == _PREFERRED_LANGUAGE:
            return _text(value)
    return _text(values[0]) if values else None


def _find_local(node: Any, local_name: str) -> list[Any]:
    """Values of every key whose local name (after the prefix) is ``local_name``, anywhere below ``node``."""
    found: list[Any] = []
    stack = as_list(node)
    while stack:
        current = stack.pop()
        if isinstance(current, list):
            stack.extend(reversed(current))
        elif isinstance(current, dict):
            for key, value in current.items():
                name = str(key)
                if name.rsplit(":", 1)[-1] == local_name:
                    found.extend(as_list(value))
                elif not name.startswith("@"):
                    stack.append(value)
    return found


def _dedupe(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


# ---------------------------------------------------------------- identifiers and links


def unpad_publication_number(value: str) -> str | None:
    """``00740039-2023`` → ``740039-2023``; None when it is not a publication number."""
    m = _PUBLICATION_NUMBER.match(value.strip())
    if not m:
        return None
    return f"{int(m.group(1))}-{m.group(2)}"


def _link_for(reference: str) -> tuple[str, str] | None:
    """BT-758 / BT-1501: ``UUID-vv`` → notice UUID; ``NNNNNNNN-YYYY`` → TED publication number."""
    m = _UUID_VERSION.match(reference.strip())
    if m:
        return ("notice_id", m.group(1))
    pub = unpad_publication_number(reference)
    return ("ted_pub", pub) if pub else None


def _notice_uuid(tree: dict[str, Any]) -> str | None:
    ids = _path(tree, "cbc:ID")
    for value in ids:
        if _attr(value, "schemeName") == "notice-id" and _text(value):
            return _text(value)
    # no schemeName at all: a lone root cbc:ID holding a UUID is the notice identifier
    if len(ids) == 1 and _attr(ids[0], "schemeName") is None:
        m = _UUID_VERSION.match(_text(ids[0]) or "")
        return m.group(1) if m else None
    return None


def _ted_pub(ext: list[Any]) -> str | None:
    raw = _first_text(ext, "efac:Publication", "efbc:NoticePublicationID")
    return unpad_publication_number(raw) if raw else None


def _identifiers(tree: dict[str, Any], uuid: str | None, ted_pub: str | None) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str | None]] = [
        ("notice_id", uuid),
        ("procedure_uuid", _first_text(tree, "cbc:ContractFolderID")),
        ("ted_pub", ted_pub),
        ("buyer_ref", _first_text(tree, "cac:ProcurementProject", "cbc:ID")),
    ]
    return list(dict.fromkeys((scheme, value) for scheme, value in pairs if value))


def _links(ext: list[Any]) -> list[tuple[str, str]]:
    references = _all_texts(ext, "efac:Changes", "efbc:ChangedNoticeIdentifier")
    references += _all_texts(ext, "efac:ContractModification", "efbc:ChangedNoticeIdentifier")
    links = [link for link in (_link_for(ref) for ref in references) if link]
    return list(dict.fromkeys(links))


# ---------------------------------------------------------------- kind, dates, parties


def _local(name: str) -> str:
    return name.rsplit(":", 1)[-1].strip()


def _subtype_number(subtype: str | None) -> int | None:
    return small_int(subtype, digits=3)


def _is_award_notice(root: str, subtype: str | None) -> bool:
    number = _subtype_number(subtype)
    if number is not None:
        return number in _AWARD_SUBTYPES or number in _MODIFICATION_SUBTYPES
    return root == "ContractAwardNotice"


def _is_modification(ext: list[Any], subtype: str | None) -> bool:
    """A contract modification notice (subtypes 38-40, BT-1501): not a change notice, not an award."""
    number = _subtype_number(subtype)
    return bool(_path(ext, "efac:ContractModification")) or (number is not None and number in _MODIFICATION_SUBTYPES)


def _kind(root: str, ext: list[Any], subtype: str | None, results: _Results) -> str:
    changes = _path(ext, "efac:Changes")
    if changes:
        codes = {code.lower() for code in _all_texts(changes, "efac:ChangeReason", "cbc:ReasonCode")}
        return "cancellation" if codes & _CANCEL_CODES else "change"
    number = _subtype_number(subtype)
    if _is_modification(ext, subtype):
        return "other"
    if root == "ContractAwardNotice" or (number is not None and number in _AWARD_SUBTYPES):
        return "award" if results.won else "other"  # a result notice without a winner is no award
    if root in {"ContractNotice", "PriorInformationNotice"}:
        return "initial"
    return "other"


def _status(kind: str, root: str, subtype: str | None, results: _Results) -> str:
    """Cancelled; else, for an award-type notice (a change to a CAN, a can-modif too): awarded when a lot has a
    winner or the notice states no result, unsuccessful when every lot closed without one; else open."""
    if kind == "cancellation":
        return "cancelled"
    if kind == "award" or (_is_award_notice(root, subtype) and (results.won or not results.codes)):
        return "awarded"
    if _is_award_notice(root, subtype) and results.codes and all(c == _NO_WINNER_CLOSED for c in results.codes):
        return "unsuccessful"
    return "open"


def _as_date(value: date | datetime | None) -> date | None:
    return value.date() if isinstance(value, datetime) else value


def _published(tree: dict[str, Any], ext: list[Any]) -> date | None:
    for raw in (
        _first_text(ext, "efac:Publication", "efbc:PublicationDate"),
        _first_text(tree, "cbc:IssueDate"),
    ):
        parsed = _as_date(parse_iso(raw)) if raw else None
        if parsed is not None:
            return parsed
    return None


def _companies(ext: list[Any]) -> list[dict[str, Any]]:
    companies = _path(ext, "efac:Organizations", "efac:Organization", "efac:Company")
    return [c for c in companies if isinstance(c, dict)]


def _companies_by_id(companies: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """OPT-200 organisation identifier → its ``efac:Company``."""
    by_id: dict[str, dict[str, Any]] = {}
    for company in companies:
        for org_id in _all_texts(company, "cac:PartyIdentification", "cbc:ID"):
            by_id.setdefault(org_id, company)
    return by_id


def _buyer_companies(tree: dict[str, Any], companies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The organisations the contracting parties reference (OPT-300), in order; else the first organisation."""
    by_id = _companies_by_id(companies)
    refs = _all_texts(tree, "cac:ContractingParty", "cac:Party", "cac:PartyIdentification", "cbc:ID")
    buyers = [by_id[ref] for ref in _dedupe(refs) if ref in by_id]
    return buyers or companies[:1]


def _buyer_name(buyers: list[dict[str, Any]]) -> str | None:
    for company in buyers:
        name = _ml_text(company, "cac:PartyName", "cbc:Name")
        if name:
            return name
    return None


# ---------------------------------------------------------------- results (BG-7): winners and values per lot


@dataclass(frozen=True, slots=True)
class _Results:
    """What a result section says: each lot result's BT-142 code, and per lot the winners and their values."""

    codes: list[str] = field(default_factory=list)
    awards: dict[str | None, dict[str, list[Any]]] = field(default_factory=dict)

    @property
    def won(self) -> bool:
        return _WINNER in self.codes


def _by_id(nodes: list[Any], *keys: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for node in nodes:
        key = _first_text(node, *keys)
        if key and isinstance(node, dict):
            out.setdefault(key, node)
    return out


def _winning_tenders(refs: list[str], tenders: dict[str, dict[str, Any]], contracted: set[str]) -> list[str]:
    """The lot result's tenders (OPT-320) that won: those a contract names (BT-3202); else a lone tender; else
    the ones ranked first (BT-171); else none (several unranked tenders: the winner is not known for sure)."""
    named = [ref for ref in refs if ref in contracted]
    if named or len(refs) <= 1:
        return named or refs
    return [ref for ref in refs if _first_text(tenders.get(ref), "cbc:RankCode") == "1"]


def _tenderer_name(party: Any, companies: dict[str, dict[str, Any]]) -> str | None:
    """A tendering party's name: its tenderers' BT-500 names (group leader first), else its own name."""
    tenderers = [t for t in _path(party, "efac:Tenderer") if isinstance(t, dict)]
    tenderers.sort(key=lambda t: (_first_text(t, "efbc:GroupLeadIndicator") or "").lower() != "true")
    names = [_ml_text(companies.get(_first_text(t, "cbc:ID") or ""), "cac:PartyName", "cbc:Name") for t in tenderers]
    found = _dedupe(n for n in names if n)
    return " / ".join(found) if found else _ml_text(party, "cbc:Name")


def _results(ext: list[Any], companies: dict[str, dict[str, Any]]) -> _Results:
    result = _path(ext, "efac:NoticeResult")
    tenders = _by_id(_path(result, "efac:LotTender"), "cbc:ID")
    parties = _by_id(_path(result, "efac:TenderingParty"), "cbc:ID")
    contracted = set(_all_texts(result, "efac:SettledContract", "efac:LotTender", "cbc:ID"))
    out = _Results()
    for lot_result in _path(result, "efac:LotResult"):
        refs = _dedupe(_all_texts(lot_result, "efac:LotTender", "cbc:ID"))
        # BT-142 is forbidden in VEAT notices (subtypes 25-28): there the tender a lot result names is the winner
        code = (_first_text(lot_result, "cbc:TenderResultCode") or ("" if not refs else _WINNER)).lower()
        out.codes.append(code)
        if code != _WINNER:
            continue
        won = [tenders[ref] for ref in _winning_tenders(refs, tenders, contracted) if ref in tenders]
        names = [
            _tenderer_name(parties.get(_first_text(t, "efac:TenderingParty", "cbc:ID") or ""), companies) for t in won
        ]
        values = [parse_amount(_first_text(t, "cac:LegalMonetaryTotal", "cbc:PayableAmount")) for t in won]
        award: dict[str, list[Any]] = {}
        if won and all(names):
            award["award_winner"] = _dedupe(n for n in names if n)
        if won and all(v is not None for v in values):
            award["award_value"] = values
        if award:
            out.awards[_first_text(lot_result, "efac:TenderLot", "cbc:ID")] = award
    return out


def _award_amendments(results: _Results) -> list[Amendment]:
    return [
        Amendment(field=name, new=value, lot=lot, section="efac:NoticeResult")
        for lot, award in results.awards.items()
        for name, value in award.items()
    ]


# ---------------------------------------------------------------- change section (BG-9)


def _change_entry(change: Any) -> dict[str, str]:
    section = _section_of(change)
    text = _ml_text(change, "efbc:ChangeDescription")
    entry = {"section": section, "text": text}
    return {key: value for key, value in entry.items() if value}


def _documents_changed(changes: list[Any]) -> bool | None:
    flags = [t.lower() for t in _all_texts(changes, "efac:Change", "efbc:ProcurementDocumentsChangeIndicator")]
    flags = [f for f in flags if f in {"true", "false"}]
    return "true" in flags if flags else None


def _documents_change_date(changes: list[Any]) -> str | None:
    for raw in _all_texts(changes, "efac:Change", "efbc:ProcurementDocumentsChangeDate"):
        parsed = parse_iso(raw)
        if parsed is not None:
            return parsed.isoformat()
    return None


def _section_of(change: Any) -> str | None:
    return _first_text(change, "efac:ChangedSection", "efbc:ChangedSectionIdentifier") or _first_text(
        change, "efbc:ChangedSectionIdentifier"
    )


def _documents_amendments(changes: list[Any], lots: dict[str, dict[str, Any]]) -> list[Amendment]:
    """BT-718 ``true`` in a change → the procurement documents changed, on BT-719's day, in that section."""
    urls = _dedupe(str(lot["documents_url"]) for lot in lots.values() if lot.get("documents_url"))
    out: dict[tuple[Any, ...], Amendment] = {}  # one per value: "PROCEDURE" and its one lot say it once
    for change in _path(changes, "efac:Change"):
        flag = (_first_text(change, "efbc:ProcurementDocumentsChangeIndicator") or "").lower()
        if flag != "true":
            continue
        section = _section_of(change)
        lot = section if section in lots else None
        day = _as_date(parse_iso(_first_text(change, "efbc:ProcurementDocumentsChangeDate") or ""))
        url = lots[lot].get("documents_url") if lot else (urls[0] if len(urls) == 1 else None)
        value = {key: val for key, val in (("date", day), ("url", url)) if val is not None}
        if (day, url) not in out:
            text = _ml_text(change, "efbc:ChangeDescription") or ""
            out[(day, url)] = Amendment(field="documents", new=value or True, lot=lot, section=section, evidence=text)
    return list(out.values())


def _extra(tree: dict[str, Any], ext: list[Any], subtype: str | None) -> dict[str, Any]:
    changes = _path(ext, "efac:Changes")
    descriptions = [entry for entry in map(_change_entry, _path(changes, "efac:Change")) if entry]
    extra: dict[str, Any] = {
        "reason_code": _first_text(changes, "efac:ChangeReason", "cbc:ReasonCode"),
        "change_descriptions": descriptions,
        "notice_version": _first_text(tree, "cbc:VersionID"),
        "subtype": subtype,
        "notice_type": _first_text(tree, "cbc:NoticeTypeCode"),
        "sdk": _first_text(tree, "cbc:CustomizationID"),
        "documents_changed": _documents_changed(changes),
        "documents_change_date": _documents_change_date(changes),
    }
    return {key: value for key, value in extra.items() if value is not None and value != []}


# ---------------------------------------------------------------- typed fields


def _moment(period: list[Any], date_key: str, time_key: str) -> date | datetime | None:
    for node in period:
        day = _first_text(node, date_key)
        if day:
            return combine_date_time(day, _first_text(node, time_key))
    return None


def _duration(project: list[Any]) -> str | None:
    for measure in _path(project, "cac:PlannedPeriod", "cbc:DurationMeasure"):
        unit = _DURATION_UNITS.get((_attr(measure, "unitCode") or "").upper())
        amount = parse_amount(_text(measure))
        if unit and amount is not None and amount > 0 and amount == amount.to_integral_value():
            return f"P{int(amount)}{unit}"
    return None


def _amount(nodes: list[Any]) -> Any:
    for node in nodes:
        amount = parse_amount(_text(node))
        if amount is not None:
            return amount
    return None


def _project_values(project: list[Any]) -> dict[str, Any]:
    """BT-27 and BT-271 of a ``cac:ProcurementProject`` (procedure or lot)."""
    totals = _path(project, "cac:RequestedTenderTotal")
    return {
        "estimated_value": _amount(_path(totals, "cbc:EstimatedOverallContractAmount")),
        "max_value": _amount(_find_local(totals, "FrameworkMaximumAmount")),
    }


def _process_dates(process: list[Any]) -> dict[str, Any]:
    """BT-131, BT-1311, BT-13, BT-132 of a lot's ``cac:TenderingProcess``."""
    return {
        "tender_deadline": _moment(_path(process, "cac:TenderSubmissionDeadlinePeriod"), "cbc:EndDate", "cbc:EndTime"),
        "request_deadline": _moment(
            _path(process, "cac:ParticipationRequestReceptionPeriod"), "cbc:EndDate", "cbc:EndTime"
        ),
        "questions_deadline": _moment(
            _path(process, "cac:AdditionalInformationRequestPeriod"), "cbc:EndDate", "cbc:EndTime"
        ),
        "opening_date": _moment(_path(process, "cac:OpenTenderEvent"), "cbc:OccurrenceDate", "cbc:OccurrenceTime"),
    }


def _planned_period(project: list[Any]) -> dict[str, Any]:
    """BT-536, BT-537, BT-36 of a lot's ``cac:ProcurementProject``."""
    period = _path(project, "cac:PlannedPeriod")
    start = _first_text(period, "cbc:StartDate")
    end = _first_text(period, "cbc:EndDate")
    return {
        "start_date": _as_date(parse_iso(start)) if start else None,
        "end_date": _as_date(parse_iso(end)) if end else None,
        "duration": _duration(project),
    }


def _terms_urls(terms: list[Any]) -> dict[str, Any]:
    """BT-15 and BT-18 of a lot's ``cac:TenderingTerms``."""
    return {
        "documents_url": _first_text(
            terms, "cac:CallForTendersDocumentReference", "cac:Attachment", "cac:ExternalReference", "cbc:URI"
        ),
        "submission_url": _first_text(terms, "cac:TenderRecipientParty", "cbc:EndpointID"),
    }


def _present(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None and value != ""}


def _lot_id(lot: Any) -> str | None:
    for value in _path(lot, "cbc:ID"):
        scheme = _attr(value, "schemeName")
        text = _text(value)
        if text and (scheme or "").lower() == "lot":
            return text
        if text and scheme is None and _LOT_ID.match(text):
            return text
    return None


def _lot_fields(lot: dict[str, Any]) -> dict[str, Any]:
    project = _path(lot, "cac:ProcurementProject")
    fields: dict[str, Any] = {"title": _ml_text(project, "cbc:Name")}
    fields.update(_process_dates(_path(lot, "cac:TenderingProcess")))
    fields.update(_planned_period(project))
    fields.update(_project_values(project))
    fields.update(_terms_urls(_path(lot, "cac:TenderingTerms")))
    return _present(fields)


def _lots(tree: dict[str, Any]) -> dict[str, dict[str, Any]]:
    lots: dict[str, dict[str, Any]] = {}
    for lot in _path(tree, "cac:ProcurementProjectLot"):
        lot_id = _lot_id(lot)
        if lot_id and isinstance(lot, dict) and lot_id not in lots:
            lots[lot_id] = _lot_fields(lot)
    return lots


# ---------------------------------------------------------------- classification and places


def _cpv(tree: dict[str, Any]) -> list[str]:
    projects = _path(tree, "cac:ProcurementProject") + _path(
        tree, "cac:ProcurementProjectLot", "cac:ProcurementProject"
    )
    return _dedupe(_all_texts(projects, "cac:MainCommodityClassification", "cbc:ItemClassificationCode"))


def _nuts(tree: dict[str, Any], buyers: list[dict[str, Any]]) -> list[str]:
    projects = _path(tree, "cac:ProcurementProject") + _path(
        tree, "cac:ProcurementProjectLot", "cac:ProcurementProject"
    )
    places = _all_texts(projects, "cac:RealizedLocation", "cac:Address", "cbc:CountrySubentityCode")
    places += _all_texts(buyers, "cac:PostalAddress", "cbc:CountrySubentityCode")
    return _dedupe(places)


# ---------------------------------------------------------------- entry point


def _procedure_fields(tree: dict[str, Any], status: str) -> dict[str, Any]:
    fields = _project_values(_path(tree, "cac:ProcurementProject"))
    fields["status"] = status
    return _present(fields)


def _change_texts(ext: list[Any]) -> list[str]:
    """BT-141 descriptions and BT-762 reason texts, every language (a date may be announced in any)."""
    changes = _path(ext, "efac:Changes")
    texts = _all_texts(changes, "efac:Change", "efbc:ChangeDescription")
    return _dedupe(texts + _all_texts(changes, "efac:ChangeReason", "efbc:ReasonDescription"))


def _amendments(ext: list[Any], lots: dict[str, dict[str, Any]], kind: str, results: _Results) -> list[Amendment]:
    """What the notice states beside its restatement: awards, documents changed, dates its texts announce."""
    if kind == "award":
        return _award_amendments(results)
    changes = _path(ext, "efac:Changes")
    if not changes or kind == "cancellation":  # a cancellation's status says it all; nothing else is applied
        return []
    return _documents_amendments(changes, lots) + announced_amendments(_change_texts(ext), lots)


def snapshot_from_eforms(
    root_name: str,
    tree: dict[str, Any],
    *,
    source: str = "ted",
    notice_id: str | None = None,
    published: date | None = None,
) -> NoticeSnapshot:
    """Turn one eForms notice (CN, CAN, PIN, change notice…) into a snapshot restating the whole notice."""
    if not isinstance(tree, dict):
        raise ParseError(f"eForms notice: expected a dict tree, got {type(tree).__name__}")
    root = _local(root_name or "")
    ext = _path(tree, *_EXT_PATH)
    uuid, ted_pub = _notice_uuid(tree), _ted_pub(ext)
    folder = _first_text(tree, "cbc:ContractFolderID")
    if not uuid and not folder:
        raise ParseError("eForms notice: no notice identifier (BT-701) and no procedure identifier (BT-04)")
    subtype = _first_text(ext, "efac:NoticeSubType", "cbc:SubTypeCode")
    companies = _companies(ext)
    results = _results(ext, _companies_by_id(companies))
    kind = _kind(root, ext, subtype, results)
    status = _status(kind, root, subtype, results)
    buyers = _buyer_companies(tree, companies)
    lots = _lots(tree)
    amendments = _amendments(ext, lots, kind, results)
    no_award = kind == "other" and _is_award_notice(root, subtype) and not _is_modification(ext, subtype)
    if no_award:
        # a result notice without a winner: no award, no restatement of the call; at most "unsuccessful"
        amendments = [Amendment(field="status", new=status)] if status == "unsuccessful" else []
    return NoticeSnapshot(
        source=source,
        notice_id=notice_id or ted_pub or uuid or folder or "",
        kind=kind,
        published=published or _published(tree, ext),
        identifiers=_identifiers(tree, uuid, ted_pub),
        links=_links(ext),
        title=_ml_text(tree, "cac:ProcurementProject", "cbc:Name"),
        buyer=_buyer_name(buyers),
        description=_ml_text(tree, "cac:ProcurementProject", "cbc:Description"),
        cpv=_cpv(tree),
        nuts=_nuts(tree, buyers),
        fields=_procedure_fields(tree, status),
        lots=lots,
        restatement=not no_award,
        amendments=amendments,
        reason=_ml_text(_path(ext, "efac:Changes"), "efac:ChangeReason", "efbc:ReasonDescription"),
        extra=_extra(tree, ext, subtype) | _buyer_extra(buyers),
    )


def _buyer_extra(buyers: list[dict[str, Any]]) -> dict[str, Any]:
    """The buyers' organisation identifiers (BT-501), for linking notices of one procedure."""
    ids = _dedupe(_all_texts(buyers, "cac:PartyLegalEntity", "cbc:CompanyID"))
    return {"buyer_ids": ids} if ids else {}
