"""Amendment statements of BOAMP rectificatifs, read into typed amendments. Pure.

A rectificatif states its changes as *statements*: a v230 ``RECTIF/MODIFICATION`` (section ``RUB_INIT``,
heading ``APRES_MENTION``, optional ``LOT``, then ``TXT_INIT``/``LIRE``, ``TEXTE`` INIT/LIRE, ``DATE``
INIT/LIRE, ``AJOUTER`` or ``SUPPRIMER``), a ``RECTIF/INFO_COMPLEMENTAIRE`` free text, a 3.2.5
``infosRectif`` (plain text, ``ajouter``/``supprimer`` children, lists of them). Each statement is read into
typed :class:`~tracker.notice.Amendment` objects where its text allows, and what cannot be typed for sure is
kept as a ``text`` amendment: a statement never vanishes.

Reading a statement
-------------------
* Every text goes through :func:`tracker.parse.frtext.interpret`, with the heading (``label``, else
  ``section``) as the hint of the field its words do not name. A ``LIRE`` or added text *states* values
  ("Date limite de réception des offres : 23/02/2021 à 12h00. Date d'ouverture des plis : …" gives two);
  a free text must say that a value changes ("est reportée au").
* A before/after statement pairs each typed value of the new text with the one value the old text gives
  for the same field and lot; a value that did not change is no amendment.
* A ``LIRE`` text that itself says "Après la mention : X Ajouter : Y" is read as the addition Y under X.
* What is left of a text once its typed sentences are taken out is kept as a ``text`` amendment when it
  still says something; the evidence of a typed amendment is its sentence.

Extracting statements
---------------------
:func:`rectif_statements` and :func:`rectif_325_statements` find the statements in every shape the
schemas allow (an element, a list of them, a string where a structure was expected, ``#text`` with
attributes, unknown children kept as text). :func:`rectif_amendments` and :func:`rectif_325_amendments`
read them and settle the notice as a whole: a day-only ``DATE`` block yields to a sentence's date-time for
the same field (their disagreement kept in the evidence), and two different values for one field and lot
are both kept as text rather than guessed between.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from tracker.notice import DATE_FIELDS, TRACKED_FIELDS, Amendment
from tracker.parse import frtext
from tracker.parse.tree import as_list, text_of
from tracker.values import PARIS


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
    return [amendment for amendment, _ in _read(statement, zone)]


# ---------------------------------------------------------------- reading one statement

#: "Après la mention : X Ajouter : Y" inside a LIRE text (v230 texts often word their change so).
_EMBEDDED = re.compile(
    r"\s*(?:apres\s+la\s+mention\s*:?\s*(?P<mention>.*?)\s*)?(?P<verb>ajouter|supprimer|lire|remplacer\s+par)\s*:\s*",
    re.IGNORECASE | re.DOTALL,
)
_VERB_FORMS = {"ajouter": StatementForm.ADDED, "supprimer": StatementForm.REMOVED}
_SUBSTANTIAL = 20  # word characters a rest of text needs to be kept as a text change

Read = list[tuple[Amendment, bool]]  # (amendment, whether it comes from a day-only structured block)


def _read(statement: Statement, zone: ZoneInfo) -> Read:
    return _unambiguous(_agreeing(statement, _read_typed(statement, zone)))


def _agreeing(st: Statement, read: Read) -> Read:
    """Dates typed under a section number naming another date field, and none of its own: the section and
    the text disagree ("IV.2.2" over an opening date), so they are kept as text."""
    section_field = frtext.field_for_label(st.section) if st.section and not st.label else None
    dates = [a for a, _ in read if a.field in DATE_FIELDS]
    if section_field not in DATE_FIELDS or not dates or any(a.field == section_field for a in dates):
        return read
    return [(_as_text(a), False) if a.field in DATE_FIELDS else (a, s) for a, s in read]


def _unambiguous(read: Read) -> Read:
    """Two different values for one field and lot in one statement: neither is sure, both are kept as text."""
    values: dict[tuple[str, str | None], set[str]] = {}
    seen: set[tuple[str, str | None, str, str]] = set()
    unique: Read = []
    for amendment, structured in read:
        key = (amendment.field, amendment.lot, repr(amendment.old), repr(amendment.new))
        if amendment.field != "text" and key in seen:
            continue  # the same change said twice
        seen.add(key)
        unique.append((amendment, structured))
        values.setdefault((amendment.field, amendment.lot), set()).add(repr(amendment.new))
    read = unique
    return [
        (_as_text(a), False) if a.field != "text" and len(values[(a.field, a.lot)]) > 1 else (a, structured)
        for a, structured in read
    ]


def _as_text(a: Amendment) -> Amendment:
    return Amendment(field="text", old=None, new=a.evidence, lot=a.lot, section=a.section, evidence=a.evidence)


def _read_typed(statement: Statement, zone: ZoneInfo) -> Read:
    st = _unembedded(statement)
    heading = _heading(st)
    hint = frtext.hint_for_label(st.label) or frtext.hint_for_label(st.section)
    if st.structured == "date":
        typed = _structured_dates(st, heading, hint, zone)
    elif st.structured or st.form is StatementForm.REMOVED:
        typed = []
    elif st.form is StatementForm.BEFORE_AFTER:
        return _before_after(st, heading, hint, zone) or [(_text(st, heading), False)]
    else:
        return _free(st, heading, hint, zone) or [(_text(st, heading), False)]
    return typed or [(_text(st, heading), False)]


def _unembedded(st: Statement) -> Statement:
    """A statement whose text says "Après la mention : X Ajouter : Y", read as the addition Y under X."""
    if not st.new or st.form is StatementForm.REMOVED or st.structured:
        return st
    match = _EMBEDDED.match(frtext.fold(st.new))
    if match is None or not st.new[match.end() :].strip():
        return st
    mention = " ".join(st.new[match.start("mention") : match.end("mention")].split()) if match["mention"] else None
    form = _VERB_FORMS.get(match["verb"].lower(), st.form)
    old = st.old if form is StatementForm.BEFORE_AFTER else None
    label = st.label or mention
    return replace(st, form=form, label=label, old=old, new=st.new[match.end() :].strip())


def _heading(st: Statement) -> str | None:
    """The section and heading as one label ("IV.2.2) Date limite …"), as the history shows it."""
    section, label = st.section, st.label
    if label and section and _words(label).startswith(_words(section).rstrip(").")):
        return label
    if label and section:
        return f"{section} {label}"
    return label or section


def _words(text: str) -> str:
    return " ".join(frtext.fold(text).lower().split())


def _text(st: Statement, heading: str | None) -> Amendment:
    """The statement kept as text: what it replaces and what it reads (a removal reads nothing)."""
    old, new = (st.new, None) if st.form is StatementForm.REMOVED else (st.old, st.new)
    evidence = " → ".join(t for t in (old, new) if t) or heading or ""
    if heading and (old or new):
        evidence = f"{heading} : {evidence}"
    return Amendment(field="text", old=old, new=new, lot=st.lot, section=heading, evidence=evidence)


def _structured_dates(st: Statement, heading: str | None, hint: str | None, zone: ZoneInfo) -> Read:
    """A v230 ``DATE`` block: schema-typed days, of the field its heading names."""
    new = frtext.parse_moment(st.new, zone=zone) if st.new else None
    old = frtext.parse_moment(st.old, zone=zone) if st.old else None
    if hint not in DATE_FIELDS or hint is None or new is None or old == new:
        return []
    evidence = f"{heading or hint} : {st.old or '…'} → {st.new}"
    return [
        (Amendment(field=hint, old=old, new=new, lot=lot, section=heading, evidence=evidence), True)
        for lot in _statement_lots(st)
    ]


def _statement_lots(st: Statement) -> list[str | None]:
    return [*_typed_lots(st)] or [None]


_LOT_HEADING = re.compile(r"\s*lots?\b", re.IGNORECASE)


def _typed_lots(st: Statement) -> list[str]:
    """The lots of the statement: its ``LOT`` element, else a heading that starts with them ("Lot 1 - …")."""
    if st.lot:
        return frtext.lots_named(st.lot)
    if st.label and _LOT_HEADING.match(st.label):
        return frtext.lots_in(st.label[:40])
    return []


def _interpret(
    st: Statement, text: str | None, heading: str | None, hint: str | None, zone: ZoneInfo, *, stated: bool
) -> list[Amendment]:
    """Typed amendments of one text of the statement, with the statement's lots when it names some."""
    if not text:
        return []
    found = frtext.interpret(text, field_hint=hint, section=heading, zone=zone, stated=stated)
    found = [a for a in found if a.field in TRACKED_FIELDS]
    lots = _typed_lots(st)
    if not lots:
        return found
    unique = list(dict.fromkeys((a.field, repr(a.old), repr(a.new), a.evidence) for a in found))
    by_key = {(a.field, repr(a.old), repr(a.new), a.evidence): a for a in found}
    return [replace(by_key[key], lot=lot) for key in unique for lot in lots]


