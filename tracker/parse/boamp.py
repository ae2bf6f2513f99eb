"""BOAMP notices, in every shape they come in, to :class:`NoticeSnapshot`.

Shapes (see ``SCHEMA_NOTES.md`` A1-A7 of the shared corpus):

* OpenDataSoft Explore v2.1 records: a flat object whose ``gestion`` and ``donnees`` are JSON strings;
  ``donnees`` is DILA's XML as JSON: v230/v240/null schemas (``IDENTITE``, ``OBJET``, ``CONDITION_DELAI``,
  ``RECTIF`` …), 3.2.5 ``{"FNSimple": …}`` / ``{"MAPA": …}`` / ``{"EFORMS": …}``, and the 2006 v110 records;
* DILA XML: v230 ``<ANNONCE>`` and 3.2.5 ``<jo:ann>`` (same element names, converted by ``xmltree``);
* the retired DILA API JSON (lower-case keys, epoch-millisecond dates).

The parser reads a record's own facts. A rectificatif's statements become :class:`Amendment` objects;
applying them to the previous state is consolidation's job, not the parser's.
"""

from __future__ import annotations

import contextlib
import html
import json
import re
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from tracker.exceptions import ParseError
from tracker.notice import Amendment, NoticeSnapshot
from tracker.parse import frtext, statements
from tracker.parse.eforms import snapshot_from_eforms
from tracker.parse.tree import as_list, choice, dig, text_of
from tracker.values import (
    PARIS,
    department_of_postal_code,
    fixed_offset,
    parse_amount,
    parse_boamp_moment,
    small_int,
    zone_for_department,
)

SOURCE = "boamp"
NOTICE_URL = "https://www.boamp.fr/pages/avis/?q=idweb:{}"

#: 2015+ idweb "21-6545"; 2006 legacy "BWP06184060013B". A date ("2020-12-25") must never pass.
IDWEB_RE = re.compile(r"^(?:\d{2}-\d{1,8}|[A-Z]{3}\d{8,13}[A-Z]?)$")
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


# ------------------------------------------------------------------ small helpers


def clean_name(value: Any) -> str | None:
    """Buyer names come double-escaped from the DILA flux (``D&amp;#039;ESCAUTPONT``)."""
    s = text_of(value)
    if s is None:
        return None
    for _ in range(2):
        s = html.unescape(s)
    return s


def _json_field(value: Any, *, what: str) -> Any:
    if value is None or isinstance(value, dict | list):
        return value
    if not isinstance(value, str):
        raise ParseError(f"{what} is neither JSON text nor an object")
    from tracker.parse.jsonrecords import loads_bounded  # nesting and numbers bounded (issue 10)

    return loads_bounded(value, what=what)


def valid_idweb(value: Any) -> str | None:
    s = text_of(value)
    if s and IDWEB_RE.match(s.strip()):
        return s.strip()
    return None


# ------------------------------------------------------------------ kinds

_KIND_BY_STATUT = {"RECTIFICATIF": "rectificatif", "ANNULATION": "cancellation", "MODIFICATION": "change"}
_KIND_BY_NATURE = {
    "APPEL_OFFRE": "initial",
    "RECTIFICATIF": "rectificatif",
    "ATTRIBUTION": "award",
    "MODIFICATION": "change",
    "ANNULATION": "cancellation",
}


def notice_kind(nature: str | None, etat: str | None) -> str:
    nature = (nature if isinstance(nature, str) else "").upper().replace(" ", "_")  # a record may hold any type
    etat = (etat if isinstance(etat, str) else "").upper()
    if nature in ("ATTRIBUTION", "MODIFICATION"):
        return _KIND_BY_NATURE[nature]
    if etat in _KIND_BY_STATUT:
        return _KIND_BY_STATUT[etat]
    return _KIND_BY_NATURE.get(nature, "other")


# ------------------------------------------------------------------ links


def _links_from_anterieur(block: Any) -> Iterator[str]:
    for item in as_list(block):
        if not isinstance(item, dict):
            continue
        ref = item.get("REFERENCE", item)
        for r in as_list(ref):
            idweb = valid_idweb(dig(r, "IDWEB"))
            if idweb:
                yield idweb


