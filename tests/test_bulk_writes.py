"""Bulk writes (tracker.db.bulk_insert): PostgreSQL's binary COPY written behind a batch's work (in order, waited
for by the connection's next use), its errors where the caller sees them, and the search vector made from the
row's words (migration 0008)."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from tests import corpus_path
from tests.conftest import _reset_postgres
from tracker.db import bulk_insert, make_engine, session_scope, upgrade
from tracker.documents import Document
from tracker.models import Document as DocumentRow
from tracker.notice import NoticeSnapshot
from tracker.parse.base import ParsedItem
from tracker.pipeline import ingest_documents
from tracker.reader import documents_from_file
from tracker.search import Filters, search

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def _document(n: int) -> dict[str, object]:
    content = f"document {n}".encode()
    return {
        "sha256": hashlib.sha256(content).hexdigest(),
        "source": "boamp",
        "locator": f"test#{n}",
        "media_type": "ods-record",
        "size": len(content),
        "content": content,
        "fetched_at": NOW,
        "processed_at": NOW,
    }


@pytest.fixture
def pg_engine(postgres_url: str) -> Iterator[Engine]:
    """A migrated, empty PostgreSQL database: rows are written behind there only (SQLite writes them at once)."""
    _reset_postgres(postgres_url)
    eng = make_engine(postgres_url)
    upgrade(eng)
    yield eng
    eng.dispose()


def test_rows_written_behind_are_there_for_the_next_statement(engine):
    with Session(engine) as session:
        bulk_insert(session.connection(), DocumentRow.__table__, [_document(n) for n in range(300)], behind=True)
        assert session.execute(select(func.count()).select_from(DocumentRow)).scalar_one() == 300
        row = session.execute(select(DocumentRow).where(col(DocumentRow.locator) == "test#7")).scalar_one()
        assert row.content == b"document 7" and row.fetched_at == NOW  # bytes and instants in their binary form
        session.commit()


def test_the_next_statement_waits_for_a_slow_stream(pg_engine, monkeypatch):
    """The first write given behind on a new connection, and the ones queued after it, are waited for."""
    import tracker.db

    real = tracker.db._copy

    def slow(*args):
        time.sleep(0.3)
        real(*args)

    monkeypatch.setattr(tracker.db, "_copy", slow)
    with Session(pg_engine) as session:
        conn = session.connection()
        bulk_insert(conn, DocumentRow.__table__, [_document(n) for n in range(50)], behind=True)
        assert len(conn.connection.info[tracker.db._PENDING]) == 1  # the connection's first: still owed
        bulk_insert(conn, DocumentRow.__table__, [_document(n) for n in range(50, 80)], behind=True)
        assert session.execute(select(func.count()).select_from(DocumentRow)).scalar_one() == 80
        session.commit()


def test_writes_queued_after_a_failed_one_are_not_tried(pg_engine):
    """The error raised is the first write's (the duplicate), not the aborted transaction's of those after it."""
    with session_scope(pg_engine) as session:
        bulk_insert(session.connection(), DocumentRow.__table__, [_document(1)])
    with pytest.raises(IntegrityError, match="sha256"), session_scope(pg_engine) as session:
        conn = session.connection()
        bulk_insert(conn, DocumentRow.__table__, [_document(1)], behind=True)
        bulk_insert(conn, DocumentRow.__table__, [_document(2)], behind=True)
        bulk_insert(conn, DocumentRow.__table__, [_document(3)], behind=True)
    with Session(pg_engine) as session:
        assert session.execute(select(func.count()).select_from(DocumentRow)).scalar_one() == 1


def test_a_failed_stream_fails_the_next_statement_and_loses_nothing_stored(pg_engine):
    with session_scope(pg_engine) as session:
        bulk_insert(session.connection(), DocumentRow.__table__, [_document(1)])
    with pytest.raises(IntegrityError), session_scope(pg_engine) as session:
        bulk_insert(session.connection(), DocumentRow.__table__, [_document(2), _document(1)], behind=True)
        session.execute(select(1))  # waits for the stream: the duplicate hash is reported here
    with Session(pg_engine) as session:
        assert list(session.execute(select(col(DocumentRow.locator))).scalars()) == ["test#1"]


def test_a_failed_stream_fails_the_commit(pg_engine):
    with session_scope(pg_engine) as session:
        bulk_insert(session.connection(), DocumentRow.__table__, [_document(1)])
    session = Session(pg_engine)
    bulk_insert(session.connection(), DocumentRow.__table__, [_document(1)], behind=True)
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()
    session.close()
    with session_scope(pg_engine) as again:  # the connection went back to the pool in a usable state
        assert again.execute(select(func.count()).select_from(DocumentRow)).scalar_one() == 1


def test_a_rollback_waits_for_the_stream_and_does_not_raise_its_error(pg_engine):
    with session_scope(pg_engine) as session:
        bulk_insert(session.connection(), DocumentRow.__table__, [_document(1)])
    with Session(pg_engine) as session:
        bulk_insert(session.connection(), DocumentRow.__table__, [_document(1)], behind=True)
        session.rollback()  # the transaction is given up anyway: its stream's error is not raised again
    with Session(pg_engine) as session:  # closed with a stream pending: the pool waits for it before reuse
        bulk_insert(session.connection(), DocumentRow.__table__, [_document(3)], behind=True)
    with session_scope(pg_engine) as session:
        assert session.execute(select(func.count()).select_from(DocumentRow)).scalar_one() == 1


def test_a_concurrent_writers_row_makes_the_batch_run_again(pg_engine, monkeypatch, caplog):
    """Another process stores the same document between this batch's check and its write: the stream written
    behind meets the unique constraint, the next statement reports it, and the pipeline runs the batch again,
    which finds the other's document (unchanged), stored once."""
    import tracker.store

    doc = Document("boamp", "test#26-1", b'{"idweb": "26-1"}', "ods-record")
    snap = NoticeSnapshot(
        source="boamp", notice_id="26-1", kind="initial", published=None, identifiers=[("idweb", "26-1")]
    )
    real, calls, missed = tracker.store._existing_shas, [], []

    def racing(session, model, shas):  # the batch's own check runs before the other process commits
        if model is DocumentRow:
            calls.append(True)
            if len(calls) == 2:  # the first looks before parsing, the second in the batch's transaction
                missed.append(True)
                other = _document(1) | {"sha256": doc.sha256, "locator": "other process"}
                with session_scope(pg_engine) as elsewhere:
                    bulk_insert(elsewhere.connection(), DocumentRow.__table__, [other])
                return set()
        return real(session, model, shas)

    monkeypatch.setattr(tracker.store, "_existing_shas", racing)
    with caplog.at_level(logging.INFO, logger="tracker.pipeline"):
        stats = ingest_documents(pg_engine, [ParsedItem(doc, [snap])])
    assert missed and (stats.stored, stats.unchanged) == (0, 1)
    assert "met IntegrityError; trying again" in caplog.text
    with Session(pg_engine) as session:
        assert list(session.execute(select(col(DocumentRow.locator))).scalars()) == ["other process"]