_OLD_LEAD = re.compile(r"\s*au\s+lieu\s+(?:de\s+|d'\s?|du\s+|des\s+)(?::\s*)?", re.IGNORECASE)
_NEW_LEAD = re.compile(r"\s*(?:il\s+faut\s+)?lire\s*(?::\s*)?", re.IGNORECASE)


def _without(lead: re.Pattern[str], text: str | None) -> str | None:
    """An INIT text without its "Au lieu de :", a LIRE text without its "Lire :" (the form says so)."""
    match = lead.match(frtext.fold(text)) if text else None
    return text[match.end() :] if text and match and text[match.end() :].strip() else text


def _before_after(st: Statement, heading: str | None, hint: str | None, zone: ZoneInfo) -> Read:
    """Read NEW instead of OLD: each typed value of NEW with the one value OLD gives for its field and lot."""
    new_typed = _interpret(st, _without(_NEW_LEAD, st.new), heading, hint, zone, stated=True)
    old_typed = _interpret(st, _without(_OLD_LEAD, st.old), heading, hint, zone, stated=True)
    out: list[Amendment] = []
    for amendment in new_typed:
        paired = _paired(amendment, old_typed)
        if paired.old is not None and _same(paired.old, paired.new):
            continue  # restated, not changed
        out.append(_with_heading(paired, heading, old_typed))
    if not out:
        return []
    new_rest = _rest(st.new, new_typed)
    old_rest = _rest(st.old, old_typed)
    read: Read = [(a, False) for a in out]
    if _substantial(new_rest) and new_rest != old_rest:
        rest = Amendment(
            field="text", old=old_rest or None, new=new_rest, lot=st.lot, section=heading, evidence=new_rest
        )
        read.append((rest, False))
    return read


