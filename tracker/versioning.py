"""VERSION stage: a procedure's notices become its versions; what subscribers were told is checked. Pure.

:func:`plan_versions` takes, for each procedure, its notices (as stored records) and the version rows already
stored, consolidates the notices (``tracker.consolidate``) and says what the store must write:

* a notice that makes a version for the first time → a new version row;
* a version whose number, state or changes moved (a notice arrived out of order, a reparse) → updated in place;
* a notice that no longer makes a version (a later notice reshaped the history) → its row is **superseded**,
  never deleted: deliveries point at it, and what it told its subscribers is still checked;
* a version that subscribers were told about (its ``told`` changes) and that now says otherwise about a date
  still ahead → **one correction**: the facts told and the facts now, carried by that version (or, when it is
  superseded, by the procedure's latest version) under a new revision, so the outbox sends it once. Facts
  about dates already past are brought up to date silently: nobody is notified about the past.

The result depends only on the set of notices and the stored rows, so any order of arrival gives the same
history, and planning twice plans nothing the second time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from tracker.consolidate import VersionData, consolidate
from tracker.notice import DATE_FIELDS, ChangeDict, NoticeRecord, State
from tracker.values import PARIS, from_json

if TYPE_CHECKING:
    from tracker.store import StoredNotice, StoredVersion


@dataclass(slots=True)
class VersionPlan:
    """What the store writes: rows are dicts of ``tracker.models.Version`` columns."""

    inserts: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)  # each with "vid"
    superseded: list[int] = field(default_factory=list)
    procedures: list[dict[str, Any]] = field(default_factory=list)  # each with "pid"
    #: ids of stored versions that owe a correction (their fan-out is owed again)
    corrections: list[int] = field(default_factory=list)
    #: every procedure's live versions after the plan, in order: (notice record, version), for the views
    live: dict[int, list[tuple[NoticeRecord, VersionData]]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Fact:
    """A typed date told to subscribers that the history now states otherwise."""

    field: str
    lot: str | None
    told: Any
    now: Any
    notice_id: str

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "lot": self.lot, "told": self.told, "now": self.now, "notice_id": self.notice_id}


def plan_versions(
    procedure_ids: Iterable[int],
    notices: Iterable[StoredNotice],
    stored: Iterable[StoredVersion],
    *,
    now: datetime,
) -> VersionPlan:
    """The writes that bring these procedures' versions in line with their notices."""
    by_proc: dict[int, list[StoredNotice]] = {}
    for notice in notices:
        by_proc.setdefault(notice.procedure_id, []).append(notice)
    current = {v.notice_pk: v for v in stored}
    plan = VersionPlan()
    for proc in sorted(set(procedure_ids)):
        _plan_procedure(proc, by_proc.get(proc, []), current, now, plan)
    return plan


def _plan_procedure(
    proc: int, notices: list[StoredNotice], current: dict[int, StoredVersion], now: datetime, plan: VersionPlan
) -> None:
    pk_of = {id(n.record): n.pk for n in notices}
    number = 0
    state_at: dict[int, State | None] = {}  # notice pk -> the procedure's state once that notice is read
    live: dict[int, VersionData] = {}
    last: tuple[int, VersionData] | None = None
    state: State | None = None
    first_id: str | None = None
    for rec, version in consolidate([n.record for n in notices]):
        pk = pk_of[id(rec)]
        first_id = first_id or rec["notice_id"]
        if version is not None:
            number += 1
            state = version.state
            live[pk] = version
            plan.live.setdefault(proc, []).append((rec, version))
            last = (pk, version)
            _write_version(proc, pk, number, version, current.get(pk), now, plan)
        elif pk in current and not current[pk].superseded:
            plan.superseded.append(current[pk].id)
        state_at[pk] = state
    if last is None:
        return
    _check_told(notices, current, live, state_at, last, now, plan)
    plan.procedures.append(
        {
            "pid": proc,
            "display_id": first_id,
            "title": last[1].state.get("title"),
            "buyer": last[1].state.get("buyer"),
            "updated_at": now,
        }
    )