def _links_v110(value: Any) -> Iterator[str]:
    """2006 ``annonces_anterieures_schema_v110``: comma-joined JSON objects, not valid JSON alone."""
    if not isinstance(value, str) or not value.strip():
        return
    try:
        items = json.loads(f"[{value}]")
    except ValueError:
        items = [{"IDWEB": m} for m in re.findall(r'"IDWEB"\s*:\s*"([^"]+)"', value)]
    for item in as_list(items):
        idweb = valid_idweb(dig(item, "IDWEB"))
        if idweb:
            yield idweb


def collect_links(flat: dict[str, Any], gestion: dict[str, Any], donnees: dict[str, Any]) -> list[str]:
    found: list[str] = []
    found += [x for x in (valid_idweb(v) for v in as_list(flat.get("annonce_lie"))) if x]
    with contextlib.suppress(ParseError):  # a broken link field never hides the others
        found += list(
            _links_from_anterieur(_json_field(flat.get("annonces_anterieures"), what="annonces_anterieures"))
        )
    found += list(_links_v110(flat.get("annonces_anterieures_schema_v110")))
    found += list(_links_from_anterieur(dig(gestion, "MARCHE", "ANNONCE_ANTERIEUR")))
    found += list(_links_from_anterieur(dig(gestion, "REFERENCE", "ANNONCE_ANTERIEUR")))
    for block in ("RECTIF", "ANNULATION"):
        found += list(_links_from_anterieur(dig(donnees, block, "ANNONCE_ANTERIEUR")))
    for fmt in ("FNSimple", "MAPA", "DSP"):
        part = donnees.get(fmt) if isinstance(donnees, dict) else None
        if isinstance(part, dict):
            for body in part.values():
                idweb = valid_idweb(dig(body, "avisInitial", "idWeb"))
                if idweb:
                    found.append(idweb)
    return list(dict.fromkeys(found))


# ------------------------------------------------------------------ the buyer's time zone

_DEPARTMENT_CODE = re.compile(r"(?<![\dA-Z])(\d{2,3}|2[AB])(?![\dA-Z])", re.IGNORECASE)


def _department_codes(values: Any) -> list[str]:
    """Département codes in a field: a string, a list of them, or a list written as JSON text."""
    return [m for v in as_list(values) for m in _DEPARTMENT_CODE.findall(text_of(v) or "")]


def _buyer_postal_code(donnees: dict[str, Any]) -> str | None:
    """The buyer's postal code: v230 ``IDENTITE/CP``, 3.2.5 ``organisme/cp`` or ``organisme/adr/cp``."""
    found = [dig(donnees, "IDENTITE", "CP")]
    for fmt in ("FNSimple", "MAPA", "DSP"):
        found += [dig(donnees, fmt, "organisme", "cp"), dig(donnees, fmt, "organisme", "adr", "cp")]
    return next((s for s in (text_of(v) for v in found) if s), None)


def record_zone(flat: dict[str, Any], gestion: dict[str, Any], donnees: dict[str, Any]) -> ZoneInfo:
    """The buyer's time zone, in which the record's legacy (``+01:00``) and naive date-times are wall times.

    From the record's départements (``code_departement``, else ``INDEXATION/DEP_PUBLICATION``); when they
    are in several zones (a notice published in Paris and in Guadeloupe) or absent, from the buyer's postal
    code; when that is missing too, the first département's zone; Europe/Paris when nothing is known.
    """
    codes = _department_codes(flat.get("code_departement")) or _department_codes(
        dig(gestion, "INDEXATION", "DEP_PUBLICATION")
    )
    zones = list(dict.fromkeys(zone_for_department(c) for c in codes))
    if len(zones) == 1:
        return zones[0]
    buyer = department_of_postal_code(_buyer_postal_code(donnees))
    if buyer is not None:
        return zone_for_department(buyer)
    return zones[0] if zones else PARIS


# ------------------------------------------------------------------ v230/v240 donnees