def _paired(amendment: Amendment, old_typed: list[Amendment]) -> Amendment:
    if amendment.old is not None:
        return amendment
    olds = [a for a in old_typed if a.field == amendment.field and a.lot == amendment.lot]
    if len({repr(a.new) for a in olds}) != 1:
        return amendment  # none, or several: the old value is the state's
    former = olds[0]
    if former.old is not None and _is_day(former.new) and _same_day(former.new, amendment.new):
        return replace(amendment, old=former.old)  # the old text moved it to this day already: its time is new
    return replace(amendment, old=former.new)


def _same(old: Any, new: Any) -> bool:
    return type(old) is type(new) and old == new


def _with_heading(amendment: Amendment, heading: str | None, old_typed: list[Amendment]) -> Amendment:
    """The evidence of a value that only the heading names gets the heading ("IV.2.2) … : 03/02/2021")."""
    if not heading or frtext.field_for_label(amendment.evidence) is not None:
        return amendment
    olds = [a.evidence for a in old_typed if a.field == amendment.field and a.lot == amendment.lot]
    said = f"{olds[0]} → {amendment.evidence}" if len(olds) == 1 else amendment.evidence
    return replace(amendment, evidence=f"{heading} : {said}")


def _free(st: Statement, heading: str | None, hint: str | None, zone: ZoneInfo) -> Read:
    """An added or free text: its typed sentences, and the rest of it kept as text when it says more."""
    stated = st.form is StatementForm.ADDED
    typed = [_with_heading(a, heading, []) for a in _interpret(st, st.new, heading, hint, zone, stated=stated)]
    if not typed:
        return []
    read: Read = [(a, False) for a in typed]
    rest = _rest(st.new, typed)
    if _substantial(rest):
        read.append((Amendment(field="text", new=rest, lot=st.lot, section=heading, evidence=rest), False))
    return read


