"""SQLite's full-text rows are written in bulk by the search stage, not by a trigger row by row

``tracker.search`` inserts the ``procedure_fts`` rows of the search rows it has just written with one
``executemany``: the ``AFTER INSERT`` trigger on ``procedure_search`` did the same work about twice as slowly
(an ingest's search index: 16,000 against 32,000 rows/s). Deletes and updates keep their triggers, so a row
removed by any path (a procedure merged away) still leaves the index. PostgreSQL is unchanged (a generated
``tsvector`` column).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 02:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INSERT_TRIGGER = (
    "CREATE TRIGGER procedure_search_ai AFTER INSERT ON procedure_search BEGIN "
    "INSERT INTO procedure_fts(rowid, body, facets) VALUES (new.procedure_id, new.body, new.facets); END"
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS procedure_search_ai")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(_INSERT_TRIGGER)
