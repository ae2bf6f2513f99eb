"""BOAMP rectificatifs of January 2021 rebuilt from DILA's flattened CSV (``boamp_legacy_rectif_text``).

The CSV (``aufilduboamp_2021-01_D_09_rectif.csv``) flattens the ``DONNEES/RECTIF`` block of every v230
rectificatif of the month: one row per ``RECTIF/MODIFICATION``, grouped by ``BOAMP_AVIS_NUM`` (the
rectificatif's idweb), the rectificatif's ``INFO_COMPLEMENTAIRE`` repeated on each of its rows, and the
whole list of modifications repeated once per publication reference of the original notice (electronic,
JOUE): the rows of one rectificatif are that cross product. Artefacts of the flattening:

* element values wrapped as a whole XML document (``<?xml version="1.0" encoding="UTF-16"?>\\n<LIRE
  xmlns:xsi=…>text</LIRE>``), whose text may hold entities (``&amp;``) and inner elements (``<P>``);
* ``CF_NIV_SUIV`` where an element has children, ``<NA>``, ``None``, ``[]`` where it is absent;
* ``True``/``False`` in the ``DATE`` columns: the INIT/LIRE dates themselves were lost, a row with a
  ``DATE`` block carries only its section and heading;
* the original's dates as UTC date-times (``2020-12-22 23:00:00`` is 23 December 2020 in Paris).

:func:`statements_from_csv` gives the statements as :class:`~tracker.parse.statements.Statement` objects,
:func:`records_from_csv` one OpenDataSoft v2.1 record per rectificatif, shaped as real v230 records are.
Row numbers are 1-based data rows (the header is not counted), the first row of the first repetition.
"""

from __future__ import annotations

import csv
import html
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element, ParseError

from defusedxml.ElementTree import fromstring

from tracker.parse.statements import Statement, StatementForm
from tracker.values import PARIS

CSV_FILE = "aufilduboamp_2021-01_D_09_rectif.csv"

#: No publication date survives in the CSV: every record gets the last day of the month, on or after the
#: publication of every January-2021 rectificatif and of every original it amends.
DATEPARUTION = "2021-01-31"

_ABSENT = frozenset({"", "CF_NIV_SUIV", "<NA>", "None", "nan", "NaN", "[]", "True", "False"})
_DECL_RE = re.compile(r"^\s*<\?xml[^>]*\?>\s*")
_WRAP_RE = re.compile(r"^<(?P<tag>[\w.-]+)(?:\s[^>]*)?>(?P<body>.*)</(?P=tag)>\s*$", re.DOTALL)
_TAG_RE = re.compile(r"<[^>]+>")

_M = "D_09_02_"
_PUB = "_Rectif_Annonceanterieur_Referencepublication_Publication"
COL = {
    "idweb": "BOAMP_AVIS_NUM",
    "original": "D_09_01_01_01_Rectif_Annonceanterieur_Reference_Idweb",
    "sent": "D_09_01_01_03_Rectif_Annonceanterieur_Reference_Dateenvoi",
    "e_published": f"D_09_01_02_02_01{_PUB}electronique_Datepublication",
    "e_end": f"D_09_01_02_02_02{_PUB}electronique_Datefindiffusion",
    "joue_year": f"D_09_01_02_03_01{_PUB}joue_Annee",
    "joue_issue": f"D_09_01_02_03_02{_PUB}joue_Numparution",
    "joue_number": f"D_09_01_02_03_03{_PUB}joue_Numannonce",
    "joue_published": f"D_09_01_02_03_04{_PUB}joue_Datepublication",
    "rub": _M + "01_Rectif_Modification_Rubinit",
    "lot": _M + "02_Rectif_Modification_Lot",
    "mention": _M + "03_Rectif_Modification_Apresmention",
    "txt_init": _M + "04_Rectif_Modification_Txtinit",
    "lire": _M + "05_Rectif_Modification_Lire",
    "add": _M + "06_Rectif_Modification_Ajouter",
    "remove": _M + "07_Rectif_Modification_Supprimer",
    "texte_init": _M + "08_01_Rectif_Modification_Texte_Init",
    "texte_lire": _M + "08_02_Rectif_Modification_Texte_Lire",
    "cpv_init": _M + "09_01_01_Rectif_Modification_Cpv_Init_Principal",
    "cpv_lire": _M + "09_02_01_Rectif_Modification_Cpv_Lire_Principal",
    "date_init": _M + "10_01_Rectif_Modification_Date_Init",
    "date_lire": _M + "10_02_Rectif_Modification_Date_Lire",
    "info": "D_09_03_Rectif_Infocomplementaire",
}
_REFERENCE_KEYS = ("sent", "e_published", "e_end", "joue_year", "joue_issue", "joue_number", "joue_published")