def _rest(text: str | None, typed: list[Amendment]) -> str:
    """The text without the sentences typed amendments came from."""
    rest = " ".join((text or "").split())
    for amendment in typed:
        sentence = amendment.evidence.rsplit(" : ", 1)[-1] if amendment.evidence not in rest else amendment.evidence
        if sentence:
            rest = rest.replace(sentence, " ")
    return " ".join(rest.split())


def _substantial(text: str) -> bool:
    return len(re.sub(r"\W", "", text)) > _SUBSTANTIAL


# ---------------------------------------------------------------- a notice's statements, settled


def _settle(read: Read) -> list[Amendment]:
    """A notice's amendments, each value once: a sentence's date-time wins over a day-only ``DATE`` block
    for the same field and lot (their disagreement kept in the evidence)."""
    groups: dict[tuple[str, str | None], list[int]] = {}
    for i, (amendment, _) in enumerate(read):
        if amendment.field != "text":
            groups.setdefault((amendment.field, amendment.lot), []).append(i)
    out: dict[int, Amendment | None] = {i: a for i, (a, _) in enumerate(read)}
    for members in groups.values():
        for i, settled in _settled([read[i] for i in members], members):
            out[i] = settled
    return [a for a in out.values() if a is not None]


def _settled(entries: Read, indexes: list[int]) -> Iterator[tuple[int, Amendment | None]]:
    values = {repr(a.new) for a, _ in entries}
    sentences = [(i, a) for i, (a, structured) in zip(indexes, entries, strict=True) if not structured]
    blocks = [(i, a) for i, (a, structured) in zip(indexes, entries, strict=True) if structured]
    if len(values) == 1:
        keep = next((i for i, a in sentences + blocks if a.old is not None), indexes[0])
        yield from ((i, a if i == keep else None) for i, (a, _) in zip(indexes, entries, strict=True))
        return
    sentence_values = {repr(a.new) for _, a in sentences}
    if len(sentence_values) == 1 and blocks and all(_is_day(a.new) for _, a in blocks):
        yield from _sentence_wins(sentences, blocks)
        return
    yield from ((i, a) for i, (a, _) in zip(indexes, entries, strict=True))  # statements apart: each its own


def _sentence_wins(
    sentences: list[tuple[int, Amendment]], blocks: list[tuple[int, Amendment]]
) -> Iterator[tuple[int, Amendment | None]]:
    first, winner = sentences[0]
    notes = [
        f"{a.section or a.field} : {a.evidence.rsplit(' : ', 1)[-1]}"
        for _, a in blocks
        if not _same_day(a.new, winner.new)
    ]
    old = winner.old if winner.old is not None else next((a.old for _, a in blocks if a.old is not None), None)
    evidence = winner.evidence + "".join(f" [bloc DATE, {note}]" for note in notes)
    yield first, replace(winner, old=old, evidence=evidence)
    yield from ((i, None) for i, _ in sentences[1:])
    yield from ((i, None) for i, _ in blocks)


def _is_day(value: Any) -> bool:
    return isinstance(value, date) and not isinstance(value, datetime)


def _same_day(a: Any, b: Any) -> bool:
    return isinstance(a, date) and isinstance(b, date) and _day(a) == _day(b)


def _day(value: date) -> date:
    return value.date() if isinstance(value, datetime) else value


