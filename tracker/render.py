"""Human sentences for changes and versions, in French (default) or English. Pure.

A change is the dict stored on a version (see ``tracker.diff.Change.as_dict``)::

    {"field": "tender_deadline", "lot": "LOT-0001", "old": "2026-02-17T12:00+01:00",
     "new": "2026-02-24T12:00+01:00", "evidence": "…", "section": "IV.2.2)"}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from tracker.values import render_delta, render_value

LANGS: Final = ("fr", "en")

FIELD_LABELS: Final[dict[str, tuple[str, str]]] = {
    "tender_deadline": ("Date limite de réception des offres", "Tender submission deadline"),
    "request_deadline": ("Date limite des demandes de participation", "Deadline for requests to participate"),
    "questions_deadline": ("Date limite des questions", "Deadline for questions"),
    "opening_date": ("Ouverture des offres", "Opening of tenders"),
    "start_date": ("Date de début", "Start date"),
    "end_date": ("Date de fin", "End date"),
    "site_visit": ("Visite du site", "Site visit"),
    "offer_validity": ("Validité des offres", "Validity of tenders"),
    "duration": ("Durée", "Duration"),
    "estimated_value": ("Valeur estimée", "Estimated value"),
    "max_value": ("Valeur maximale", "Maximum value"),
    "documents_url": ("Documents de la consultation", "Procurement documents"),
    "submission_url": ("Adresse de dépôt des offres", "Submission address"),
    "status": ("Statut", "Status"),
    "documents": ("Documents de la consultation modifiés", "Procurement documents changed"),
    "award_winner": ("Attributaire", "Winner"),
    "award_value": ("Montant attribué", "Awarded value"),
    "sources_disagree": ("Sources en désaccord", "Sources disagree"),
    "title": ("Intitulé", "Title"),
    "buyer": ("Acheteur", "Buyer"),
    "cpv": ("Code CPV", "CPV code"),
    "lots": ("Lots", "Lots"),
    "text": ("Texte", "Text"),
}

KIND_LABELS: Final[dict[str, tuple[str, str]]] = {
    "initial": ("avis de marché", "contract notice"),
    "rectificatif": ("avis rectificatif", "correction notice"),
    "change": ("avis de modification", "change notice"),
    "cancellation": ("avis d'annulation", "cancellation notice"),
    "award": ("avis d'attribution", "award notice"),
    "other": ("autre avis", "other notice"),
}

STATUS_LABELS: Final[dict[str, tuple[str, str]]] = {
    "open": ("ouverte", "open"),
    "cancelled": ("annulée", "cancelled"),
    "awarded": ("attribuée", "awarded"),
    "unsuccessful": ("infructueuse", "unsuccessful"),
    "closed": ("close", "closed"),
    "unknown": ("inconnu", "unknown"),
}


#: BT-140 change reason codes (eForms code list ``change-corrig-justification``), French and English labels
REASON_LABELS: Final[dict[str, tuple[str, str]]] = {
    "cancel": ("Avis annulé", "Notice cancelled"),
    "cancel-intent": ("Intention d’annuler", "Cancellation intention"),
    "cor-buy": ("Correction par l’acheteur", "Buyer correction"),
    "cor-esen": ("Correction par l’eSender", "eSender correction"),
    "cor-pub": ("Correction par l’éditeur", "Publisher correction"),
    "info-release": ("Informations désormais disponibles", "Information now available"),
    "susp-review": (
        "Procédure suspendue à la suite d’une plainte, d’un recours ou de tout autre réexamen",
        "Procedure suspended due to a complaint, appeal or any other action for review",
    ),
    "update-add": ("Mise à jour d’informations", "Information updated"),
}

_ANNOUNCED: Final = ("annoncé dans le texte, non repris dans les données structurées", "announced in the text only")


def _pick(pair: tuple[str, str], lang: str) -> str:
    return pair[0] if lang == "fr" else pair[1]


def field_label(field: str, lang: str = "fr") -> str:
    return _pick(FIELD_LABELS.get(field, (field, field)), lang)


def kind_label(kind: str, lang: str = "fr") -> str:
    return _pick(KIND_LABELS.get(kind, (kind, kind)), lang)


def reason_label(code: str | None, lang: str = "fr") -> str | None:
    """The label of an eForms BT-140 reason code; an unknown code is shown as it is."""
    if not code:
        return None
    return _pick(REASON_LABELS.get(code, (code, code)), lang)


def reason_text(reason: Mapping[str, Any] | None, lang: str = "fr") -> str | None:
    """``Mise à jour d’informations (update-add) — Due to Covid-19…``: a version's reason on one line."""
    if not reason:
        return None
    code, text = reason.get("code"), reason.get("text")
    head = f"{reason_label(code, lang)} ({code})" if code else None
    return " — ".join(str(part) for part in (head, text) if part) or None


