"""version.notified_at: versions whose fan-out is owed can be found again if its task was lost

Existing versions are taken as notified (their fan-out ran, or there was nobody to notify when they were made).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 13:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("version", schema=None) as batch_op:
        batch_op.add_column(sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE version SET notified_at = updated_at")
    with op.batch_alter_table("version", schema=None) as batch_op:
        batch_op.create_index(
            "ix_version_unnotified",
            ["id"],
            unique=False,
            postgresql_where=sa.text("notified_at IS NULL"),
            sqlite_where=sa.text("notified_at IS NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("version", schema=None) as batch_op:
        batch_op.drop_index("ix_version_unnotified")
        batch_op.drop_column("notified_at")
