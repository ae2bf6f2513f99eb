"""Migrations are the schema: the models and the migrated database must agree."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import tracker.models  # noqa: F401
from tracker.db import needs_upgrade, upgrade


def test_autogenerate_finds_no_difference(engine):
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), SQLModel.metadata)
    assert diff == []


def test_upgrade_is_idempotent(engine):
    assert not needs_upgrade(engine)
    upgrade(engine)
    assert not needs_upgrade(engine)
