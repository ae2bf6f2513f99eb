"""Batched linking (tracker.store): new procedures made many at a time, merges inside a batch and across
batches, re-ingest idempotence; the same procedures whatever the batch size or order, on both engines."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine, select
from sqlmodel import Session, col

from tracker.documents import Document
from tracker.models import Identifier, Notice, Procedure, Version
from tracker.notice import NoticeSnapshot
from tracker.parse.base import ParsedItem
from tracker.pipeline import ingest_documents

Groups = frozenset[frozenset[str]]


def _item(idweb: str, links: tuple[str, ...] = (), *, title: str = "Travaux") -> ParsedItem:
    kind = "rectificatif" if links else "initial"
    snap = NoticeSnapshot(
        source="boamp",
        notice_id=idweb,
        kind=kind,
        published=date(2024, 3, 1),
        identifiers=[("idweb", idweb)],
        links=[("idweb", x) for x in links],
        title=title,
        restatement=not links,
    )
    doc = Document("boamp", f"test#{idweb}", f"{idweb}|{'|'.join(links)}|{title}".encode(), "ods-record")
    return ParsedItem(doc, [snap])


def _groups(engine: Engine) -> Groups:
    """Notices per procedure, checked for consistency: identifiers and versions follow their notice."""
    with Session(engine) as session:
        by_proc: dict[int, set[str]] = {}
        proc_of: dict[int, int] = {}
        for pk, proc, nid in session.execute(select(col(Notice.id), col(Notice.procedure_id), col(Notice.notice_id))):
            by_proc.setdefault(proc, set()).add(nid)
            proc_of[pk] = proc
        for owner, proc in session.execute(select(col(Identifier.notice_pk), col(Identifier.procedure_id))):
            assert owner is None or proc_of[owner] == proc
        for notice_pk, proc in session.execute(select(col(Version.notice_pk), col(Version.procedure_id))):
            assert proc_of[notice_pk] == proc
        procedures = set(session.execute(select(col(Procedure.id))).scalars())
    assert procedures == set(by_proc), "a procedure without notices, or a notice without its procedure"
    return frozenset(frozenset(g) for g in by_proc.values())


# A-B-D meet through links (D claims X, a placeholder C links to), E alone, F links to E.
CHAIN = [
    _item("24-1"),
    _item("24-2", ("24-1",)),
    _item("24-3", ("24-9",)),
    _item("24-4", ("24-1", "24-9")),
    _item("24-5"),
    _item("24-9"),
    _item("24-6", ("24-5",)),
]
CHAIN_GROUPS = frozenset(
    {frozenset({"24-1", "24-2", "24-3", "24-4", "24-9"}), frozenset({"24-5", "24-6"})}
)  # fmt: skip


def test_many_new_procedures_in_one_batch(engine: Engine) -> None:
    items = [_item(f"24-{100_000 + i}") for i in range(2_500)]
    stats = ingest_documents(engine, items, batch_size=2_500)
    assert stats.stored == 2_500 and stats.versions_created == 2_500
    groups = _groups(engine)
    assert groups == frozenset(frozenset({it.snapshots[0].notice_id}) for it in items)
    with Session(engine) as session:
        shown = dict(session.execute(select(col(Procedure.id), col(Procedure.display_id))).all())
        for proc, nid in session.execute(select(col(Notice.procedure_id), col(Notice.notice_id))):
            assert shown[proc] == nid


def test_merges_inside_one_batch_match_one_at_a_time(engine: Engine) -> None:
    ingest_documents(engine, CHAIN, batch_size=100)
    assert _groups(engine) == CHAIN_GROUPS


def test_merges_across_batches_and_any_order(engine: Engine) -> None:
    for size in (1, 2, 3):
        ingest_documents(engine, list(reversed(CHAIN)) if size == 2 else CHAIN, batch_size=size)
    assert _groups(engine) == CHAIN_GROUPS


def test_a_later_batch_merges_two_stored_procedures(engine: Engine) -> None:
    ingest_documents(engine, [_item("24-11"), _item("24-12"), _item("24-13")], batch_size=10)
    assert len(_groups(engine)) == 3
    stats = ingest_documents(engine, [_item("24-14", ("24-11", "24-12")), _item("24-15")], batch_size=10)
    assert stats.linked == 1
    assert _groups(engine) == frozenset(
        {frozenset({"24-11", "24-12", "24-14"}), frozenset({"24-13"}), frozenset({"24-15"})}
    )


def test_reingest_changes_nothing(engine: Engine) -> None:
    first = ingest_documents(engine, CHAIN, batch_size=4)
    groups = _groups(engine)
    again = ingest_documents(engine, CHAIN, batch_size=4)
    assert again.unchanged == len(CHAIN) and again.stored == 0 and again.versions_created == 0
    assert first.versions_created > 0
    assert _groups(engine) == groups


def test_a_republished_notice_moves_with_its_links(engine: Engine) -> None:
    ingest_documents(engine, [_item("24-21"), _item("24-22")], batch_size=10)
    republished = _item("24-22", ("24-21",), title="Travaux, corrigé")
    stats = ingest_documents(engine, [republished, *(_item(f"24-{30 + i}") for i in range(5))], batch_size=10)
    assert stats.stored == 6
    assert frozenset({"24-21", "24-22"}) in _groups(engine)
    assert len(_groups(engine)) == 6


def test_bulk_rows_go_in_with_their_types_and_a_duplicate_is_sqlalchemys_integrity_error(engine):
    """``tracker.db.bulk_insert`` (COPY on PostgreSQL, the driver's executemany on SQLite): the rows read back
    as an ``INSERT`` would have written them (JSON, aware times, dates, booleans, NULL), in the caller's
    transaction; a duplicate key is raised as SQLAlchemy's IntegrityError, which the pipeline retries."""
    from datetime import UTC, datetime, timedelta, timezone

    import pytest
    from sqlalchemy.exc import IntegrityError

    from tracker.db import bulk_insert
    from tracker.search import DEADLINES, SEARCH

    paris = timezone(timedelta(hours=2))
    search_row = {
        "procedure_id": 7,
        "display_id": "26-1",
        "title": "Travaux l'été",
        "buyer": None,
        "body": "travaux l ete",
        "facets": "qd44",
        "status": "open",
        "first_published": date(2026, 6, 1),
        "last_published": date(2026, 6, 2),
        "last_amended": None,
        "amendments": 0,
        "info": {"title": "Travaux l'été", "cpv": ["45000000"]},
    }
    deadline = {
        "procedure_id": 7,
        "lot": "",
        "lot_title": None,
        "field": "tender_deadline",
        "value": "2026-06-24T12:00+02:00",
        "at": datetime(2026, 6, 24, 12, 0, tzinfo=paris),
        "all_day": False,
        "previous": None,
        "sequence": 1,
        "notice_id": "26-1",
        "change_text": None,
        "reason": None,
        "cancelled": False,
    }
    with engine.begin() as conn:
        bulk_insert(conn, SEARCH, [search_row])
        bulk_insert(conn, DEADLINES, [deadline])
    with engine.connect() as conn:
        got = conn.execute(select(SEARCH)).mappings().one()
        assert dict(got) == search_row
        at = conn.execute(select(DEADLINES.c.at, DEADLINES.c.all_day, DEADLINES.c.previous)).one()
        assert at == (datetime(2026, 6, 24, 10, 0, tzinfo=UTC), False, None)
    with pytest.raises(IntegrityError), engine.begin() as conn:
        bulk_insert(conn, SEARCH, [dict(search_row, display_id="26-2"), search_row])
    with engine.connect() as conn:  # the failed transaction left nothing
        assert conn.execute(select(SEARCH.c.display_id)).scalars().all() == ["26-1"]


def test_a_large_ingest_refreshes_the_planners_statistics_and_plans_each_lookup_for_its_values(engine):
    """PostgreSQL: a first ingest outgrows its empty tables' statistics within seconds (the notice lookup then
    scanned by source: 1,095 then 600 records/s over 50,000 records), so the ingest runs ANALYZE at 1,000 stored
    documents and each time the count doubles; each session plans its statements for their values."""
    from sqlalchemy import text

    from tracker.pipeline import ANALYZE_FROM

    items = [_item(f"26-{n}") for n in range(ANALYZE_FROM)]
    ingest_documents(engine, items, batch_size=500)
    if engine.dialect.name != "postgresql":
        return
    with engine.connect() as conn:
        assert conn.execute(text("SHOW plan_cache_mode")).scalar() == "force_custom_plan"
        analyzed = conn.execute(
            text(
                "SELECT relname FROM pg_stat_user_tables WHERE schemaname = current_schema() "
                "AND last_analyze IS NOT NULL"
            )
        ).scalars()
        assert {"document", "notice", "identifier", "procedure", "version"} <= set(analyzed)
