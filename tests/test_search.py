"""Search, upcoming deadlines and the changes feed (tracker.search), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, inspect, select, text
from sqlmodel import col

from tests import corpus_path
from tests.viewdata import cancellation_of, shifted_records, write_records
from tracker.db import session_scope
from tracker.history import find_procedure, history
from tracker.models import Procedure
from tracker.pipeline import ingest_documents
from tracker.reader import documents_from_file, iter_files
from tracker.search import (
    INDEX_TABLES,
    Filters,
    changes,
    parse_since,
    procedure_deadlines,
    reindex_all,
    scope_of,
    search,
    upcoming,
)
from tracker.subscribers import Subscriber

NOW = datetime.now(UTC)


def _ingest(engine: Engine, *paths) -> None:
    for path in iter_files(list(paths)):
        ingest_documents(engine, documents_from_file(path))


def corpus_files():
    """Every ODS record of the corpus: the 500 and the 20 records, then the chains."""
    folder = corpus_path("boamp_ods_api")
    return [
        folder / "gigalis_500_reconstructed_as_v21_results.json",
        folder / "ods_v21_response_2006_legacy_v110_20records__BOAMP_favoris.json",
        *sorted((folder / "chains").glob("*.json")),
    ]


@pytest.fixture
def corpus_db(engine):
    _ingest(engine, *corpus_files())
    return engine


def _ids(found) -> list[str]:
    return [p["id"] for p in found]


@pytest.mark.corpus
def test_search_informatique_amended(corpus_db):
    with session_scope(corpus_db) as s:
        found = search(s, Filters(text="informatique", amended_since=date(2015, 1, 1)), now=NOW)
        everything = search(s, Filters(text="informatique", limit=1000), now=NOW)
    assert {"18-100479", "20-40291"} <= set(_ids(found))
    assert all(p["last_amended"] and p["amendments"] > 0 for p in found)
    assert len(everything) > len(found)  # the filter is what keeps the unamended ones out


@pytest.mark.corpus
def test_search_ignores_accents_and_case_and_filters_by_facets(corpus_db):
    with session_scope(corpus_db) as s:
        assert "20-157376" in _ids(search(s, Filters(text="ÉNERGIES morbihan HÉBERGEMENT"), now=NOW))
        assert "20-157376" in _ids(search(s, Filters(text="hebergement", buyer="morbihan energies"), now=NOW))
        assert _ids(search(s, Filters(text="21-8404"), now=NOW)) == ["20-157376"]  # any identifier
        assert search(s, Filters(text="plateforme", dept="56"), now=NOW)
        assert not search(s, Filters(text="plateforme hebergement pcrs", dept="75"), now=NOW)
        in_cpv = search(s, Filters(cpv="72", limit=1000), now=NOW)
        assert in_cpv and all(any(c.startswith("72") for c in p["cpv"]) for p in in_cpv)
        assert all(p["status"] == "awarded" for p in search(s, Filters(status="awarded"), now=NOW))
        assert search(s, Filters(text="zzzzqqq"), now=NOW) == []


@pytest.mark.corpus
def test_search_goes_through_the_full_text_index(corpus_db):
    names = set(inspect(corpus_db).get_table_names())
    assert "procedure_search" in names
    with corpus_db.connect() as conn:
        if corpus_db.dialect.name == "sqlite":
            assert "procedure_fts" in names
            plan = conn.execute(
                text("EXPLAIN QUERY PLAN SELECT rowid FROM procedure_fts WHERE procedure_fts MATCH 'informatique*'")
            ).all()
            assert any("VIRTUAL TABLE INDEX" in str(row) for row in plan)
        else:
            conn.execute(text("SET enable_seqscan = off"))
            plan = conn.execute(
                text("EXPLAIN SELECT procedure_id FROM procedure_search WHERE tsv @@ to_tsquery('simple', 'a:*')")
            ).all()
            assert any("ix_procedure_search_tsv" in str(row) for row in plan)


@pytest.mark.corpus
def test_changes_feed_matches_history_and_pages(corpus_db):
    with session_scope(corpus_db) as s:
        page = changes(s, since=date(2000, 1, 1), limit=1000)
        assert page.cursor is None and page.items
        for item in page.items:
            proc = find_procedure(s, item["procedure"]["id"])
            assert proc is not None
            versions = {v["n"]: v for v in history(s, proc)["versions"]}
            assert versions[item["n"]] == {k: v for k, v in item.items() if k != "procedure"}
        first = changes(s, since=date(2000, 1, 1), limit=3)
        second = changes(s, since=date(2000, 1, 1), limit=3, cursor=first.cursor)
    assert first.cursor is not None and len(first.items) == 3
    assert [i["notice_id"] for i in first.items + second.items] == [i["notice_id"] for i in page.items[:6]]


def test_since_takes_a_day_or_a_duration():
    now = datetime(2026, 3, 10, 12, tzinfo=UTC)
    assert parse_since("2026-01-31", now=now) == date(2026, 1, 31)
    assert parse_since("2d", now=now) == date(2026, 3, 8)
    assert parse_since("1w", now=now) == date(2026, 3, 3)
    with pytest.raises(ValueError):
        parse_since("soon", now=now)


@pytest.mark.corpus
def test_upcoming_shows_the_moved_deadline_with_its_old_value(engine, tmp_path):
    paths = write_records(tmp_path, shifted_records("20-157376", ahead=3), "c")
    _ingest(engine, paths[0])
    with session_scope(engine) as s:
        before = [d for d in upcoming(s, now=NOW, days=30) if d["procedure"] == "20-157376"]
    tender = next(d for d in before if d["field"] == "tender_deadline")
    assert not tender["moved"] and tender["sequence"] == 0
    for path in paths[1:]:
        _ingest(engine, path)
    with session_scope(engine) as s:
        after = {d["field"]: d for d in upcoming(s, now=NOW, days=30) if d["procedure"] == "20-157376"}
        assert not upcoming(s, now=NOW, days=1)  # nothing tomorrow: the deadline moved a week on
    moved = after["tender_deadline"]
    assert moved["moved"] and moved["sequence"] == 1
    assert moved["previous"] == tender["value"]
    assert date.fromisoformat(moved["value"][:10]) == (NOW + timedelta(days=10)).date()
    assert "+7 jours" in moved["change"]
    assert after["opening_date"]["sequence"] == 1


@pytest.mark.corpus
def test_cancelled_procedure_leaves_upcoming_and_is_marked(engine, tmp_path):
    records = shifted_records("17-31381", ahead=4)
    paths = write_records(tmp_path, [*records, cancellation_of(records[0], idweb="17-99001")], "c")
    for path in paths:
        _ingest(engine, path)
    with session_scope(engine) as s:
        proc = find_procedure(s, "17-31381")
        assert proc is not None and proc.id is not None
        assert not [d for d in upcoming(s, now=NOW, days=60) if d["procedure"] == "17-31381"]
        assert all(d["cancelled"] for d in procedure_deadlines(s, proc.id))
        assert _ids(search(s, Filters(status="cancelled"), now=NOW)) == ["17-31381"]


@pytest.mark.corpus
def test_subscriber_scope_follow_and_profile(engine, tmp_path):
    _ingest(engine, *write_records(tmp_path, shifted_records("20-157376"), "a"))
    _ingest(engine, *write_records(tmp_path, shifted_records("17-31381"), "b"))
    follow = Subscriber(name="f", urls=("json://localhost",), follow=("21-6545",))
    profile = Subscriber(name="p", urls=("json://localhost",), profiles=({"departments": ["76"]},))
    with session_scope(engine) as s:
        assert {d["procedure"] for d in upcoming(s, now=NOW, days=60, scope=scope_of(follow))} == {"20-157376"}
        assert {d["procedure"] for d in upcoming(s, now=NOW, days=60, scope=scope_of(profile))} == {"17-31381"}


@pytest.mark.corpus
def test_merged_procedures_leave_no_index_rows_and_reindex_is_stable(engine, tmp_path):
    records = shifted_records("20-157376")
    # the rectificatif first: its own procedure, merged into the initial's when that one arrives
    _ingest(engine, *write_records(tmp_path, [records[1], records[0], records[2]], "m"))
    with session_scope(engine) as s:
        procs = set(s.execute(select(col(Procedure.id))).scalars())
        indexed = set(s.execute(text("SELECT procedure_id FROM procedure_search")).scalars())
        assert indexed == procs
        before = search(s, Filters(text="morbihan"), now=NOW)
        reindex_all(s)
        assert search(s, Filters(text="morbihan"), now=NOW) == before


def _fts_agrees_with_its_rows(session) -> None:
    """FTS5's own check of an external-content index against its content table (SQLite): every row indexed
    once, with the text it holds now."""
    if session.get_bind().dialect.name != "sqlite":
        return
    session.execute(text("INSERT INTO procedure_fts(procedure_fts, rank) VALUES ('integrity-check', 1)"))
    indexed = session.execute(text("SELECT count(*) FROM procedure_fts")).scalar()
    assert indexed == session.execute(text("SELECT count(*) FROM procedure_search")).scalar()


@pytest.mark.corpus
def test_the_full_text_rows_follow_writes_merges_and_reindexing(engine, tmp_path):
    """The search stage writes the full-text rows itself (migration 0007): after new procedures, a merge (a
    rectificatif first, its initial next), a re-ingest and a reindex, the index is the rows' and nothing twice."""
    records = shifted_records("20-157376")
    _ingest(engine, *write_records(tmp_path, [records[1]], "a"))
    _ingest(engine, *write_records(tmp_path, [records[0], records[2]], "b"), *corpus_files()[:1])
    with session_scope(engine) as s:
        _fts_agrees_with_its_rows(s)
        found = _ids(search(s, Filters(text="hebergement morbihan"), now=NOW))
        reindex_all(s)
        _fts_agrees_with_its_rows(s)
        assert _ids(search(s, Filters(text="hebergement morbihan"), now=NOW)) == found
        assert "20-157376" in found


def test_index_tables_are_named_for_the_schema_check():
    assert {"procedure_search", "procedure_deadline", "procedure_fts"} <= INDEX_TABLES
