"""Versioning is a pure stage, and notified history is never destroyed.

Whatever the order in which notices arrive, with subscribers configured: no ingest fails, no version a
delivery points at is deleted, and subscribers told a date that a later reading of the notices states
otherwise get one correction when the date is still ahead (none about the past).
"""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from tests import corpus_path
from tests.hookserver import HookServer
from tracker.db import make_engine, session_scope, upgrade
from tracker.documents import Document
from tracker.history import find_procedure, history
from tracker.models import Delivery, Version
from tracker.outbox import Notifier
from tracker.parse.base import ODS_RECORD
from tracker.pipeline import ingest_documents, version
from tracker.reader import documents_from_file, record_bytes
from tracker.store import IngestStats, StoredNotice, StoredVersion
from tracker.subscribers import load_subscribers
from tracker.versioning import plan_versions

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
CHAIN_NAMES = [
    "chain_16-40880_avis_rectifie_16-58728.json",
    "chain_17-31381_rectif_17-46785.json",
    "chain_18-100479_rectif_18-103650.json",
    "chain_20-157376_rectif_21-6545_rectif_21-8404.json",
    "chain_20-37549_avis_rectifie_20-51319.json",
    "chain_21-64504_attribution_21-164228.json",
    "chain_23-34854_rectif_23-35823_FNSimple.json",
    "chain_24-69353_attribution_24-89736.json",
]


def records_of(path: Path) -> list[dict[str, Any]]:
    return json.loads(path.read_text())["results"]


def docs(records: list[dict[str, Any]]) -> list[Document]:
    return [Document("boamp", f"test#{r['idweb']}", record_bytes(r), ODS_RECORD) for r in records]


def everything_subscriber(folder: Path, address: str) -> list[Any]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "subscribers.yaml").write_text(
        f"version: 1\nsubscribers:\n  - name: tout\n    urls: ['json://{address}/hook']\n    profiles: [{{}}]\n"
    )
    return load_subscribers(folder)


def version_rows(engine: Engine) -> set[int]:
    with session_scope(engine) as session:
        return set(session.execute(select(Version.id)).scalars())


def deliveries_point_at_versions(engine: Engine) -> bool:
    with session_scope(engine) as session:
        pointed = set(session.execute(select(Delivery.version_id).where(Delivery.version_id.is_not(None))).scalars())
        existing = set(session.execute(select(Version.id)).scalars())
    return pointed <= existing


def public_history(engine: Engine, ident: str) -> dict[str, Any]:
    with session_scope(engine) as session:
        proc = find_procedure(session, ident)
        assert proc is not None
        h = history(session, proc)
    return {
        "ids": sorted(h["procedure"]["identifiers"]),
        "versions": [(v["notice_id"], v["changes"]) for v in h["versions"]],
    }


# ------------------------------------------------------------------ the pure stage


def _notice(pk: int, notice_id: str, published: str, kind: str, **extra: Any) -> StoredNotice:
    record = {
        "source": "boamp",
        "notice_id": notice_id,
        "kind": kind,
        "published": published,
        "title": "Travaux",
        "buyer": "Commune",
        "fields": extra.get("fields", {}),
        "lots": {},
        "restatement": kind == "initial",
        "amendments": extra.get("amendments", []),
    }
    return StoredNotice(pk=pk, procedure_id=1, record=record)


def _stored(vid: int, pk: int, number: int, told: list[dict[str, Any]] | None, **kw: Any) -> StoredVersion:
    return StoredVersion(
        id=vid,
        notice_pk=pk,
        procedure_id=1,
        number=number,
        content_hash=kw.get("content_hash", "x"),
        superseded=False,
        notified=told is not None,
        revision=kw.get("revision", 0),
        told=told,
        corrections=None,
    )


def _deadline_notices(new: str) -> list[StoredNotice]:
    moved = {"field": "tender_deadline", "old": "2027-02-17T12:00+01:00", "new": new, "lot": None}
    return [
        _notice(1, "26-1", "2026-11-20", "initial", fields={"tender_deadline": "2027-02-17T12:00+01:00"}),
        _notice(2, "26-2", "2026-11-25", "rectificatif", amendments=[moved]),
    ]


def test_a_told_date_still_ahead_that_now_reads_otherwise_owes_one_correction() -> None:
    notices = _deadline_notices("2027-02-24T12:00+01:00")
    told = [
        {"field": "tender_deadline", "lot": None, "old": "2027-02-17T12:00+01:00", "new": "2027-02-24T13:00+01:00"}
    ]
    stored = [_stored(10, 1, 1, []), _stored(11, 2, 2, told)]
    plan = plan_versions([1], notices, stored, now=NOW)
    assert plan.corrections == [11]
    update = next(u for u in plan.updates if u["vid"] == 11)
    assert update["revision"] == 1 and update["notified_at"] is None
    assert update["corrections"] == [
        {
            "field": "tender_deadline",
            "lot": None,
            "told": "2027-02-24T13:00+01:00",
            "now": "2027-02-24T12:00+01:00",
            "notice_id": "26-2",
        }
    ]
    assert update["told"] == next(u for u in plan.updates if u["vid"] == 11)["changes"]