def _date_field(value: Any, zone: ZoneInfo) -> date | datetime | None:
    """A structured BOAMP date or date-time; see :func:`tracker.values.parse_boamp_moment`."""
    s = text_of(value)
    return parse_boamp_moment(s, zone=zone) if s else None


def _duration(node: Any) -> str | None:
    if not isinstance(node, dict):
        return None
    for key, unit in (("DUREE_MOIS", "M"), ("DUREE_JOURS", "D"), ("DUREE_JOUR", "D"), ("DUREE_AN", "Y")):
        n = small_int(text_of(node.get(key)))
        if n is not None:
            return f"P{n}{unit}"
    return None


def _v230_fields(dn: dict[str, Any], zone: ZoneInfo) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    delai = dn.get("CONDITION_DELAI") or {}
    admin = dn.get("CONDITION_ADMINISTRATIVE") or {}
    obj = dn.get("OBJET") or {}
    ident = dn.get("IDENTITE") or {}
    carac = obj.get("CARACTERISTIQUES") if isinstance(obj, dict) else None
    candidates = {
        "tender_deadline": dig(delai, "RECEPT_OFFRES"),
        "request_deadline": dig(delai, "RECEPT_CANDIDAT"),
        "opening_date": dig(admin, "DATE_OUVERTURE_OFFRES"),
        "start_date": dig(obj, "DUREE_DELAI", "DATE_DEBUT"),
        "end_date": dig(obj, "DUREE_DELAI", "DATE_FIN"),
    }
    for name, raw in candidates.items():
        value = _date_field(raw, zone)
        if value is not None:
            fields[name] = value
    duration = _duration(dig(obj, "DUREE_DELAI")) or _duration(dig(obj, "ACCORD_CADRE"))
    if duration:
        fields["duration"] = duration
    for name, raw in (
        ("estimated_value", dig(carac, "VALEUR_TOTALE") or dig(carac, "VALEUR")),
        ("max_value", dig(carac, "VALEUR_MAX")),
    ):
        amount = parse_amount(text_of(raw))
        if amount is not None:
            fields[name] = amount
    for name, key in (("documents_url", "URL_DOCUMENT"), ("submission_url", "URL_PARTICIPATION")):
        url = text_of(dig(ident, key))
        if url:
            fields[name] = url
    return fields


def _v230_lots(dn: dict[str, Any], zone: ZoneInfo) -> dict[str, dict[str, Any]]:
    lots: dict[str, dict[str, Any]] = {}
    entries = as_list(dig(dn, "OBJET", "LOTS", "LOT"))
    if len(entries) < 2 and dig(dn, "OBJET", "DIV_EN_LOTS", "NON") is not None:
        return lots  # a single undivided contract: its facts are the procedure's
    for i, lot in enumerate(entries, start=1):
        if not isinstance(lot, dict):
            continue
        key = text_of(lot.get("NUM")) or str(i)
        data: dict[str, Any] = {}
        title = text_of(lot.get("INTITULE")) or text_of(lot.get("DESCRIPTION"))
        if title:
            data["title"] = title[:300]
        duration = _duration(lot)
        if duration:
            data["duration"] = duration
        for name, raw in (("start_date", lot.get("DATE_DEBUT")), ("end_date", lot.get("DATE_FIN"))):
            value = _date_field(raw, zone)
            if value is not None:
                data[name] = value
        amount = parse_amount(text_of(lot.get("VALEUR")))
        if amount is not None:
            data["estimated_value"] = amount
        lots[key] = data
    return lots


def _v230_cpv(dn: dict[str, Any]) -> list[str]:
    codes = [text_of(c.get("PRINCIPAL")) for c in as_list(dig(dn, "OBJET", "CPV")) if isinstance(c, dict)]
    for lot in as_list(dig(dn, "OBJET", "LOTS", "LOT")):
        if isinstance(lot, dict):
            codes += [text_of(c.get("PRINCIPAL")) for c in as_list(lot.get("CPV")) if isinstance(c, dict)]
    return list(dict.fromkeys(c for c in codes if c))