def _write_version(
    proc: int, pk: int, number: int, version: VersionData, row: StoredVersion | None, now: datetime, plan: VersionPlan
) -> None:
    values = {
        "procedure_id": proc,
        "notice_pk": pk,
        "number": number,
        "kind": version.kind,
        "published": date.fromisoformat(version.published) if version.published else None,
        "state": version.state,
        "changes": version.changes,
        "content_hash": version.content_hash,
        "superseded_at": None,
        "updated_at": now,
    }
    if row is None:
        plan.inserts.append(values | {"created_at": now})
    elif (row.number, row.content_hash, row.procedure_id, row.superseded) != (
        number,
        version.content_hash,
        proc,
        False,
    ):
        plan.updates.append(values | {"vid": row.id})


# ------------------------------------------------------------------ what subscribers were told


def _check_told(
    notices: list[StoredNotice],
    current: dict[int, StoredVersion],
    live: dict[int, VersionData],
    state_at: dict[int, State | None],
    last: tuple[int, VersionData],
    now: datetime,
    plan: VersionPlan,
) -> None:
    """Corrections owed for dates told to subscribers that the history now states otherwise."""
    owed: list[Fact] = []
    settled: dict[int, list[ChangeDict] | None] = {}  # version id -> what it now counts as having told
    for notice in notices:
        row = current.get(notice.pk)
        if row is None or not row.told:
            continue
        wrong = _wrong_facts(row.told, state_at.get(notice.pk), notice.record["notice_id"])
        if not wrong:
            continue
        version = live.get(notice.pk)
        settled[row.id] = version.changes if version is not None else None
        owed += [fact for fact in wrong if _ahead(fact.told, now) or _ahead(fact.now, now)]
    if settled:
        _settle(settled, plan)
    if owed:
        _attach_corrections(last, current, owed, plan)


def _wrong_facts(told: list[ChangeDict], state: State | None, notice_id: str) -> list[Fact]:
    wrong = []
    for change in told:
        name, lot, said = change.get("field"), change.get("lot"), change.get("new")
        if name not in DATE_FIELDS or said is None:
            continue
        if state is None:
            holder: dict[str, Any] = {}
        else:
            holder = state["lots"].get(lot, {}) if lot else state["fields"]
        truth = holder.get(name)
        if not _same_moment(said, truth):
            wrong.append(Fact(field=name, lot=lot, told=said, now=truth, notice_id=notice_id))
    return wrong


def _same_moment(a: Any, b: Any) -> bool:
    x, y = from_json(a), from_json(b)
    if isinstance(x, datetime) and isinstance(y, datetime):
        return x == y and x.utcoffset() == y.utcoffset()
    return bool(x == y)


def _ahead(value: Any, now: datetime) -> bool:
    moment = from_json(value)
    if isinstance(moment, datetime):
        return moment > now
    if isinstance(moment, date):
        return moment >= now.astimezone(PARIS).date()
    return False


def _settle(settled: dict[int, list[ChangeDict] | None], plan: VersionPlan) -> None:
    """Versions whose told facts are handed over to a correction (or were about the past) now tell the truth."""
    by_id = {u["vid"]: u for u in plan.updates}
    for vid, told in settled.items():
        if vid in by_id:
            by_id[vid]["told"] = told
        else:
            plan.updates.append({"vid": vid, "told": told})


def _attach_corrections(
    last: tuple[int, VersionData], current: dict[int, StoredVersion], owed: list[Fact], plan: VersionPlan
) -> None:
    """The procedure's latest version carries the corrections; a new revision when it was notified already."""
    pk, _ = last
    facts = [fact.as_dict() for fact in owed]
    row = current.get(pk)
    if row is None:  # a version made by this very plan: its first notification carries them
        for insert in plan.inserts:
            if insert["notice_pk"] == pk:
                insert["corrections"] = facts
        return
    extra = {
        "corrections": facts,
        "revision": row.revision + 1 if row.notified else row.revision,
        "notified_at": None,
    }
    for update in plan.updates:
        if update["vid"] == row.id:
            update.update(extra)
            break
    else:
        plan.updates.append({"vid": row.id, **extra})
    plan.corrections.append(row.id)
