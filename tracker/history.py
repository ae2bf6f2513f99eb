"""Reading a procedure's history: the JSON contract and the terminal rendering."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from tracker.models import Identifier, Notice, Procedure, Version
from tracker.notice import ChangeDict
from tracker.render import change_text, kind_label, reason_label, reason_text
from tracker.store import normalise_key
from tracker.terminal import inert


def find_procedure(session: Session, ident: str) -> Procedure | None:
    """By any identifier of any notice of the procedure: idweb, eForms notice id, procedure UUID, …"""
    ident = ident.strip()
    # as typed, and as each scheme spells it (a padded or OJ S TED number, a notice id with its version)
    candidates = {ident, *(normalise_key(scheme, ident)[1] for scheme in ("procedure_uuid", "notice_id", "ted_pub"))}
    proc_id = session.execute(
        select(col(Identifier.procedure_id)).where(col(Identifier.value).in_(candidates)).limit(1)
    ).scalar_one_or_none()
    if proc_id is None:
        proc_id = session.execute(
            select(col(Notice.procedure_id)).where(col(Notice.notice_id).in_(candidates)).limit(1)
        ).scalar_one_or_none()
    return session.get(Procedure, proc_id) if proc_id is not None else None


def history(session: Session, procedure: Procedure, *, lang: str = "fr") -> dict[str, Any]:
    """The history JSON of one procedure (a contract: other tools read it)."""
    identifiers = (
        session.execute(
            select(col(Identifier.value))
            .where(col(Identifier.procedure_id) == procedure.id, col(Identifier.notice_pk).is_not(None))
            .order_by(col(Identifier.id))
        )
        .scalars()
        .all()
    )
    rows = session.execute(
        select(Version, col(Notice.notice_id), col(Notice.source), col(Notice.record))
        .join(Notice, col(Notice.id) == col(Version.notice_pk))
        .where(col(Version.procedure_id) == procedure.id, col(Version.superseded_at).is_(None))
        .order_by(col(Version.number))
    ).all()
    versions = []
    for version, notice_id, source, record in rows:
        versions.append(
            {
                "n": version.number,
                "notice_id": notice_id,
                "source": source,
                "kind": version.kind,
                "published": version.published.isoformat() if version.published else None,
                "url": record.get("url"),
                "changes": [change | {"text": change_text(change, lang)} for change in version.changes],
                "reason": version_reason(record, lang),
                "descriptions": version_descriptions(record),
                "announced": any(change.get("announced") for change in version.changes),
            }
            | _corrections(version.corrections, lang)
        )
    return {
        "procedure": {
            "id": procedure.display_id,
            "identifiers": list(dict.fromkeys(identifiers)),
            "title": procedure.title,
            "buyer": procedure.buyer,
        },
        "versions": versions,
    }


def version_reason(record: dict[str, Any], lang: str = "fr") -> dict[str, Any] | None:
    """Why the notice was published, as it says: the eForms BT-140 code (with its label) and the BT-762 text."""
    code = (record.get("extra") or {}).get("reason_code")
    text = record.get("reason")
    if not code and not text:
        return None
    return {"code": code, "label": reason_label(code, lang), "text": text}


def version_descriptions(record: dict[str, Any]) -> list[dict[str, str]]:
    """What the notice says it changed: the eForms BT-141 descriptions, each with its BT-13716 section."""
    entries = (record.get("extra") or {}).get("change_descriptions") or []
    return [
        {key: str(entry[key]) for key in ("section", "text") if entry.get(key)}
        for entry in entries
        if isinstance(entry, dict) and entry.get("text")
    ]


def _corrections(facts: list[dict[str, Any]] | None, lang: str) -> dict[str, Any]:
    """Dates told to subscribers that a later reading of the notices states otherwise."""
    if not facts:
        return {}
    return {"corrections": [fact | {"text": change_text(correction_change(fact), lang)} for fact in facts]}


def correction_change(fact: dict[str, Any]) -> ChangeDict:
    """A correction as a change: what was told → what the notices now say."""
    return {
        "field": fact["field"],
        "lot": fact.get("lot"),
        "old": fact.get("told"),
        "new": fact.get("now"),
        "correction": True,
    }


def safe(text: Any) -> str:
    """Notice content on a terminal: one line, no control character, escape sequence or bidi trick."""
    return inert(text)


def render_text(data: dict[str, Any], *, lang: str = "fr") -> str:
    proc = data["procedure"]
    head = f"{safe(proc['id'])}  {safe(proc['buyer'] or '?')} — {safe(proc['title'] or '?')}"
    lines = [head]
    for v in data["versions"]:
        label = kind_label(v["kind"], lang)
        lines.append(
            f"v{v['n']:<2} {v['published'] or '?':<10}  {label:<23} {v['source'].upper()} {safe(v['notice_id'])}"
        )
        lines += [f"    {safe(c['text'])}" for c in v["changes"]]
        lines += [f"    – {safe(_description_line(d))}" for d in v.get("descriptions") or []]
        reason = reason_text(v.get("reason"), lang)
        if reason:
            lines.append(f"    {'motif : ' if lang == 'fr' else 'reason: '}{safe(reason)}")
        lines += [f"    correction : {safe(c['text'])}" for c in v.get("corrections", [])]
    return "\n".join(lines)


def _description_line(entry: dict[str, str]) -> str:
    section, text = entry.get("section"), entry.get("text") or ""
    return f"{section}: {text}" if section else text
