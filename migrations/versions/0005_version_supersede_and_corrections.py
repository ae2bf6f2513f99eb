"""Notified history is never destroyed: versions are superseded, not deleted; what subscribers were told is kept

* ``version.superseded_at``: a notice that no longer makes a version (a later notice reshaped the history) keeps
  its row, marked, out of the history: deliveries still point at it.
* ``version.told``: the changes as they were when the version was fanned out, to find what subscribers were told
  that is now wrong. Versions already notified told their current changes.
* ``version.revision`` and ``version.corrections``: a correction owed about a date still ahead bumps the revision
  (a new delivery key) and lists the facts corrected.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 22:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("version", schema=None) as batch_op:
        batch_op.add_column(sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("told", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("revision", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("corrections", sa.JSON(), nullable=True))
    op.execute("UPDATE version SET told = changes WHERE notified_at IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("version", schema=None) as batch_op:
        batch_op.drop_column("corrections")
        batch_op.drop_column("revision")
        batch_op.drop_column("told")
        batch_op.drop_column("superseded_at")
