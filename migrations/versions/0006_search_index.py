"""The views' tables: a search row and the deadlines of every procedure, the database's own full-text index

* ``procedure_search``: one row per procedure, written by ``tracker.search.index_procedures`` after each
  versioning step: its text normalised (lower case, no accents), facet tokens (CPV prefixes, départements,
  sources, buyer words), status, publication and amendment days, and its matching facets as JSON.
* the full-text index over it: SQLite FTS5 (``procedure_fts``, external content, kept in step by triggers on
  ``procedure_search``), PostgreSQL a generated ``tsvector`` column with a GIN index.
* ``procedure_deadline``: every deadline of every lot (tenders, requests, questions, opening) with its previous
  value and a SEQUENCE derived from the versions, for ``upcoming`` and the calendars.
* ``view_secret``: the key that per-subscriber calendar tokens are derived from (made on first use).

A procedure deleted (merged into another) takes its rows with it: a trigger on ``procedure``, so no code path
can forget. Rows of procedures stored before this migration are written at upgrade.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-10 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE = (
    "CREATE VIRTUAL TABLE procedure_fts USING fts5(body, facets, content='procedure_search', "
    "content_rowid='procedure_id', tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER procedure_search_ai AFTER INSERT ON procedure_search BEGIN "
    "INSERT INTO procedure_fts(rowid, body, facets) VALUES (new.procedure_id, new.body, new.facets); END",
    "CREATE TRIGGER procedure_search_ad AFTER DELETE ON procedure_search BEGIN "
    "INSERT INTO procedure_fts(procedure_fts, rowid, body, facets) "
    "VALUES ('delete', old.procedure_id, old.body, old.facets); END",
    "CREATE TRIGGER procedure_search_au AFTER UPDATE ON procedure_search BEGIN "
    "INSERT INTO procedure_fts(procedure_fts, rowid, body, facets) "
    "VALUES ('delete', old.procedure_id, old.body, old.facets); "
    "INSERT INTO procedure_fts(rowid, body, facets) VALUES (new.procedure_id, new.body, new.facets); END",
    "CREATE TRIGGER procedure_views_gone AFTER DELETE ON procedure BEGIN "
    "DELETE FROM procedure_search WHERE procedure_id = old.id; "
    "DELETE FROM procedure_deadline WHERE procedure_id = old.id; END",
)

_POSTGRES = (
    "ALTER TABLE procedure_search ADD COLUMN tsv tsvector GENERATED ALWAYS AS "
    "(to_tsvector('simple', coalesce(body, '') || ' ' || coalesce(facets, ''))) STORED",
    "CREATE INDEX ix_procedure_search_tsv ON procedure_search USING gin (tsv)",
    "CREATE OR REPLACE FUNCTION procedure_views_gone() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "DELETE FROM procedure_search WHERE procedure_id = OLD.id; "
    "DELETE FROM procedure_deadline WHERE procedure_id = OLD.id; RETURN OLD; END $$",
    "CREATE TRIGGER procedure_views_gone AFTER DELETE ON procedure FOR EACH ROW EXECUTE FUNCTION procedure_views_gone()",
)


def upgrade() -> None:
    op.create_table(
        "procedure_search",
        sa.Column("procedure_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("display_id", sa.String(80), nullable=False),
        sa.Column("title", sa.Text()),
        sa.Column("buyer", sa.Text()),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("facets", sa.Text(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("first_published", sa.Date()),
        sa.Column("last_published", sa.Date()),
        sa.Column("last_amended", sa.Date()),
        sa.Column("amendments", sa.Integer(), nullable=False),
        sa.Column("info", sa.JSON(), nullable=False),
    )
    op.create_index("ix_procedure_search_last_published", "procedure_search", ["last_published"])
    op.create_index("ix_procedure_search_last_amended", "procedure_search", ["last_amended"])
    op.create_table(
        "procedure_deadline",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("procedure_id", sa.Integer(), nullable=False),
        sa.Column("lot", sa.String(120), nullable=False),
        sa.Column("lot_title", sa.Text()),
        sa.Column("field", sa.String(40), nullable=False),
        sa.Column("value", sa.String(40), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("all_day", sa.Boolean(), nullable=False),
        sa.Column("previous", sa.String(40)),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.String(80)),
        sa.Column("change_text", sa.Text()),
        sa.Column("reason", sa.Text()),
        sa.Column("cancelled", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_procedure_deadline_at", "procedure_deadline", ["at"])
    op.create_index("ix_procedure_deadline_procedure_id", "procedure_deadline", ["procedure_id"])
    op.create_table(
        "view_secret",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("value", sa.String(128), nullable=False),
    )
    bind = op.get_bind()
    for statement in _SQLITE if bind.dialect.name == "sqlite" else _POSTGRES:
        op.execute(statement)
    from tracker.search import reindex_all  # the rows of procedures stored before this migration

    reindex_all(bind)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for name in ("procedure_views_gone", "procedure_search_ai", "procedure_search_ad", "procedure_search_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS procedure_fts")
    else:
        op.execute("DROP TRIGGER IF EXISTS procedure_views_gone ON procedure")
        op.execute("DROP FUNCTION IF EXISTS procedure_views_gone()")
    op.drop_table("view_secret")
    op.drop_table("procedure_deadline")
    op.drop_table("procedure_search")