_FAMILIES = {"Mapa": "MAPA", "Fns": "FNS", "Joue": "JOUE", "Dsp": "DSP", "Divers": "DIVERS"}
_PERIMETERS = {
    "Cmp2006": "CMP2006",
    "Cmp2006DEFENSE": "CMP2006-DEFENSE",
    "Directive18": "DIRECTIVE-18",
    "Directive17": "DIRECTIVE-17",
    "Directive81": "DIRECTIVE-81",
    "Directive23": "DIRECTIVE-23",
    "Directive24": "DIRECTIVE-24",
    "Directive25": "DIRECTIVE-25",
    "Dsp": "DSP",
    "Autre": "AUTRE",
}


def unwrap(value: str | None) -> str | None:
    """The text of one CSV cell: ``None`` for the absence markers, an XML-wrapped value unwrapped.

    Whitespace is normalised (as :func:`tracker.parse.tree.text_of` does), inner elements become spaces.
    """
    if value is None or value.strip() in _ABSENT:
        return None
    text = _xml_text(value) if value.lstrip().startswith("<?xml") else value
    text = " ".join(text.split()) if text else ""
    return text or None


def _xml_text(value: str) -> str:
    body = _DECL_RE.sub("", value, count=1)
    try:
        root: Element = fromstring(body)
    except ParseError:
        match = _WRAP_RE.match(body.strip())
        inner = match.group("body") if match else body
        return html.unescape(_TAG_RE.sub(" ", inner))
    return " ".join(root.itertext())


def _flag(value: str | None) -> bool:
    return (value or "").strip() == "True"


def _paris_day(value: str | None) -> str | None:
    """``2020-12-22 23:00:00`` (UTC) → ``2020-12-23``: the flattening stored Paris midnights in UTC."""
    text = unwrap(value)
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(PARIS).date().isoformat()


# ------------------------------------------------------------------ reading the rows


@dataclass(frozen=True, slots=True)
class Rectificatif:
    """The rows of one rectificatif: its idweb, its original's idweb, its modifications (first repetition)."""

    idweb: str
    original: str | None
    rows: list[tuple[int, dict[str, str]]]
    modifications: list[tuple[int, dict[str, str]]]


def read_rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(enumerate(csv.DictReader(fh), start=1))


def _modification_key(row: dict[str, str]) -> tuple[str, ...]:
    """The cells of one modification (``D_09_02…``) and of the information text (``D_09_03``)."""
    return tuple(v for c, v in row.items() if c.startswith(("D_09_02", "D_09_03")))


def _reference_key(row: dict[str, str]) -> tuple[str, ...]:
    return tuple(row.get(COL[k], "") for k in _REFERENCE_KEYS)


def _first_repetition(rows: list[tuple[int, dict[str, str]]]) -> list[tuple[int, dict[str, str]]]:
    """The modifications of a rectificatif once: the rows of its first publication reference, then any
    modification the other references hold and the first does not (none in the January-2021 file)."""
    first_ref = _reference_key(rows[0][1])
    out = [(n, row) for n, row in rows if _reference_key(row) == first_ref]
    seen = {_modification_key(row) for _, row in out}
    for n, row in rows:
        key = _modification_key(row)
        if key not in seen:
            seen.add(key)
            out.append((n, row))
    return out


def rectificatifs(path: Path) -> list[Rectificatif]:
    """The rectificatifs of the file in file order, each with its rows."""
    groups: dict[str, list[tuple[int, dict[str, str]]]] = {}
    for n, row in read_rows(path):
        idweb = (row.get(COL["idweb"]) or "").strip()
        if idweb:
            groups.setdefault(idweb, []).append((n, row))
    return [
        Rectificatif(idweb, unwrap(rows[0][1].get(COL["original"])), rows, _first_repetition(rows))
        for idweb, rows in groups.items()
    ]


# ------------------------------------------------------------------ statements