def _short(text: Any, limit: int = 160) -> str:
    s = " ".join(str(text).split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _differing(old: str, new: str, context: int = 40) -> tuple[str, str]:
    """Both texts from a little before the first difference, so the change is visible once shortened."""
    old, new = " ".join(old.split()), " ".join(new.split())
    common = 0
    for a, b in zip(old, new, strict=False):
        if a != b:
            break
        common += 1
    if common <= context:
        return old, new
    start = common - context
    return "…" + old[start:], "…" + new[start:]


def change_text(change: Mapping[str, Any], lang: str = "fr") -> str:
    """One line, e.g. ``Date limite de réception des offres (LOT-0001) : 17/02 … → 24/02 … (+7 jours)``."""
    text = _change_line(change, lang)
    return f"{text} ({_pick(_ANNOUNCED, lang)})" if change.get("announced") else text


_FILE_WORDS: Final = {
    "fr": ("ajouté", "remplacé", "supprimé"),
    "en": ("added", "replaced", "removed"),
}


def files_line(old: Any, new: Any, lang: str = "fr") -> str:
    """``RC.pdf remplacé ; annexe.pdf ajouté``: what changed between two DCE file lists (name, size, hash)."""
    before = {str(f.get("name")): f for f in old or [] if isinstance(f, Mapping)}
    after = {str(f.get("name")): f for f in new or [] if isinstance(f, Mapping)}
    added, replaced, removed = _FILE_WORDS.get(lang, _FILE_WORDS["en"])
    parts = [f"{name} {added}" for name in after if name not in before]
    parts += [
        f"{name} {replaced}"
        for name, f in after.items()
        if name in before and (f.get("hash"), f.get("size")) != (before[name].get("hash"), before[name].get("size"))
    ]
    parts += [f"{name} {removed}" for name in before if name not in after]
    return " ; ".join(parts)


def _documents_line(head: str, colon: str, new: Any, lang: str, old: Any = None) -> str:
    """``Documents de la consultation modifiés (LOT-0001) : le 14/04/2020 — https://…``; for the DCE file lists
    of a buyer platform, the files added, replaced and removed."""
    if isinstance(new, list) or isinstance(old, list):
        named = files_line(old, new, lang)
        return f"{head}{colon}{_short(named, 300)}" if named else head
    value = new if isinstance(new, Mapping) else {}
    parts = []
    if value.get("date"):
        parts.append(f"{'le' if lang == 'fr' else 'on'} {render_value(value['date'], lang)}")
    if value.get("url"):
        parts.append(_short(value["url"], 120))
    return f"{head}{colon}{' — '.join(parts)}" if parts else head


def _change_line(change: Mapping[str, Any], lang: str) -> str:
    field = change.get("field", "text")
    lot = change.get("lot")
    colon = " : " if lang == "fr" else ": "
    old, new = change.get("old"), change.get("new")
    if field == "text":
        label = (change.get("section") or field_label("text", lang)).rstrip(" :")
        head = f"{_short(label, 80)}{f' ({lot})' if lot else ''}"
        if old in (None, "") and new in (None, ""):
            unreadable = "valeur non lisible dans l’avis" if lang == "fr" else "value not readable in the notice"
            return f"{head}{colon}{unreadable}"
        if old in (None, ""):
            return f"{head}{colon}{_short(new)}"
        if new in (None, ""):
            return (
                f"{head}{colon}« {_short(old)} » supprimé" if lang == "fr" else f"{head}{colon}“{_short(old)}” removed"
            )
        old, new = _differing(str(old), str(new))
        return (
            f"{head}{colon}« {_short(old)} » → « {_short(new)} »"
            if lang == "fr"
            else (f"{head}{colon}“{_short(old)}” → “{_short(new)}”")
        )
    head = f"{field_label(field, lang)}{f' ({lot})' if lot else ''}"
    if field == "lots":
        if old is None:
            return f"{head}{colon}{'lot ajouté' if lang == 'fr' else 'lot added'} {new}"
        if new is None:
            return f"{head}{colon}{'lot supprimé' if lang == 'fr' else 'lot removed'} {old}"
    if field == "documents":
        return _documents_line(head, colon, new, lang, old)
    if field == "status":
        o = _pick(STATUS_LABELS.get(str(old), (str(old), str(old))), lang) if old else "—"
        n = _pick(STATUS_LABELS.get(str(new), (str(new), str(new))), lang) if new else "—"
        return f"{head}{colon}{o} → {n}"
    text = f"{head}{colon}{_short(render_value(old, lang), 100)} → {_short(render_value(new, lang), 100)}"
    shift = render_delta(old, new, lang)
    if shift:
        text += f" ({shift})"
    return text