def _v230_nuts(dn: dict[str, Any]) -> list[str]:
    codes = [text_of(dig(dn, "IDENTITE", "ADJUDICATEUR_NUTS"))]
    for lot in as_list(dig(dn, "OBJET", "LOTS", "LOT")):
        if isinstance(lot, dict):
            codes += [text_of(c) for c in as_list(lot.get("CODE_NUTS"))]
    return list(dict.fromkeys(c for c in codes if c))


# ------------------------------------------------------------------ 3.2.5 FNSimple / MAPA / DSP


def _fns_fields(body: dict[str, Any], zone: ZoneInfo) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    deadline = _date_field(dig(body, "procedure", "dateReceptionOffres"), zone)
    if deadline is not None:
        fields["tender_deadline"] = deadline
    request = _date_field(dig(body, "procedure", "dateReceptionCandidatures"), zone)
    if request is not None:
        fields["request_deadline"] = request
    months = small_int(text_of(dig(body, "natureMarche", "dureeMois")))
    if months is not None:
        fields["duration"] = f"P{months}M"
    amount = parse_amount(text_of(dig(body, "natureMarche", "valeurEstimee", "valeur")))
    if amount is not None:
        fields["estimated_value"] = amount
    for name, key in (("documents_url", "urlDocConsul"), ("submission_url", "urlProfilAch")):
        url = text_of(dig(body, "communication", key))
        if url:
            fields[name] = url
    return fields


