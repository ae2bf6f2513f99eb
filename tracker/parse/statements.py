"""Amendment statements of BOAMP rectificatifs, read into typed amendments. Pure.

A rectificatif states its changes as *statements*: a v230 ``RECTIF/MODIFICATION`` (section ``RUB_INIT``,
heading ``APRES_MENTION``, optional ``LOT``, then ``TXT_INIT``/``LIRE``, ``TEXTE`` INIT/LIRE, ``DATE``
INIT/LIRE, ``AJOUTER`` or ``SUPPRIMER``), a ``RECTIF/INFO_COMPLEMENTAIRE`` free text, a 3.2.5
``infosRectif`` (plain text, ``ajouter``/``supprimer`` children, lists of them). Each statement is read into
typed :class:`~tracker.notice.Amendment` objects where its text allows, and what cannot be typed for sure is
kept as a ``text`` amendment: a statement never vanishes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from tracker.notice import DATE_FIELDS, Amendment
from tracker.parse import frtext
from tracker.parse.tree import as_list, dig, text_of
from tracker.values import PARIS, parse_amount


class StatementForm(StrEnum):
    """How a notice words one amendment statement."""

    #: "read NEW instead of OLD": v230 ``TXT_INIT``/``LIRE``, ``TEXTE`` INIT/LIRE, ``DATE`` INIT/LIRE,
    #: ``CPV`` INIT/LIRE, 3.2.5 ``lire…`` elements
    BEFORE_AFTER = "before_after"
    #: a text added to a section (v230 ``AJOUTER``, 3.2.5 ``infosRectif/ajouter``)
    ADDED = "added"
    #: a text removed from a section (v230 ``SUPPRIMER``, 3.2.5 ``infosRectif/supprimer``)
    REMOVED = "removed"
    #: a free sentence (``INFO_COMPLEMENTAIRE``, a plain-text ``infosRectif``, an eForms description)
    FREE_TEXT = "free_text"


@dataclass(frozen=True, slots=True)
class Statement:
    """One amendment statement as the notice words it, before any interpretation.

    ``section`` is the section reference (``RUB_INIT``: "IV.2.2)", or a label), ``label`` the heading
    (``APRES_MENTION``), ``old`` the text replaced (INIT), ``new`` the text to read (LIRE, the added or free
    text; for REMOVED, the text removed). ``structured`` names a block whose values are typed by the
    schema itself (``"date"`` for a v230 ``DATE`` block: day-only ISO dates; ``"cpv"``).
    """

    form: StatementForm
    section: str | None = None
    label: str | None = None
    lot: str | None = None
    old: str | None = None
    new: str | None = None
    structured: str | None = None


def read_statement(statement: Statement, *, zone: ZoneInfo = PARIS) -> list[Amendment]:
    """The amendments a statement makes: typed where its text allows, else one ``text`` amendment.

    Never empty: a statement that cannot be typed for sure is kept as text with its section, lot,
    old and new text. ``zone`` is the buyer's time zone (wall times in the text are read in it).
    """
    raise NotImplementedError  # filled in below by the statement reader


_URL_RE = re.compile(r"https?://[^\s<>\"')]+")


def _modification_amendments(mod: dict[str, Any], zone: ZoneInfo = PARIS) -> list[Amendment]:
    rub = text_of(mod.get("RUB_INIT"))
    mention = text_of(mod.get("APRES_MENTION"))
    lot = text_of(mod.get("LOT"))
    if mention and rub and mention.startswith(rub.rstrip(").")):
        section: str | None = mention
    elif mention and rub:
        section = f"{rub} {mention}"
    else:
        section = mention or rub
    field = frtext.field_for_label(mention) or frtext.field_for_label(rub)
    date_block = mod.get("DATE")
    if isinstance(date_block, dict):
        old_text, new_text = text_of(date_block.get("INIT")), text_of(date_block.get("LIRE"))
    elif isinstance(mod.get("TEXTE"), dict):
        old_text, new_text = text_of(dig(mod, "TEXTE", "INIT")), text_of(dig(mod, "TEXTE", "LIRE"))
    else:
        old_text, new_text = text_of(mod.get("TXT_INIT")), text_of(mod.get("LIRE"))
    evidence = f"{section or ''} : {old_text or ''} → {new_text or ''}".strip(" :")
    typed = _typed_statement(field, old_text, new_text, lot=lot, section=section, evidence=evidence, zone=zone)
    if typed:
        return [typed]
    if not old_text and not new_text:
        return []
    return [Amendment(field="text", old=old_text, new=new_text, lot=lot, section=section, evidence=evidence)]


def _typed_statement(
    field: str | None,
    old_text: str | None,
    new_text: str | None,
    *,
    lot: str | None,
    section: str | None,
    evidence: str,
    zone: ZoneInfo = PARIS,
) -> Amendment | None:
    if field is None or not new_text:
        return None
    if field in DATE_FIELDS:
        new = frtext.parse_moment(new_text, zone=zone)
        if new is None:
            return None
        old = frtext.parse_moment(old_text, zone=zone) if old_text else None
        return Amendment(field=field, old=old, new=new, lot=lot, section=section, evidence=evidence)
    if field in ("documents_url", "submission_url"):
        new_url = _URL_RE.search(new_text)
        old_url = _URL_RE.search(old_text or "")
        if new_url and (not old_url or old_url.group(0) != new_url.group(0)):
            return Amendment(
                field=field,
                old=old_url.group(0) if old_url else None,
                new=new_url.group(0),
                lot=lot,
                section=section,
                evidence=evidence,
            )
    if field in ("estimated_value", "max_value"):
        new_amount = parse_amount(re.sub(r"[^\d,.]", "", new_text))
        if new_amount is not None:
            old_amount = parse_amount(re.sub(r"[^\d,.]", "", old_text or "")) if old_text else None
            return Amendment(field=field, old=old_amount, new=new_amount, lot=lot, section=section, evidence=evidence)
    return None


def free_text_amendments(
    text: str | None, *, section: str, lot: str | None = None, zone: ZoneInfo = PARIS
) -> list[Amendment]:
    """Typed amendments found in a free text, and the rest of the text kept as a text change."""
    if not text:
        return []
    typed = frtext.interpret(text, lot=lot, section=section, zone=zone)
    rest = text
    for amendment in typed:
        rest = rest.replace(amendment.evidence, " ") if amendment.evidence else rest
    rest = " ".join(rest.split())
    out = list(typed)
    if not typed or len(re.sub(r"\W", "", rest)) > 20:
        out.append(
            Amendment(field="text", old=None, new=rest if typed else text, lot=lot, section=section, evidence=text)
        )
    return out


def rectif_amendments(dn: dict[str, Any], *, zone: ZoneInfo = PARIS) -> list[Amendment]:
    rectif = dn.get("RECTIF")
    if not isinstance(rectif, dict):
        return []
    out: list[Amendment] = []
    for mod in as_list(rectif.get("MODIFICATION")):
        if isinstance(mod, dict):
            out += _modification_amendments(mod, zone)
    for key in ("INFO_COMPLEMENTAIRE", "AJOUT", "SUPPRESSION"):
        out += free_text_amendments(text_of(rectif.get(key)), section=_SECTION_LABELS.get(key, key), zone=zone)
    return out


_SECTION_LABELS = {
    "INFO_COMPLEMENTAIRE": "Informations complémentaires",
    "AJOUT": "Ajout",
    "SUPPRESSION": "Suppression",
    "ajouter": "Informations rectificatives (ajout)",
    "supprimer": "Informations rectificatives (suppression)",
}


def rectif_325_amendments(body: dict[str, Any], *, zone: ZoneInfo = PARIS) -> list[Amendment]:
    out: list[Amendment] = []
    infos = body.get("infosRectif")
    for key, value in infos.items() if isinstance(infos, dict) else []:
        for text in as_list(value):
            out += free_text_amendments(text_of(text), section=_SECTION_LABELS.get(key) or str(key), zone=zone)
    for key, value in body.items():
        if key.lower().startswith("lire") and key != "infosRectif":
            new = text_of(value)
            moment = frtext.parse_moment(new, zone=zone) if new else None
            field = frtext.field_for_label(key[4:]) or "tender_deadline"
            if moment is not None and field in DATE_FIELDS:
                out.append(Amendment(field=field, new=moment, section=key, evidence=f"{key} : {new}"))
    return out