def test_a_word_too_long_to_index_does_not_stop_the_notice(engine):
    """PostgreSQL's search vector holds words of 2,047 bytes at most: a longer one (a pasted blob) is left out
    of the search row, and the notice is stored and found by its other words."""
    snap = NoticeSnapshot(
        source="boamp",
        notice_id="26-2",
        kind="initial",
        published=date(2026, 1, 5),
        identifiers=[("idweb", "26-2")],
        title="Maintenance des ascenseurs " + "x" * 3000,
        buyer="Commune de Loches",
    )
    stats = ingest_documents(engine, [ParsedItem(Document("boamp", "test#26-2", b"26-2", "ods-record"), [snap])])
    assert (stats.stored, stats.quarantined) == (1, 0)
    with Session(engine) as session:
        found = search(session, Filters(text="ascenseurs", buyer="loches"), now=NOW)
    assert [hit["id"] for hit in found] == ["26-2"]


def test_the_search_vector_holds_what_the_text_parser_found(pg_engine):
    """Migration 0008: the vector made of the row's words holds the lexemes of ``to_tsvector('simple', …)`` on
    every search row of the 500 real gigalis records."""
    path = corpus_path("boamp_ods_api", "gigalis_500_reconstructed_as_v21_results.json")
    ingest_documents(pg_engine, documents_from_file(path))
    parsed = "strip(to_tsvector('simple', coalesce(body, '') || ' ' || coalesce(facets, '')))"
    with Session(pg_engine) as session:
        total, same = session.execute(
            text(f"SELECT count(*), count(*) FILTER (WHERE tsv = {parsed}) FROM procedure_search")
        ).one()
    assert total > 400
    assert same == total
