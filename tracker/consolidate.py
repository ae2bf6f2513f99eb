"""CONSOLIDATE stage: a procedure's notices, in publication order, become versions. Pure.

BOAMP never republishes an original: a rectificatif states "section X: read NEW instead of OLD", so each one
is applied to the previous consolidated state. eForms change notices (and BOAMP ``MODIFICATION`` records)
restate the whole notice, so consecutive states are diffed. Awards and cancellations change the status.

The same eForms notice published by two sources (BOAMP and TED, same BT-701 notice id) is one publication: the
second is not diffed against the state the first made (their mappings differ in details, which would give a
spurious change pair back and forth); only their dates are compared, and a date on which they disagree by more
than a day is a ``sources_disagree`` change (``section``: the date field; ``old``: what the first source says,
``new``: the second), the state staying as the first source gave it.

Input records are ``snapshot_record(snapshot)`` dicts (JSON-ready), so versions can be rebuilt from the
database at any time, in any order of arrival: the result depends only on the set of notices.
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import orjson

from tracker.diff import Change, diff_states, sort_changes
from tracker.notice import DATE_FIELDS, AmendmentRecord, ChangeDict, NoticeRecord, State, snapshot_record
from tracker.render import field_label
from tracker.values import delta, from_json, same_day, to_json

__all__ = ["VersionData", "consolidate", "order_key", "snapshot_record"]

_KIND_RANK = {"initial": 0, "change": 1, "rectificatif": 1, "other": 2, "award": 3, "cancellation": 3}


def _notice_order(notice_id: str) -> tuple[int, int, str]:
    m = re.match(r"^(\d{2})-(\d+)$", notice_id)
    if m:
        return int(m.group(1)), int(m.group(2)), ""
    m = re.match(r"^(\d+)-(\d{4})$", notice_id)  # TED publication number "740039-2023"
    if m:
        return int(m.group(2)) % 100, int(m.group(1)), ""
    return 0, 0, notice_id


def order_key(rec: NoticeRecord) -> tuple[str, int, tuple[int, int, str], str]:
    """Publication order; an initial notice first on its day; then notice number."""
    return (
        rec.get("published") or "9999-12-31",
        _KIND_RANK.get(rec.get("kind", "other"), 2),
        _notice_order(rec["notice_id"]),
        rec.get("source", ""),
    )


@dataclass(frozen=True, slots=True)
class VersionData:
    notice_id: str
    source: str
    kind: str
    published: str | None
    state: State
    changes: list[ChangeDict]
    content_hash: str


def state_hash(state: Mapping[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(state, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _restated_state(rec: NoticeRecord, prev: State | None) -> State:
    fields = dict(rec.get("fields") or {})
    lots = copy.deepcopy(rec.get("lots") or {})
    overlay = prev is not None and bool((rec.get("extra") or {}).get("overlay"))
    if prev is not None and overlay:
        fields, lots = _overlaid(prev, fields, lots)
    if "status" not in fields and not overlay:
        fields["status"] = "open"
    return {
        "title": rec.get("title") or (prev["title"] if prev else None),
        "buyer": rec.get("buyer") or (prev["buyer"] if prev else None),
        "cpv": list(rec.get("cpv") or (prev["cpv"] if prev else [])),
        "fields": fields,
        "lots": lots,
    }


def _overlaid(
    prev: State, fields: dict[str, Any], lots: dict[str, dict[str, Any]]
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """A buyer platform's page states what it shows; what it does not show stays as the notices said. A value the
    page gives for the consultation and the notices give per lot is each of those lots' value."""
    merged_lots = {lot: {**data, **lots.get(lot, {})} for lot, data in prev["lots"].items()} if prev["lots"] else lots
    merged = dict(prev["fields"])
    for name, value in fields.items():
        holders = [data for data in merged_lots.values() if name in data] if name not in merged else []
        for data in holders:
            data[name] = value
        if not holders:
            merged[name] = value
    return merged, merged_lots


def _skeleton(rec: NoticeRecord) -> State:
    return {
        "title": rec.get("title"),
        "buyer": rec.get("buyer"),
        "cpv": list(rec.get("cpv") or []),
        "fields": {},
        "lots": {},
    }


def merge_moment(prior: Any, stated_old: Any, stated_new: Any) -> Any:
    """A rectificatif that gives only a day keeps the time the procedure already had for that moment."""
    new, old, before = from_json(stated_new), from_json(stated_old), from_json(prior)
    if (
        isinstance(new, date)
        and not isinstance(new, datetime)
        and isinstance(before, datetime)
        and (old is None or same_day(old, before))
    ):
        return to_json(datetime.combine(new, before.timetz()))
    return stated_new