def _amendments(statements: list[Statement], zone: ZoneInfo) -> list[Amendment]:
    return _settle([entry for st in statements for entry in _read(st, zone)])


# ---------------------------------------------------------------- v230 RECTIF


_RECTIF_LABELS = {
    "INFO_COMPLEMENTAIRE": "Informations complémentaires",
    "AJOUT": "Ajout",
    "SUPPRESSION": "Suppression",
}
_RECTIF_FORMS = {"AJOUT": StatementForm.ADDED, "SUPPRESSION": StatementForm.REMOVED}
_NOT_STATEMENTS = frozenset({"ANNONCE_ANTERIEUR"})
_MOD_HEAD = ("RUB_INIT", "APRES_MENTION", "LOT")


def rectif_amendments(donnees: dict[str, Any], *, zone: ZoneInfo = PARIS) -> list[Amendment]:
    """The amendments of a v230 ``RECTIF`` block (``donnees`` is the record's ``DONNEES``)."""
    return _amendments(rectif_statements(donnees), zone)


def rectif_statements(donnees: dict[str, Any]) -> list[Statement]:
    """Every statement of a v230 ``RECTIF`` block, in the order of the notice."""
    out: list[Statement] = []
    for rectif in as_list(donnees.get("RECTIF")):
        if isinstance(rectif, dict):
            out += _rectif_block(rectif)
        elif (text := deep_text(rectif)) is not None:
            out.append(Statement(StatementForm.FREE_TEXT, label="Rectificatif", new=text))
    return out


def _rectif_block(rectif: dict[str, Any]) -> list[Statement]:
    out: list[Statement] = []
    for key, value in rectif.items():
        if key.startswith("@") or key in _NOT_STATEMENTS:
            continue
        if key == "MODIFICATION":
            out += [st for mod in as_list(value) for st in _modification(mod)]
            continue
        form = _RECTIF_FORMS.get(key, StatementForm.FREE_TEXT)
        label = _RECTIF_LABELS.get(key, None if key == "#text" else key)
        out += [Statement(form, label=label, new=t) for t in _texts(value)]
    return out


def _texts(value: Any) -> list[str]:
    return [t for t in (deep_text(v) for v in as_list(value)) if t]


def _modification(mod: Any) -> list[Statement]:
    """The statements of one ``MODIFICATION``: one per content element, or one with only its section."""
    if not isinstance(mod, dict):
        text = deep_text(mod)
        return [Statement(StatementForm.FREE_TEXT, label="Modification", new=text)] if text else []
    common: dict[str, Any] = {
        "section": deep_text(mod.get("RUB_INIT")),
        "label": deep_text(mod.get("APRES_MENTION")),
        "lot": deep_text(mod.get("LOT")),
    }
    out: list[Statement] = []
    for key, value in mod.items():
        if key in _MOD_HEAD or key.startswith("@") or (key == "TXT_INIT" and "LIRE" in mod):
            continue
        out += _content(key, value, mod, common)
    return out or [Statement(StatementForm.BEFORE_AFTER, **common)]


def _content(key: str, value: Any, mod: dict[str, Any], common: dict[str, Any]) -> list[Statement]:
    before_after = StatementForm.BEFORE_AFTER
    if key in ("LIRE", "TXT_INIT"):
        return [Statement(before_after, old=deep_text(mod.get("TXT_INIT")), new=deep_text(mod.get("LIRE")), **common)]
    if key in ("TEXTE", "DATE", "CPV"):
        structured = {"DATE": "date", "CPV": "cpv"}.get(key)
        if not isinstance(value, dict):
            return [Statement(before_after, new=deep_text(value), structured=structured, **common)]
        sep = ", " if structured == "cpv" else " "
        old, new = deep_text(value.get("INIT"), sep=sep), deep_text(value.get("LIRE"), sep=sep)
        others = [
            t for k, v in value.items() if k not in ("INIT", "LIRE") and not k.startswith("@") for t in _texts(v)
        ]
        new = " ".join(t for t in (new, *others) if t) or None
        return [Statement(before_after, old=old, new=new, structured=structured, **common)]
    if key in ("AJOUTER", "SUPPRIMER"):
        form = StatementForm.ADDED if key == "AJOUTER" else StatementForm.REMOVED
        return [Statement(form, new=t, **common) for t in _texts(value)] or [Statement(form, **common)]
    return [Statement(StatementForm.FREE_TEXT, new=t, **common) for t in _texts(value)]  # unknown: as text


