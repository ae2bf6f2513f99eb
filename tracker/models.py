"""All database tables. The schema itself is made by the Alembic migrations in ``migrations/``.

Idempotency lives here, in unique constraints: a raw document is stored once (``document.sha256``), a notice
once per source (``notice.source, notice.notice_id``), a version once per notice (``version.notice_pk``), an
identifier points at one procedure (``identifier.scheme, identifier.value``), a delivery is made once per
subscriber, channel and version (``delivery.dedup_key``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Dialect, Index, Integer, LargeBinary, UniqueConstraint, text
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class AwareDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes on every backend: SQLite forgets the offset, so store and read UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a timezone-aware column")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def _ts() -> Any:
    return Column(AwareDateTime(), nullable=False)


class Document(SQLModel, table=True):
    """A raw document as fetched or read, kept once (compressed: ``tracker.codec``) so any version can be rebuilt."""

    __tablename__ = "document"
    __table_args__ = (
        # the documents still to process: few at any time, found without reading the whole table
        Index(
            "ix_document_unprocessed",
            "id",
            postgresql_where=text("processed_at IS NULL"),
            sqlite_where=text("processed_at IS NULL"),
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    sha256: str = Field(max_length=64, unique=True)  # lookup by content on every ingest
    source: str = Field(max_length=64)
    locator: str
    media_type: str = Field(max_length=80)
    size: int
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    fetched_at: datetime = Field(sa_column=_ts())
    #: set once parsed (stored as notices, or quarantined); null while a worker has still to process it
    processed_at: datetime | None = Field(default=None, sa_column=Column(AwareDateTime()))


class Procedure(SQLModel, table=True):
    """One procurement procedure, across all its notices and sources."""

    __tablename__ = "procedure"
    id: int | None = Field(default=None, primary_key=True)
    display_id: str = Field(max_length=80)
    title: str | None = None
    buyer: str | None = None
    updated_at: datetime = Field(sa_column=_ts())


class Notice(SQLModel, table=True):
    """One publication (a BOAMP idweb, a TED notice), parsed into a snapshot record."""

    __tablename__ = "notice"
    __table_args__ = (
        UniqueConstraint("source", "notice_id", name="uq_notice_source_notice_id"),
        Index("ix_notice_procedure_id", "procedure_id"),  # rebuilding one procedure's versions
        Index("ix_notice_document_id", "document_id"),  # the versions a processed document made (follow-up work)
    )
    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=64)
    notice_id: str = Field(max_length=80)
    kind: str = Field(max_length=20)
    published: date | None = None
    procedure_id: int = Field(foreign_key="procedure.id")
    document_id: int = Field(foreign_key="document.id")
    record: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    received_at: datetime = Field(sa_column=_ts())


class Identifier(SQLModel, table=True):
    """(scheme, value) -> procedure. ``notice_pk`` is null for a link to a notice not seen yet."""

    __tablename__ = "identifier"
    __table_args__ = (
        UniqueConstraint("scheme", "value", name="uq_identifier_scheme_value"),
        Index("ix_identifier_procedure_id", "procedure_id"),  # merging procedures, listing identifiers
        Index("ix_identifier_value", "value"),  # `tracker history ID` without a scheme
    )
    id: int | None = Field(default=None, primary_key=True)
    scheme: str = Field(max_length=20)
    value: str = Field(max_length=120)
    procedure_id: int = Field(foreign_key="procedure.id")
    notice_pk: int | None = Field(default=None, foreign_key="notice.id")


class Version(SQLModel, table=True):
    """Version ``number`` of a procedure: its consolidated state after one notice, and what changed.

    Rows are never deleted (deliveries point at them): a version its notice no longer makes is superseded.
    """

    __tablename__ = "version"
    __table_args__ = (
        UniqueConstraint("notice_pk", name="uq_version_notice_pk"),
        Index("ix_version_procedure_id_number", "procedure_id", "number"),  # history in order
        # the versions whose fan-out is still owed: few at any time
        Index(
            "ix_version_unnotified",
            "id",
            postgresql_where=text("notified_at IS NULL"),
            sqlite_where=text("notified_at IS NULL"),
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    procedure_id: int = Field(foreign_key="procedure.id")
    notice_pk: int = Field(foreign_key="notice.id")
    number: int
    kind: str = Field(max_length=20)
    published: date | None = None
    state: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    changes: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    content_hash: str = Field(max_length=64)
    created_at: datetime = Field(sa_column=_ts())
    updated_at: datetime = Field(sa_column=_ts())
    #: set once the version went through fan-out (or there was nobody to notify); null while it is owed
    notified_at: datetime | None = Field(default=None, sa_column=Column(AwareDateTime()))
    #: set when its notice no longer makes a version (a later notice reshaped the history): kept, never deleted,
    #: since deliveries point at it; out of the history
    superseded_at: datetime | None = Field(default=None, sa_column=Column(AwareDateTime()))
    #: the changes as they were when fanned out: what subscribers were told
    told: list[dict[str, Any]] | None = Field(default=None, sa_column=Column(JSON))
    #: bumped when a correction is owed for a version already notified (a new delivery key)
    revision: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    #: facts corrected with this version: [{"field", "lot", "told", "now", "notice_id"}]
    corrections: list[dict[str, Any]] | None = Field(default=None, sa_column=Column(JSON))


class Quarantine(SQLModel, table=True):
    """A record that could not be read: kept with the reason, never blocking the rest."""

    __tablename__ = "quarantine"
    __table_args__ = (UniqueConstraint("sha256", name="uq_quarantine_sha256"),)
    id: int | None = Field(default=None, primary_key=True)
    sha256: str = Field(max_length=64)
    document_id: int | None = Field(default=None, foreign_key="document.id")
    source: str = Field(max_length=64)
    locator: str
    reason: str
    excerpt: str
    created_at: datetime = Field(sa_column=_ts())


class SourceState(SQLModel, table=True):
    """Per configured source: the cursor (advanced only after its documents are stored) and health."""

    __tablename__ = "source_state"
    name: str = Field(primary_key=True, max_length=64)
    kind: str = Field(max_length=32)
    cursor: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    last_success_at: datetime | None = Field(default=None, sa_column=Column(AwareDateTime()))
    last_error_at: datetime | None = Field(default=None, sa_column=Column(AwareDateTime()))
    last_error: str | None = None
    consecutive_failures: int = 0
    breaker: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class Delivery(SQLModel, table=True):
    """The outbox: one row per (subscriber, channel, version or digest); sent at most once."""

    __tablename__ = "delivery"
    __table_args__ = (
        UniqueConstraint("dedup_key", name="uq_delivery_dedup_key"),
        Index("ix_delivery_status_next_attempt_at", "status", "next_attempt_at"),  # the due-deliveries scan
    )
    id: int | None = Field(default=None, primary_key=True)
    dedup_key: str = Field(max_length=200)
    subscriber: str = Field(max_length=100)
    channel: str = Field(max_length=64)  # sha256 prefix of the channel URL: the URL itself stays in config
    channel_label: str  # the masked URL, for display
    version_id: int | None = Field(default=None, foreign_key="version.id")
    digest_key: str | None = Field(default=None, max_length=80)
    status: str = Field(max_length=16)  # pending | sending | sent | failed | dead
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_column=_ts())
    sent_at: datetime | None = Field(default=None, sa_column=Column(AwareDateTime()))
    last_error: str | None = None
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(sa_column=_ts())