def _apply_amendment(state: State, am: AmendmentRecord) -> Change | None:
    field, lot = am["field"], am.get("lot")
    if field == "text":
        return Change(
            field="text",
            old=am.get("old"),
            new=am.get("new"),
            lot=lot,
            section=am.get("section"),
            evidence=am.get("evidence") or "",
        )
    lots = state["lots"]
    target = lots.setdefault(lot, {}) if lot else state["fields"]  # a lot only the amendment names is a lot too
    prior = target.get(field)
    value = merge_moment(prior, am.get("old"), am["new"])
    target[field] = value
    old = am.get("old") if am.get("old") is not None else prior
    if old == am["new"] and prior == value:
        return None
    return Change(
        field=field, old=old, new=am["new"], lot=lot, section=am.get("section"), evidence=am.get("evidence") or ""
    )


def _apply_status(state: State, status: str, evidence: str) -> list[Change]:
    prior = state["fields"].get("status") or "open"
    state["fields"]["status"] = status
    return [] if prior == status else [Change(field="status", old=prior, new=status, evidence=evidence)]


def _partial(rec: NoticeRecord, prev: State | None) -> tuple[State, list[Change]]:
    state = copy.deepcopy(prev) if prev is not None else _skeleton(rec)
    changes: list[Change] = []
    kind = rec.get("kind")
    if kind == "cancellation":
        changes += _apply_status(state, "cancelled", rec.get("reason") or "")
    elif kind == "award":
        changes += _apply_status(state, "awarded", (rec.get("extra") or {}).get("award_text") or "")
    for am in rec.get("amendments") or []:
        change = _apply_amendment(state, am)
        if change is not None:
            changes.append(change)
    return state, sort_changes(changes) if kind != "rectificatif" else changes


#: notices whose very purpose is to amend: each makes a version with at least one change
AMENDMENT_KINDS = frozenset({"rectificatif", "change", "cancellation"})


def is_amendment(rec: Mapping[str, Any]) -> bool:
    """A notice published to amend a procedure: a rectificatif, an eForms change notice, a cancellation, or any
    notice stating amendments or carrying an eForms change section."""
    extra = rec.get("extra") or {}
    return (
        rec.get("kind") in AMENDMENT_KINDS
        or bool(rec.get("amendments"))
        or bool(extra.get("change_descriptions") or extra.get("reason_code") or extra.get("documents_changed"))
    )


def stated_change(rec: NoticeRecord) -> Change:
    """What an amendment notice says when nothing in it could be typed or applied: kept as a text change, so
    its subscribers still hear of it (a dropped amendment is the worst failure)."""
    extra = rec.get("extra") or {}
    parts: list[str] = []
    sections: list[str] = []
    for am in rec.get("amendments") or []:
        said = " → ".join(str(v) for v in (am.get("old"), am.get("new")) if v not in (None, ""))
        parts.append(am.get("evidence") or said or am.get("section") or "")
        if am.get("section"):
            sections.append(str(am["section"]))
    for entry in extra.get("change_descriptions") or []:
        if isinstance(entry, dict) and entry.get("text"):
            parts.append(str(entry["text"]))
        if isinstance(entry, dict) and entry.get("section"):
            sections.append(str(entry["section"]))
    if extra.get("documents_changed"):
        day = extra.get("documents_change_date")
        parts.append(f"documents de la consultation modifiés{f' le {day}' if day else ''}")
    if rec.get("reason"):
        parts.append(str(rec["reason"]))
    text = " ; ".join(dict.fromkeys(p for p in parts if p)) or f"avis {rec.get('kind') or 'modificatif'} publié"
    lots = {am.get("lot") for am in rec.get("amendments") or []}
    return Change(
        field="text",
        old=None,
        new=text,
        lot=lots.pop() if len(lots) == 1 else None,
        section=", ".join(dict.fromkeys(sections)) or None,
        evidence=text,
    )


def stated_events(rec: NoticeRecord) -> list[ChangeDict]:
    """What a restating notice states beside its restatement (an eForms change notice: the documents changed, a
    date only its text announces): changes its state does not hold; an announced one stays flagged so."""
    out: list[ChangeDict] = []
    for am in rec.get("amendments") or []:
        change: ChangeDict = {"field": am["field"], "lot": am.get("lot"), "old": am.get("old"), "new": am.get("new")}
        if am.get("section"):
            change["section"] = str(am["section"])
        if am.get("evidence"):
            change["evidence"] = str(am["evidence"])
        if am.get("announced"):
            change["announced"] = True
        out.append(change)
    return out