def deep_text(value: Any, *, sep: str = " ") -> str | None:
    """All the text of an element and its children (``#text``, child elements, lists), attributes left out."""
    if isinstance(value, dict):
        parts = [deep_text(v, sep=sep) for k, v in value.items() if not k.startswith("@")]
        return sep.join(p for p in parts if p) or None
    if isinstance(value, list):
        parts = [deep_text(v, sep=sep) for v in value]
        return sep.join(p for p in parts if p) or None
    return text_of(value)


# ---------------------------------------------------------------- 3.2.5 rectificatif

_325_LABELS = {
    "ajouter": "Informations rectificatives (ajout)",
    "supprimer": "Informations rectificatives (suppression)",
}
_CAMEL = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


def rectif_325_amendments(body: dict[str, Any], *, zone: ZoneInfo = PARIS) -> list[Amendment]:
    """The amendments of a 3.2.5 ``rectificatif`` element (FNSimple, MAPA, DSP)."""
    return _amendments(rectif_325_statements(body), zone)


def rectif_325_statements(body: dict[str, Any]) -> list[Statement]:
    """``infosRectif`` as plain text, ``ajouter``/``supprimer`` children, lists of them, and ``lire…``
    values (beside ``infosRectif`` or inside it, with their ``auLieuDe…`` and ``rub…`` siblings)."""
    out = _lire_statements(body)
    for info in as_list(body.get("infosRectif")):
        if isinstance(info, dict):
            out += _lire_statements(info)
            out += _info_children(info)
        elif (text := deep_text(info)) is not None:
            out.append(Statement(StatementForm.FREE_TEXT, label="Informations rectificatives", new=text))
    return out


def _info_children(info: dict[str, Any]) -> list[Statement]:
    out: list[Statement] = []
    for key, value in info.items():
        lowered = key.lower()
        if key.startswith("@") or lowered.startswith(("lire", "aulieude", "rub")):
            continue
        for item in as_list(value):
            if isinstance(item, dict) and any(k.lower().startswith("lire") for k in item):
                out += _lire_statements(item) + _info_children(item)
                continue
            text = deep_text(item)
            if text:
                form = _VERB_FORMS.get(lowered, StatementForm.FREE_TEXT)
                label = _325_LABELS.get(lowered, None if key == "#text" else key)
                out.append(Statement(form, label=label, new=text))
    return out


def _lire_statements(obj: dict[str, Any]) -> list[Statement]:
    """``lireX`` values of an element, each with ``auLieuDeX`` as its old value and ``rub…`` as heading."""
    rubs = [t for k, v in obj.items() if k.lower().startswith("rub") for t in _texts(v)]
    out: list[Statement] = []
    for key, value in obj.items():
        if not key.lower().startswith("lire") or key == "infosRectif":
            continue
        suffix = key[4:]
        old = next(
            (deep_text(v) for k, v in obj.items() if k.lower() == f"aulieude{suffix}".lower()),
            None,
        )
        label = _camel_words(" ".join(rubs)) if rubs else None
        out.append(
            Statement(
                StatementForm.BEFORE_AFTER,
                section=_camel_words(suffix) or key,
                label=label,
                old=old,
                new=deep_text(value),
            )
        )
    return out


def _camel_words(name: str) -> str | None:
    """ "DateReceptionOffres" → "Date Reception des Offres": a code's words with the article it drops before
    a plural noun, as a heading to read."""
    words = [w for part in name.split() for w in _CAMEL.findall(part)]
    if not words:
        return None
    out = [words[0]]
    for word in words[1:]:
        out += ["des", word] if word.endswith("s") and len(word) > 3 else [word]
    return " ".join(out)