def _fns_lots(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    lots: dict[str, dict[str, Any]] = {}
    for i, lot in enumerate(as_list(dig(body, "lots", "lot")), start=1):
        if not isinstance(lot, dict):
            continue
        key = text_of(lot.get("numero")) or text_of(lot.get("numLot")) or str(i)
        data: dict[str, Any] = {}
        title = text_of(lot.get("intitule")) or text_of(lot.get("description"))
        if title:
            data["title"] = title[:300]
        amount = parse_amount(text_of(dig(lot, "estimationValeur", "valeur")) or text_of(lot.get("estimationValeur")))
        if amount is not None:
            data["estimated_value"] = amount
        lots[key] = data
    return lots


def _snapshot_325(
    kind_body: str, body: dict[str, Any], org: dict[str, Any], snap: NoticeSnapshot, zone: ZoneInfo
) -> None:
    snap.buyer = snap.buyer or clean_name(org.get("nomOfficiel")) or clean_name(org.get("acheteurPublic"))
    nature = body.get("natureMarche") or body.get("description") or {}
    snap.title = text_of(dig(nature, "intitule")) or text_of(dig(nature, "objet")) or snap.title
    snap.description = text_of(dig(nature, "description")) or snap.description
    cpv = text_of(dig(nature, "codeCPV", "objetPrincipal", "classPrincipale"))
    if cpv:
        snap.cpv = [cpv, *[c for c in snap.cpv if c != cpv]]
    if kind_body == "rectificatif":
        snap.restatement = False
        snap.amendments = statements.rectif_325_amendments(body, zone=zone)
    elif kind_body == "initial":
        snap.fields.update(_fns_fields(body, zone))
        snap.lots = _fns_lots(body)
        ref = text_of(dig(body, "communication", "identifiantInterne"))
        if ref:
            snap.extra["buyer_ref"] = ref
            snap.identifiers.append(("buyer_ref", ref))
    elif kind_body == "attribution":
        text = text_of(body.get("attributionMarche"))
        snap.extra["award_text"] = text
        snap.amendments = text_award_amendments(text, "attributionMarche")


def _apply_325(donnees: dict[str, Any], snap: NoticeSnapshot, zone: ZoneInfo) -> bool:
    for fmt in ("FNSimple", "MAPA", "DSP"):
        part = donnees.get(fmt)
        if not isinstance(part, dict):
            continue
        org = _mapping(part.get("organisme"))
        for kind_body, body in part.items():
            if kind_body != "organisme" and isinstance(body, dict):
                _snapshot_325(kind_body, body, org, snap, zone)
        snap.extra["format"] = fmt
        return True
    return False


def _apply_eforms(donnees: dict[str, Any], snap: NoticeSnapshot) -> bool:
    eforms = donnees.get("EFORMS")
    if not isinstance(eforms, dict):
        return False
    for root_name, tree in eforms.items():
        if not isinstance(tree, dict):
            continue
        ef = snapshot_from_eforms(root_name, tree, source=SOURCE, notice_id=snap.notice_id, published=snap.published)
        snap.identifiers += [i for i in ef.identifiers if i[0] != "ted_pub"]
        snap.links += ef.links
        snap.title = ef.title or snap.title
        snap.buyer = ef.buyer or snap.buyer
        snap.description = ef.description or snap.description
        snap.cpv = list(dict.fromkeys([*ef.cpv, *snap.cpv]))
        snap.nuts = list(dict.fromkeys([*ef.nuts, *snap.nuts]))
        snap.fields.update(ef.fields)
        snap.lots = ef.lots
        snap.reason = ef.reason
        snap.amendments = list(ef.amendments)  # awards, documents changed, announced dates
        snap.extra.update(ef.extra)
        snap.extra["format"] = "EFORMS"
        if ef.kind in ("change", "cancellation"):
            snap.kind = ef.kind
        return True
    return False


# ------------------------------------------------------------------ awards (v230 ATTRIBUTION, 3.2.5 attribution)

#: v230 ``DECISION`` outcomes without a winner: "sans suite" ends the procedure, "infructueux" finds no tender
_NO_WINNER: dict[str, str] = {"SANS_SUITE": "cancelled", "INFRUCTUEUX": "unsuccessful", "NON_ATTRIBUE": "unsuccessful"}
#: "… attribué [le 13/03/2025] à [l'entreprise|la société] NAME [- 44 700 CITY] pour un montant …"
_AWARDED_TO = re.compile(
    r"attribu[ée]+s?\s+(?:le\s+\d{1,2}/\d{1,2}/\d{4}\s+)?(?:à|au|aux)\s+"
    r"(?:l['’]entreprise|la\s+soci[ée]t[ée]|l['’]op[ée]rateur\s+[ée]conomique|le\s+groupement)?\s*"
    r"(?P<name>[^\n]+?)(?=\s+pour\s+un\s+montant|\s+d['’]un\s+montant|\s*[.;,]\s|\s*[.;]?\s*$|\n)",
    re.I,
)
_POSTAL_TAIL = re.compile(r"\s+-\s+\d{2}\s?\d{3}\s+\S.*$")


def _award(lot: str | None, winners: list[str], values: list[Any], section: str, evidence: str) -> list[Amendment]:
    """The eForms award shape: ``award_winner`` a list of names, ``award_value`` a list of amounts."""
    out = [Amendment(field="award_winner", new=winners, lot=lot, section=section, evidence=evidence)]
    if values:
        out.append(Amendment(field="award_value", new=values, lot=lot, section=section, evidence=evidence))
    return out


def _decision_lot(decision: dict[str, Any], divided: bool) -> str | None:
    return text_of(decision.get("NUM_LOT")) if divided else None


def v230_award_amendments(donnees: dict[str, Any]) -> list[Amendment]:
    """Per ``ATTRIBUTION/DECISION``: its ``TITULAIRE`` names and ``RENSEIGNEMENT/MONTANT`` (when every
    winner is named and the amount is one), or the lot's status when it was not awarded ("sans suite",
    "infructueux"). A decision that says neither gives nothing: its text stays in the notice."""
    decisions = [d for d in as_list(dig(donnees, "ATTRIBUTION", "DECISION")) if isinstance(d, dict)]
    divided = len(decisions) > 1 or len(as_list(dig(donnees, "OBJET", "LOTS", "LOT"))) > 1
    out: list[Amendment] = []
    for decision in decisions:
        lot = _decision_lot(decision, divided)
        section = "ATTRIBUTION" + (f" lot {lot}" if lot else "")
        outcome = next((status for key, status in _NO_WINNER.items() if key in decision), None)
        holders = [h for h in as_list(decision.get("TITULAIRE")) if isinstance(h, dict)]
        names = [clean_name(h.get("DENOMINATION")) for h in holders]
        if holders and all(names):
            amount = parse_amount(text_of(dig(decision, "RENSEIGNEMENT", "MONTANT")))
            winners = list(dict.fromkeys(n for n in names if n))
            out += _award(lot, winners, [amount] if amount is not None else [], section, " / ".join(winners))
        elif outcome and not holders:
            out.append(Amendment(field="status", new=outcome, lot=lot, section=section))
    return out


def text_award_amendments(text: str | None, section: str) -> list[Amendment]:
    """3.2.5 ``attributionMarche`` is free text: a winner only when it names exactly one ("attribué à
    l'entreprise X"), an amount only when the text states exactly one; otherwise nothing is typed."""
    found = list(_AWARDED_TO.finditer(text or ""))
    if not text or len(found) != 1:
        return []
    name = _POSTAL_TAIL.sub("", found[0]["name"]).strip(" -:")
    if not name or len(name) > 200:
        return []
    amounts = frtext.find_amounts(text)
    values = [amounts[0].value] if len(amounts) == 1 and amounts[0].value is not None else []
    return _award(None, [name], values, section, text.strip())


# ------------------------------------------------------------------ 2006 v110


def _apply_v110(donnees: dict[str, Any], snap: NoticeSnapshot) -> None:
    snap.buyer = snap.buyer or clean_name(dig(donnees, "IDENT", "NOM"))
    snap.extra["format"] = "v110"
    snap.extra["unmapped"] = True  # identity, dates and raw data kept; fields not mapped


# ------------------------------------------------------------------ entry points


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _common(idweb: str, flat: dict[str, Any], gestion: dict[str, Any], donnees: dict[str, Any]) -> NoticeSnapshot:
    ref = _mapping(gestion.get("REFERENCE"))
    type_avis = _mapping(ref.get("TYPE_AVIS"))
    nature = flat.get("nature") or choice(type_avis.get("NATURE"))
    etat = flat.get("etat") or choice(type_avis.get("STATUT"))
    indexation = _mapping(gestion.get("INDEXATION"))
    published = _published(flat.get("dateparution") or text_of(indexation.get("DATE_PUBLICATION")))
    snap = NoticeSnapshot(
        source=SOURCE,
        notice_id=idweb,
        kind=notice_kind(nature, etat),
        published=published,
        identifiers=[("idweb", idweb)],
        url=text_of(flat.get("url_avis")) or NOTICE_URL.format(idweb),
        family=text_of(flat.get("famille")) or choice(type_avis.get("FAMILLE")),
    )
    snap.links = [("idweb", x) for x in collect_links(flat, gestion, donnees) if x != idweb]
    cfid = text_of(flat.get("contractfolderid"))
    if cfid and UUID_RE.match(cfid):
        snap.identifiers.append(("procedure_uuid", cfid.lower()))
    snap.title = text_of(flat.get("objet")) or text_of(indexation.get("RESUME_OBJET"))
    snap.buyer = clean_name(flat.get("nomacheteur")) or clean_name(indexation.get("NOMORGANISME"))
    depts = as_list(flat.get("code_departement")) or as_list(indexation.get("DEP_PUBLICATION"))
    snap.departments = [d for d in (text_of(x) for x in depts) if d]
    snap.extra["nature"] = nature
    snap.extra["etat"] = etat
    return snap


def _published(value: Any) -> date | None:
    s = text_of(value)
    if not s:
        return None
    m = re.match(r"^(\d{4})-(\d{1,2})-(\d{1,2})", s)
    if not m:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def _apply_v230(donnees: dict[str, Any], snap: NoticeSnapshot, zone: ZoneInfo) -> None:
    snap.title = text_of(dig(donnees, "OBJET", "TITRE_MARCHE")) or snap.title
    snap.description = text_of(dig(donnees, "OBJET", "OBJET_COMPLET"))
    snap.buyer = clean_name(dig(donnees, "IDENTITE", "DENOMINATION")) or snap.buyer
    snap.cpv = _v230_cpv(donnees)
    snap.nuts = _v230_nuts(donnees)
    ref = text_of(dig(donnees, "OBJET", "REF_MARCHE")) or text_of(
        dig(donnees, "CONDITION_ADMINISTRATIVE", "REFERENCE_MARCHE")
    )
    if ref:
        snap.extra["buyer_ref"] = ref
        snap.identifiers.append(("buyer_ref", ref))
    if snap.kind == "rectificatif" or isinstance(donnees.get("RECTIF"), dict):
        snap.restatement = False
        snap.amendments = statements.rectif_amendments(donnees, zone=zone)
        if snap.kind == "initial":
            snap.kind = "rectificatif"
        return
    if snap.kind == "cancellation":
        snap.restatement = False
        snap.reason = text_of(dig(donnees, "ANNULATION", "MOTIF"))
        return
    if snap.kind == "award":
        snap.amendments = v230_award_amendments(donnees)
        if snap.amendments and not any(a.field == "award_winner" for a in snap.amendments):
            snap.kind, snap.restatement = "other", False  # no lot awarded: no award, only the lots' outcome
            return
    snap.fields.update(_v230_fields(donnees, zone))
    snap.lots = _v230_lots(donnees, zone)


def snapshot_from_parts(
    flat: dict[str, Any], gestion: Any, donnees: Any, *, idweb: str | None = None
) -> NoticeSnapshot:
    """Build a snapshot from a record's flat fields and its ``gestion``/``donnees`` trees.

    Date-times are read in the buyer's zone (:func:`record_zone`). The flat ``datelimitereponse`` is never
    read: ODS derives it from the structured values (legacy ones converted to UTC, 3.2.5 ones relabelled UTC),
    so it is no source for a deadline.
    """
    gestion = gestion if isinstance(gestion, dict) else {}
    donnees = donnees if isinstance(donnees, dict) else {}
    idweb = idweb or valid_idweb(flat.get("idweb")) or valid_idweb(dig(gestion, "REFERENCE", "IDWEB"))
    if not idweb:
        raise ParseError(f"no valid idweb (got {flat.get('idweb') or dig(gestion, 'REFERENCE', 'IDWEB')!r})")
    snap = _common(idweb, flat, gestion, donnees)
    schema = str(flat.get("source_schema") or dig(gestion, "INDEXATION", "SCHEMA") or "")
    zone = record_zone(flat, gestion, donnees)
    if _apply_eforms(donnees, snap) or _apply_325(donnees, snap, zone):
        pass
    elif "v110" in schema or "NOJO" in gestion:
        _apply_v110(donnees, snap)
    else:
        _apply_v230(donnees, snap, zone)
    if snap.kind == "award":
        snap.restatement = False
    if snap.kind == "rectificatif":
        snap.restatement = False
    return snap


def parse_ods_record(record: dict[str, Any]) -> NoticeSnapshot:
    """One OpenDataSoft v2.1 record (flat object, ``gestion``/``donnees`` as JSON strings)."""
    if not isinstance(record, dict):
        raise ParseError("record is not a JSON object")
    gestion = _json_field(record.get("gestion"), what="gestion")
    donnees = _json_field(record.get("donnees"), what="donnees")
    return snapshot_from_parts(record, gestion, donnees)


def parse_dila_xml(root_name: str, tree: Any) -> NoticeSnapshot:
    """DILA XML converted by ``xmltree``: v230 ``ANNONCE`` or 3.2.5 ``jo:ann``."""
    if not isinstance(tree, dict):
        raise ParseError(f"<{root_name}> has no content")
    gestion, donnees = tree.get("GESTION"), tree.get("DONNEES")
    if not isinstance(gestion, dict):
        raise ParseError(f"<{root_name}> has no GESTION block")
    return snapshot_from_parts({}, gestion, donnees)


# ------------------------------------------------------------------ retired DILA API JSON

_LEGACY_KEYS = {
    "reference": "REFERENCE",
    "appeloffre": "APPEL_OFFRE",
    "intentionconclure": "INTENTION_CONCLURE",
    "profilacheteur": "PROFIL_ACHETEUR",
    "idweb": "IDWEB",
    "typeavis": "TYPE_AVIS",
    "nature": "NATURE",
    "statut": "STATUT",
    "famille": "FAMILLE",
    "indexation": "INDEXATION",
    "datepublication": "DATE_PUBLICATION",
    "deppublication": "DEP_PUBLICATION",
    "resumeobjet": "RESUME_OBJET",
    "identite": "IDENTITE",
    "denomination": "DENOMINATION",
    "objet": "OBJET",
    "titremarche": "TITRE_MARCHE",
    "objetcomplet": "OBJET_COMPLET",
    "conditiondelai": "CONDITION_DELAI",
    "receptoffres": "RECEPT_OFFRES",
    "receptcandidat": "RECEPT_CANDIDAT",
    "conditionadministrative": "CONDITION_ADMINISTRATIVE",
    "dateouvertureoffres": "DATE_OUVERTURE_OFFRES",
    "rectif": "RECTIF",
    "modification": "MODIFICATION",
    "rubinit": "RUB_INIT",
    "apresmention": "APRES_MENTION",
    "txtinit": "TXT_INIT",
    "lire": "LIRE",
    "init": "INIT",
    "texte": "TEXTE",
    "date": "DATE",
    "infocomplementaire": "INFO_COMPLEMENTAIRE",
    "marche": "MARCHE",
    "annonceanterieur": "ANNONCE_ANTERIEUR",
    "cpv": "CPV",
    "principal": "PRINCIPAL",
    "urldocument": "URL_DOCUMENT",
    "urlparticipation": "URL_PARTICIPATION",
    "adjudicateurnuts": "ADJUDICATEUR_NUTS",
    "annulation": "ANNULATION",
    "motif": "MOTIF",
}


_EPOCH_KEYS = frozenset({"receptoffres", "receptcandidat"})
#: days of DILA's publication calendar, written as the epoch of their midnight in Paris
_EPOCH_DAY_KEYS = frozenset({"datepublication", "datefindiffusion", "dateenvoi"})


def _legacy_value(key: str, value: Any, zone: ZoneInfo | None) -> Any:
    """An epoch-millisecond date: a publication day is DILA's (Paris) day; any other is an instant, written
    with the buyer's offset at that instant. With no zone yet (the first pass), kept as it is."""
    if isinstance(value, str) and value.startswith("<?xml"):
        return ""  # an empty XML element rendered as an XML string: a chosen option
    epoch_key = key.startswith("date") or key in _EPOCH_KEYS
    # 1973 to 2286 in milliseconds: a larger "epoch" is no date (and datetime refuses it)
    if zone and epoch_key and isinstance(value, int) and not isinstance(value, bool) and 10**11 < value < 10**13:
        if key in _EPOCH_DAY_KEYS:
            return datetime.fromtimestamp(value / 1000, tz=PARIS).date().isoformat()
        return fixed_offset(datetime.fromtimestamp(value / 1000, tz=zone)).isoformat()
    return value


def _legacy_tree(obj: Any, key: str = "", zone: ZoneInfo | None = None) -> Any:
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if v is None:
                continue
            out[_LEGACY_KEYS.get(k, k.upper())] = _legacy_tree(v, k, zone)
        return out
    if isinstance(obj, list):
        items = [_legacy_tree(v, key, zone) for v in obj]
        return items[0] if len(items) == 1 and key not in ("descripteur", "cpv") else items
    return _legacy_value(key, obj, zone)


def parse_dila_api_json(obj: dict[str, Any]) -> NoticeSnapshot:
    """The retired DILA API (``api-boamp/annonces/v230/{id}``): lower-case keys, epoch-ms dates.

    Epoch dates are instants: kept as such, written with the buyer's offset at that instant (a first pass
    over the trees finds the buyer's zone, a second converts the dates in it).
    """
    raw_gestion, raw_donnees = _mapping(obj.get("gestion")), _mapping(obj.get("donnees"))
    zone = record_zone({}, _mapping(_legacy_tree(raw_gestion)), _mapping(_legacy_tree(raw_donnees)))
    gestion = _mapping(_legacy_tree(raw_gestion, zone=zone))
    donnees = _mapping(_legacy_tree(raw_donnees, zone=zone))
    if isinstance(donnees.get("OBJET"), list):
        donnees["OBJET"] = donnees["OBJET"][0] if donnees["OBJET"] else {}
    return snapshot_from_parts({}, gestion, donnees)