def _row_statements(row: dict[str, str]) -> Iterator[Statement]:
    """The statements of one modification row (one per content element present; the schema allows one)."""
    common: dict[str, Any] = {
        "section": unwrap(row.get(COL["rub"])),
        "label": unwrap(row.get(COL["mention"])),
        "lot": unwrap(row.get(COL["lot"])),
    }
    before_after = StatementForm.BEFORE_AFTER
    cell = {k: unwrap(row.get(COL[k])) for k in COL}
    if cell["txt_init"] or cell["lire"]:
        yield Statement(before_after, old=cell["txt_init"], new=cell["lire"], **common)
    if cell["texte_init"] or cell["texte_lire"]:
        yield Statement(before_after, old=cell["texte_init"], new=cell["texte_lire"], **common)
    if cell["cpv_init"] or cell["cpv_lire"]:
        yield Statement(before_after, old=cell["cpv_init"], new=cell["cpv_lire"], structured="cpv", **common)
    if cell["date_init"] or cell["date_lire"] or _flag(row.get(COL["date_init"])) or _flag(row.get(COL["date_lire"])):
        yield Statement(before_after, old=cell["date_init"], new=cell["date_lire"], structured="date", **common)
    if cell["add"]:
        yield Statement(StatementForm.ADDED, new=cell["add"], **common)
    if cell["remove"]:
        yield Statement(StatementForm.REMOVED, new=cell["remove"], **common)


def rectificatif_statements(rectif: Rectificatif) -> list[tuple[int, Statement]]:
    out = [(n, s) for n, row in rectif.modifications for s in _row_statements(row)]
    info = next(((n, t) for n, row in rectif.rows if (t := unwrap(row.get(COL["info"])))), None)
    if info:
        out.append((info[0], Statement(StatementForm.FREE_TEXT, new=info[1])))
    return out


def statements_from_csv(path: Path) -> list[tuple[str, int, Statement]]:
    """(idweb of the rectificatif, CSV row number, statement) for every statement of the file, each once.

    A ``DATE`` block whose values were lost is still a statement (``structured="date"``, no old or new
    text): the notice did state a change of that section.
    """
    return [(r.idweb, n, s) for r in rectificatifs(path) for n, s in rectificatif_statements(r)]


# ------------------------------------------------------------------ records


def _choice_of(row: dict[str, str], group: str, names: dict[str, str]) -> str | None:
    for column, value in row.items():
        if f"_Typeavis_{group}_" in column and _flag(value):
            suffix = column.split(f"_Typeavis_{group}_", 1)[1]
            return names.get(suffix, suffix.upper())
    return None


def _nature(row: dict[str, str]) -> dict[str, Any] | None:
    for column, value in row.items():
        if "_Typeavis_Nature_" in column and _flag(value):
            parts = column.split("_Typeavis_Nature_", 1)[1].split("_")
            outer = {"Appeloffre": "APPEL_OFFRE", "Attribution": "ATTRIBUTION"}.get(parts[0], parts[0].upper())
            return {outer: {parts[1].upper(): ""}} if len(parts) > 1 else {outer: ""}
    return None