def test_a_told_date_in_the_past_is_set_right_silently() -> None:
    notices = _deadline_notices("2027-02-24T12:00+01:00")
    told = [{"field": "tender_deadline", "lot": None, "old": "x", "new": "2027-02-24T13:00+01:00"}]
    plan = plan_versions(
        [1], notices, [_stored(10, 1, 1, []), _stored(11, 2, 2, told)], now=datetime(2028, 1, 1, tzinfo=UTC)
    )
    assert plan.corrections == []
    assert "told" in next(u for u in plan.updates if u["vid"] == 11)


def test_a_notice_that_no_longer_makes_a_version_is_superseded_not_deleted() -> None:
    first = _notice(1, "26-1", "2026-11-20", "initial", fields={"tender_deadline": "2027-02-17"})
    same = _notice(2, "26-2", "2026-11-25", "initial", fields={"tender_deadline": "2027-02-17"})
    stored = [_stored(10, 1, 1, []), _stored(11, 2, 2, [])]
    plan = plan_versions([1], [first, same], stored, now=NOW)
    assert plan.superseded == [11]
    assert not plan.corrections


def test_planning_twice_plans_nothing_new() -> None:
    notices = _deadline_notices("2027-02-24T12:00+01:00")
    plan = plan_versions([1], notices, [], now=NOW)
    stored = [
        _stored(10 + i, row["notice_pk"], row["number"], row["changes"], content_hash=row["content_hash"])
        for i, row in enumerate(plan.inserts)
    ]
    again = plan_versions([1], notices, stored, now=NOW)
    assert not again.inserts and not again.superseded and not again.corrections
    assert [u for u in again.updates if set(u) - {"vid", "told"}] == []


# ------------------------------------------------------------------ with the database and a subscriber


@pytest.mark.corpus
def test_can_24_maximal_then_can_81_fra_with_a_subscriber(engine, tmp_path):
    with HookServer() as hooks:
        subs = everything_subscriber(tmp_path / "config", hooks.address)
        notifier = Notifier(engine, subs, clock=lambda: NOW)
        for name in ("can_24_maximal.xml", "can_81_FRA.xml", "can_24_maximal.xml"):
            before = version_rows(engine)
            ingest_documents(
                engine, documents_from_file(corpus_path("eforms_sdk_examples", name)), on_versions=notifier
            )
            assert before <= version_rows(engine), "a version was deleted"
            assert deliveries_point_at_versions(engine)
        again = ingest_documents(engine, documents_from_file(corpus_path("eforms_sdk_examples", "cn_24_open.xml")))
        assert again.quarantined == 0


@pytest.mark.corpus
@pytest.mark.parametrize("chain", CHAIN_NAMES)
def test_every_order_of_a_chain_with_a_subscriber_keeps_every_notified_version(sqlite_engine, tmp_path, chain):
    records = records_of(corpus_path("boamp_ods_api", "chains", chain))
    ingest_documents(sqlite_engine, docs(records))
    expected = public_history(sqlite_engine, records[0]["idweb"])
    with HookServer() as hooks:
        subs = everything_subscriber(tmp_path / "config", hooks.address)
        for n, order in enumerate(itertools.permutations(records)):
            engine_path = tmp_path / f"order{n}.db"
            eng = make_engine(f"sqlite:///{engine_path}")
            upgrade(eng)
            notifier = Notifier(eng, subs, clock=lambda: NOW)
            for record in order:
                before = version_rows(eng)
                ingest_documents(eng, docs([record]), on_versions=notifier)
                assert before <= version_rows(eng), f"{chain}: a version was deleted ingesting {record['idweb']}"
                assert deliveries_point_at_versions(eng)
            assert public_history(eng, records[0]["idweb"]) == expected, (
                f"{chain} in order {[r['idweb'] for r in order]}"
            )
            eng.dispose()


@pytest.mark.corpus
@pytest.mark.parametrize(
    "now, corrections", [(datetime(2016, 4, 1, tzinfo=UTC), 1), (datetime(2017, 1, 1, tzinfo=UTC), 0)]
)
def test_a_deadline_told_an_hour_off_is_corrected_once_while_ahead(engine, tmp_path, now, corrections):
    """As after the wall-time fix: 16-40880's deadline was told as 12:00+01:00 in April (13:00 in Paris)."""
    records = records_of(corpus_path("boamp_ods_api", "chains", "chain_16-40880_avis_rectifie_16-58728.json"))
    with HookServer() as hooks:
        subs = everything_subscriber(tmp_path / "config", hooks.address)
        notifier = Notifier(engine, subs, clock=lambda: now)
        ingest_documents(engine, docs(records), on_versions=notifier, now=lambda: now)
        sent = len(hooks.requests)
        with session_scope(engine) as session:
            rows = session.execute(select(Version).where(Version.superseded_at.is_(None))).scalars().all()
            for row in rows:  # what an earlier reading told: the same changes, an hour off in summer
                row.told = [
                    c | {"new": c["new"].replace("+02:00", "+01:00")} if isinstance(c.get("new"), str) else c
                    for c in row.changes
                ]
            procs = {row.procedure_id for row in rows}
        for _ in range(2):  # a rebuild, then the same rebuild again: one correction at most
            with session_scope(engine) as session:
                stats = IngestStats(procedures=set(procs))
                version(session, stats, now=now)
            notifier(stats.version_ids)
        assert len(hooks.requests) - sent == corrections
        if corrections:
            body = hooks.requests[-1].body.decode()
            assert "2016-04-29T12:00+02:00" in body or "29/04/2016 12:00" in body
        with session_scope(engine) as session:
            total = session.scalar(select(func.count()).select_from(Version).where(Version.revision > 0))
        assert total == corrections
