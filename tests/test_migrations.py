"""Migrations are the schema: the models and the migrated database must agree."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import tracker.models  # noqa: F401
from tracker.db import needs_upgrade, upgrade


def test_autogenerate_finds_no_difference(engine):
    from tracker.search import INDEX_TABLES  # the views' tables and full-text index: not SQLModel tables

    def ours(name, kind, parent):
        return not (kind == "table" and name in INDEX_TABLES)

    opts = {"compare_type": True, "include_name": ours}
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts=opts), SQLModel.metadata)
    assert diff == []


def test_upgrade_is_idempotent(engine):
    assert not needs_upgrade(engine)
    upgrade(engine)
    assert not needs_upgrade(engine)


def test_versions_made_before_notified_at_existed_count_as_notified(engine):
    """Migration 0004 must not make a deployment's whole history look owed to its subscribers."""
    from alembic import command
    from sqlalchemy import text

    from tests import corpus_path
    from tracker.db import alembic_config
    from tracker.pipeline import ingest_documents, unnotified
    from tracker.reader import documents_from_file

    chain = corpus_path("boamp_ods_api", "chains", "chain_20-157376_rectif_21-6545_rectif_21-8404.json")
    ingest_documents(engine, documents_from_file(chain), on_versions=lambda ids: None)  # a fan-out never run
    now = datetime.now(UTC)
    assert len(unnotified(engine, now=now, older_than=None)) == 3
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0003")
        assert connection.execute(text("SELECT count(*) FROM version")).scalar() == 3
    upgrade(engine)
    assert unnotified(engine, now=now, older_than=None) == []


def test_full_text_rows_written_before_and_after_migration_0007_are_indexed_once(sqlite_engine):
    """Before 0007 a trigger wrote the full-text rows (and 0006 indexes the procedures stored before it through
    the search stage); after it the search stage writes them: across the upgrade no row is indexed twice or lost."""
    from alembic import command
    from sqlalchemy import text

    from tests import corpus_path
    from tracker.db import alembic_config
    from tracker.pipeline import ingest_documents
    from tracker.reader import documents_from_file
    from tracker.search import Filters, search

    folder = corpus_path("boamp_ods_api", "chains")
    chains = sorted(folder.glob("*.json"))
    cfg = alembic_config(sqlite_engine.url.render_as_string(hide_password=False))
    with sqlite_engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0006")
    ingest_documents(sqlite_engine, [d for p in chains[:2] for d in documents_from_file(p)])
    with sqlite_engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0005")  # the index tables gone: 0006 rebuilds them from the stored versions
    upgrade(sqlite_engine)
    ingest_documents(sqlite_engine, [d for p in chains[2:] for d in documents_from_file(p)])
    with sqlite_engine.begin() as connection:
        connection.execute(text("INSERT INTO procedure_fts(procedure_fts, rank) VALUES ('integrity-check', 1)"))
        rows = connection.execute(text("SELECT count(*) FROM procedure_search")).scalar()
        assert rows and connection.execute(text("SELECT count(*) FROM procedure_fts")).scalar() == rows
        assert [p["id"] for p in search(connection, Filters(text="21-8404"), now=datetime.now(UTC))] == ["20-157376"]