def consolidate(records: list[NoticeRecord]) -> list[tuple[NoticeRecord, VersionData | None]]:
    """Every record in publication order, with the version it makes (None: it changes nothing).

    An amendment notice (:func:`is_amendment`) always makes a version with at least one change: when none of
    its statements could be typed or applied, what it says is kept as a text change. A publication another
    source made already (:func:`_twin`) makes a version only when the two disagree on a date.
    """
    out: list[tuple[NoticeRecord, VersionData | None]] = []
    prev: State | None = None
    published: dict[str, tuple[NoticeRecord, State]] = {}  # eForms notice id -> first record, the state it left
    for rec in sorted(records, key=order_key):
        twin = _twin(rec, published)
        if twin is not None and prev is not None:
            dicts = _disagreements(twin, rec)
            out.append((rec, _version(rec, prev, dicts) if dicts else None))
            continue
        state, changes, events = _next_state(rec, prev)
        if not changes and not events and is_amendment(rec):
            changes = [stated_change(rec)]
        if prev is None or changes or events:
            prev = state
            out.append((rec, _version(rec, state, [c.as_dict() for c in changes] + events)))
        else:
            out.append((rec, None))
        for notice_id in _eforms_ids(rec):
            published.setdefault(notice_id, (rec, prev))
    return out


def _next_state(rec: NoticeRecord, prev: State | None) -> tuple[State, list[Change], list[ChangeDict]]:
    if rec.get("restatement", True) and rec.get("kind") not in ("award", "cancellation"):
        state = _restated_state(rec, prev)
        return state, [] if prev is None else diff_states(prev, state), stated_events(rec)
    state, changes = _partial(rec, prev)
    return state, changes, []


def _version(rec: NoticeRecord, state: State, dicts: list[ChangeDict]) -> VersionData:
    return VersionData(
        notice_id=rec["notice_id"],
        source=rec.get("source", ""),
        kind=rec.get("kind", "other"),
        published=rec.get("published"),
        state=state,
        changes=dicts,
        content_hash=state_hash({"state": state, "changes": dicts}),
    )


# ---------------------------------------------------------------- one publication, two sources

_UUID_VERSION = re.compile(r"^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?:-\d{2})?$")


def _eforms_ids(rec: NoticeRecord) -> list[str]:
    """The eForms notice ids (BT-701, without their version) a record carries."""
    found = []
    for pair in rec.get("identifiers") or []:
        if len(pair) == 2 and pair[0] == "notice_id" and (m := _UUID_VERSION.match(str(pair[1]).strip().lower())):
            found.append(m.group(1))
    return found


def _twin(rec: NoticeRecord, published: dict[str, tuple[NoticeRecord, State]]) -> tuple[NoticeRecord, State] | None:
    """The earlier record of another source that published the same eForms notice, with the state it left."""
    for notice_id in _eforms_ids(rec):
        first = published.get(notice_id)
        if first is not None and first[0].get("source") != rec.get("source"):
            return first
    return None


def _disagreements(twin: tuple[NoticeRecord, State], rec: NoticeRecord) -> list[ChangeDict]:
    """The dates on which a restated publication and the other source's copy differ by more than a day."""
    first, before = twin
    after, _changes, _events = _next_state(rec, copy.deepcopy(before))
    holders: list[tuple[str | None, dict[str, Any], dict[str, Any]]] = [(None, before["fields"], after["fields"])]
    holders += [(lot, data, after["lots"][lot]) for lot, data in before["lots"].items() if lot in after["lots"]]
    out: list[ChangeDict] = []
    for lot, old_values, new_values in holders:
        for name in DATE_FIELDS:
            old, new = old_values.get(name), new_values.get(name)
            shift = delta(from_json(old), from_json(new)) if old is not None and new is not None else None
            if shift is not None and abs(shift) > timedelta(days=1):
                out.append(_disagreement(name, lot, old, new, first, rec))
    return out


def _disagreement(
    name: str, lot: str | None, old: Any, new: Any, first: NoticeRecord, rec: NoticeRecord
) -> ChangeDict:
    said = [f"{r.get('source') or '?'} {r.get('notice_id')} : {value}" for r, value in ((first, old), (rec, new))]
    evidence = f"{field_label(name)}{f' ({lot})' if lot else ''} — {' ≠ '.join(said)}"
    return {"field": "sources_disagree", "lot": lot, "old": old, "new": new, "section": name, "evidence": evidence}