def _type_avis(row: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    family = _choice_of(row, "Famille", _FAMILIES)
    perimeter = _choice_of(row, "Perimetre", _PERIMETERS)
    if family:
        out["FAMILLE"] = {family: ""}
    if perimeter:
        out["PERIMETRE"] = {perimeter: ""}
    nature = _nature(row)
    if nature:
        out["NATURE"] = nature
    status = _choice_of(row, "Statut", {"Initial": "INITIAL", "Rectificatif": "RECTIFICATIF"})
    out["STATUT"] = {status or "INITIAL": ""}
    return out


def _publication(row: dict[str, str]) -> dict[str, Any] | None:
    electronic = {"DATE_PUBLICATION": _paris_day(row.get(COL["e_published"]))}
    if electronic["DATE_PUBLICATION"]:
        end = _paris_day(row.get(COL["e_end"]))
        return {"PUBLICATION_ELECTRONIQUE": electronic | ({"DATE_FIN_DIFFUSION": end} if end else {})}
    joue = {
        "ANNEE": unwrap(row.get(COL["joue_year"])),
        "NUM_PARUTION": unwrap(row.get(COL["joue_issue"])),
        "NUM_ANNONCE": unwrap(row.get(COL["joue_number"])),
        "DATE_PUBLICATION": _paris_day(row.get(COL["joue_published"])),
    }
    return {"PUBLICATION_JOUE": {k: v for k, v in joue.items() if v}} if any(joue.values()) else None


def _anterieur(rectif: Rectificatif) -> dict[str, Any]:
    first = rectif.rows[0][1]
    reference: dict[str, Any] = {"IDWEB": rectif.original, "TYPE_AVIS": _type_avis(first)}
    sent = _paris_day(first.get(COL["sent"]))
    if sent:
        reference["DATE_ENVOI"] = sent
    publications: list[dict[str, Any]] = []
    for _, row in rectif.rows:
        pub = _publication(row)
        if pub and pub not in publications:
            publications.append(pub)
    block: dict[str, Any] = {"REFERENCE": reference}
    if publications:
        block["REFERENCE_PUBLICATION"] = publications[0] if len(publications) == 1 else publications
    return block


def _modification(row: dict[str, str]) -> dict[str, Any]:
    """One ``RECTIF/MODIFICATION`` element, in the schema's order; a lost ``DATE`` block is left out."""
    cell = {k: unwrap(row.get(COL[k])) for k in COL}
    mod: dict[str, Any] = {"RUB_INIT": cell["rub"] or ""}
    for key, name in (("lot", "LOT"), ("mention", "APRES_MENTION")):
        if cell[key]:
            mod[name] = cell[key]
    if cell["txt_init"] or cell["lire"]:
        mod["TXT_INIT"], mod["LIRE"] = cell["txt_init"] or "", cell["lire"] or ""
    if cell["add"]:
        mod["AJOUTER"] = cell["add"]
    if cell["remove"]:
        mod["SUPPRIMER"] = cell["remove"]
    if cell["texte_init"] or cell["texte_lire"]:
        mod["TEXTE"] = {"INIT": cell["texte_init"] or "", "LIRE": cell["texte_lire"] or ""}
    if cell["cpv_init"] or cell["cpv_lire"]:
        mod["CPV"] = {"INIT": {"PRINCIPAL": cell["cpv_init"] or ""}, "LIRE": {"PRINCIPAL": cell["cpv_lire"] or ""}}
    if cell["date_init"] or cell["date_lire"]:
        mod["DATE"] = {"INIT": cell["date_init"] or "", "LIRE": cell["date_lire"] or ""}
    return mod


def _has_modification(row: dict[str, str]) -> bool:
    return any(unwrap(row.get(COL[k])) for k in ("rub", "mention", "lot")) or any(True for _ in _row_statements(row))


def record_of(rectif: Rectificatif) -> dict[str, Any]:
    """One OpenDataSoft v2.1 record for a rectificatif (``gestion``/``donnees`` as JSON strings)."""
    first = rectif.rows[0][1]
    family = _choice_of(first, "Famille", _FAMILIES)
    anterieur = _anterieur(rectif)
    mods = [_modification(row) for _, row in rectif.modifications if _has_modification(row)]
    rectif_block: dict[str, Any] = {"ANNONCE_ANTERIEUR": anterieur}
    if mods:
        rectif_block["MODIFICATION"] = mods[0] if len(mods) == 1 else mods
    info = next((t for _, row in rectif.rows if (t := unwrap(row.get(COL["info"])))), None)
    if info:
        rectif_block["INFO_COMPLEMENTAIRE"] = info
    type_avis: dict[str, Any] = {"NATURE": {"RECTIFICATIF": ""}, "STATUT": {"RECTIFICATIF": ""}}
    if family:
        type_avis = {"FAMILLE": {family: ""}} | type_avis
    gestion = {
        "REFERENCE": {"IDWEB": rectif.idweb, "TYPE_AVIS": type_avis},
        "MARCHE": {"ANNONCE_ANTERIEUR": anterieur},
        "NOM_HTML": f"{rectif.idweb}.html",
        "INDEXATION": {"DATE_PUBLICATION": DATEPARUTION},
    }
    return {
        "idweb": rectif.idweb,
        "id": rectif.idweb.replace("-", "_"),
        "famille": family,
        "dateparution": DATEPARUTION,
        "datelimitereponse": None,
        "nature": "RECTIFICATIF",
        "nature_libelle": "Rectificatif",
        "nature_categorise": "rectificatif/standard",
        "etat": "RECTIFICATIF",
        "type_avis": None,
        "annonce_lie": [rectif.original] if rectif.original else None,
        "source_schema": "Boamp_v230.xsd",
        "gestion": json.dumps(gestion, ensure_ascii=False),
        "donnees": json.dumps({"RECTIF": rectif_block}, ensure_ascii=False),
        "url_avis": f"https://www.boamp.fr/pages/avis/?q=idweb:{rectif.idweb}",
    }


def records_from_csv(path: Path) -> list[dict[str, Any]]:
    """One OpenDataSoft-v2.1-shaped record per rectificatif of the file, in file order.

    ``dateparution`` is :data:`DATEPARUTION` for every record (the CSV keeps no publication date of the
    rectificatif). ``famille`` and the original's ``TYPE_AVIS`` come from the CSV's boolean columns; the
    original's dates are turned back from UTC into Paris days.
    """
    return [record_of(r) for r in rectificatifs(path)]
