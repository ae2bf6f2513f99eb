"""Engines, sessions and migrations. The schema is made by Alembic only (``tracker db upgrade``)."""

from __future__ import annotations

import fcntl
import functools
import json
import os
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import orjson
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Connection,
    Date,
    DateTime,
    Engine,
    any_,
    bindparam,
    create_engine,
    event,
    inspect,
    text,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.expression import TableClause
from sqlmodel import Session

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers (CLI, workers) do not block the writer
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _json_dumps(value: Any) -> str:
    """JSON columns are written by orjson (the ingest's hot path); what it refuses, json writes as before."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(value)


_JSON = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}


def _postgres_settings(dbapi_connection: Any, _record: Any) -> None:
    # A statement run often (the ingest's lookups by identifier, by notice id, by hash: the same text for every
    # batch of 1,000) is prepared by psycopg after a few runs, and PostgreSQL may then plan it once for any
    # values: a generic plan that scans by the first column of a two-column key, slower as the table grows.
    # Planning each run for its values costs a fraction of a millisecond.
    cursor = dbapi_connection.cursor()
    cursor.execute("SET plan_cache_mode = force_custom_plan")
    cursor.close()
    dbapi_connection.commit()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **_JSON)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine  # rows given behind are written at once: SQLite gained nothing from a thread (measured)
    engine = create_engine(url, pool_pre_ping=True, **_JSON)
    if engine.dialect.name == "postgresql":
        event.listen(engine, "connect", _postgres_settings)
        _hook_write_behind(engine)
    return engine


def _processor(type_: Any, dialect: Any) -> Any:
    """The column type's bind processor; for a date or time, one that converts a value given again (the batch's
    ``now`` in every row) only once."""
    process = type_._cached_bind_processor(dialect)
    if process is None or type_._type_affinity not in (DateTime, Date):
        return process
    last: list[Any] = [None, None]

    def convert(value: Any) -> Any:
        if value is not last[0]:
            last[:] = [value, process(value)]
        return last[1]

    return convert


def dialect_name(bind: Session | Connection) -> str:
    return bind.dialect.name if isinstance(bind, Connection) else bind.get_bind().dialect.name


def among(bind: Session | Connection, column: Any, values: Iterable[Any]) -> ColumnElement[bool]:
    """``column IN (values)``; on PostgreSQL ``column = ANY(:values)``, one array parameter: the statement's text
    is then the same for any number of values, compiled once and parsed by the server without a thousand
    parameters (a lookup of 500 content hashes takes half the time)."""
    values = list(values)
    if dialect_name(bind) == "postgresql":
        return cast(ColumnElement[bool], column == any_(bindparam(None, values, type_=ARRAY(column.type))))
    return cast(ColumnElement[bool], column.in_(values))


#: the type OIDs of the JSON types: a binary ``COPY`` sends a ``json`` value as its text, a ``jsonb`` one as a
#: version byte (1) then its text
_JSON_OID, _JSONB_OID = 114, 3802
_BYTEA_OID = 17


_COPY_TYPES: weakref.WeakKeyDictionary[Engine, dict[str, dict[str, int]]] = weakref.WeakKeyDictionary()


def _column_types(conn: Connection, target: str, names: list[str]) -> list[int]:
    """The server's type of each column (OIDs): a binary ``COPY`` sends every value in its type's own binary
    form, which the server takes without parsing text (a document's content is sent as it is, not hex-encoded).
    Read from the catalogue, once per engine and table (again when a column is new to it): the schema is the
    migrations', whatever a model says, and a migration changes no column's type."""
    cache = _COPY_TYPES.setdefault(conn.engine, {})
    found = cache.get(target)
    if found is None or not set(names) <= found.keys():
        _await_pending(conn.connection.info)  # read on the connection: after the writes given behind
        raw: Any = conn.connection.driver_connection
        with raw.cursor() as cursor:
            cursor.execute(
                "SELECT attname, atttypid::int FROM pg_attribute"
                " WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped",
                (target,),
            )
            found = cache[target] = dict(cursor.fetchall())
    return [found[name] for name in names]


def _json_bytes(oid: int) -> Any:
    """A JSON column's values serialised here, sent as raw bytes (what the type's binary form is)."""
    prefix = b"\x01" if oid == _JSONB_OID else b""
    return lambda value: prefix + _json_dumps(value).encode()


# ---------------------------------------------------------------- rows written while the caller goes on

_WRITER = "tracker_writer"
_PENDING = "tracker_pending_writes"
_HOOKED: weakref.WeakSet[Engine] = weakref.WeakSet()


def _writer(info: dict[Any, Any]) -> ThreadPoolExecutor:
    """The connection's own writing thread: its writes run one after the other, in the order given. Made in the
    process that writes (a process forked from one that wrote has no threads: a Celery worker's child)."""
    pid, writer = info.get(_WRITER, (None, None))
    if pid != os.getpid() or writer is None:
        writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tracker-write")
        info[_WRITER] = (os.getpid(), writer)
        info.pop(_PENDING, None)
    return cast(ThreadPoolExecutor, writer)


def _write_behind(info: dict[Any, Any], write: Callable[[], None]) -> None:
    """Run ``write`` on the connection's thread after the writes already given; one that failed makes the later
    ones fail with its error, without touching the database."""
    writer = _writer(info)  # first: a new thread forgets the writes of a thread that is gone
    pending: list[Future[None]] = info.setdefault(_PENDING, [])
    before = pending[-1] if pending else None

    def run() -> None:
        if before is not None and (error := before.exception()) is not None:
            raise error
        write()

    pending.append(writer.submit(run))


def _await_pending(info: dict[Any, Any], *, raise_error: bool = True) -> None:
    """Wait for the connection's writes given behind, if any; the first one's error is raised here (the
    statement, the commit that follows fails with it) unless the transaction is being rolled back anyway."""
    pending: list[Future[None]] | None = info.pop(_PENDING, None)
    if not pending:
        return
    errors = [error for future in pending if (error := future.exception()) is not None]
    if errors and raise_error:
        raise errors[0]


def _hook_write_behind(engine: Engine) -> None:
    """Every use of a connection first waits for its writes given behind: statements, commits, rollbacks and
    the pool's reset when the connection is given back."""

    def before_execute(conn: Connection, *_args: Any) -> None:
        _await_pending(conn.connection.info)

    def before_commit(conn: Connection) -> None:
        _await_pending(conn.connection.info)

    def before_rollback(conn: Connection, *_args: Any) -> None:
        _await_pending(conn.connection.info, raise_error=False)

    def before_checkin(_dbapi_connection: Any, connection_record: Any) -> None:
        _await_pending(connection_record.info, raise_error=False)

    def before_reset(dbapi_connection: Any, connection_record: Any, reset_state: Any) -> None:
        before_checkin(dbapi_connection, connection_record)

    def before_close(_dbapi_connection: Any, connection_record: Any) -> None:
        before_checkin(_dbapi_connection, connection_record)
        _pid, writer = connection_record.info.pop(_WRITER, (None, None))
        if writer is not None:
            writer.shutdown(wait=False)

    event.listen(engine, "before_cursor_execute", before_execute)
    event.listen(engine, "commit", before_commit)
    event.listen(engine, "rollback", before_rollback)
    event.listen(engine, "rollback_savepoint", before_rollback)
    event.listen(engine.pool, "reset", before_reset)
    event.listen(engine.pool, "checkin", before_checkin)
    event.listen(engine.pool, "close", before_close)
    _HOOKED.add(engine)


def _copy(raw: Any, statement: str, types: list[int], rows: list[list[Any]], dialect: Any) -> None:
    try:
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            copy.set_types(types)
            for values in rows:
                copy.write_row(values)
    except dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(statement, None, exc, dialect.loaded_dbapi.Error, dialect=dialect) from exc


def _executemany(raw: Any, statement: str, rows: Iterable[list[Any]], dialect: Any) -> None:
    cursor = raw.cursor()
    try:
        cursor.executemany(statement, rows)
    except dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(statement, None, exc, dialect.loaded_dbapi.Error, dialect=dialect) from exc
    finally:
        cursor.close()


def bulk_insert(conn: Connection, table: TableClause, rows: Sequence[dict[str, Any]], *, behind: bool = False) -> None:
    """Insert rows of one shape (the same keys) in the connection's transaction, without reading anything back.

    PostgreSQL takes them by ``COPY … FROM STDIN`` in binary form: one stream, no statement per row to parse and
    plan, several times cheaper for the server than an ``INSERT`` per row. SQLite takes one prepared ``INSERT``
    run by the driver's ``executemany``. Values are converted by the columns' own types, as an ``INSERT`` through
    SQLAlchemy converts them, and a driver's error is raised as SQLAlchemy's (``IntegrityError``: a concurrent
    writer stored the row first, which the pipeline retries).

    ``behind`` (a PostgreSQL engine of :func:`make_engine`): the rows are converted here, then written by the
    connection's own thread while the caller goes on with its work (the database stores a batch's rows while
    its next rows are made); writes given behind run in order, and the connection's next statement, commit or
    rollback waits for them: a failed write fails that statement or commit.
    """
    if not rows:
        return
    dialect = conn.dialect
    info = conn.connection.info
    behind = behind and conn.engine in _HOOKED
    if not behind:
        _await_pending(info)
    names = list(rows[0])
    columns = ", ".join(dialect.identifier_preparer.quote(name) for name in names)
    target = dialect.identifier_preparer.format_table(table)
    raw: Any = conn.connection.driver_connection  # the session's own connection, in its transaction
    postgres = dialect.name == "postgresql"
    if postgres:
        types = _column_types(conn, target, names)
        processors = [
            _json_bytes(oid) if oid in (_JSON_OID, _JSONB_OID) else _processor(table.c[name].type, dialect)
            for name, oid in zip(names, types, strict=True)
        ]
        types = [_BYTEA_OID if oid in (_JSON_OID, _JSONB_OID) else oid for oid in types]  # bytes as they are
    else:
        processors = [_processor(table.c[name].type, dialect) for name in names]
    converted = [
        [v if v is None or p is None else p(v) for p, v in zip(processors, map(row.get, names), strict=True)]
        for row in rows
    ]
    if postgres:
        statement = f"COPY {target} ({columns}) FROM STDIN (FORMAT BINARY)"
        write = functools.partial(_copy, raw, statement, types, converted, dialect)
    else:
        statement = f"INSERT INTO {target} ({columns}) VALUES ({', '.join('?' * len(names))})"
        write = functools.partial(_executemany, raw, statement, converted, dialect)
    if behind:
        _write_behind(info, write)
    else:
        write()


#: the tables a large ingest grows and the columns it looks them up by: the planner needs their statistics (and
#: the tables' sizes, which any ANALYZE refreshes) to keep using their indexes
GROWN_TABLES = (
    "document (sha256, processed_at)",
    "notice (source, notice_id, procedure_id, document_id)",
    "identifier (scheme, value, procedure_id)",
    "procedure (id)",
    "version (procedure_id, notice_pk)",
    "procedure_search (procedure_id)",
    "procedure_deadline (procedure_id)",
)


def refresh_statistics(engine: Engine) -> None:
    """``ANALYZE`` the tables an ingest grows (PostgreSQL; SQLite plans by its indexes without statistics).
    Autovacuum does it in time on a server that runs it, but a large first ingest outgrows the statistics of
    its empty tables within seconds, and the lookups by two-column keys then scan."""
    if engine.dialect.name != "postgresql":
        return
    with engine.begin() as conn:
        conn.execute(text(f"ANALYZE {', '.join(GROWN_TABLES)}"))


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent). One process migrates at a time: two first runs on
    an empty database would both create the tables ("table document already exists"); the second waits, then
    finds the schema at the newest migration and does nothing."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with migration_lock(engine), engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")


#: the PostgreSQL advisory lock key of migrations (any constant shared by every tracker process)
MIGRATION_LOCK_KEY = 0x7472_6163_6B65_72  # "tracker"


@contextmanager
def migration_lock(engine: Engine) -> Iterator[None]:
    """Held while migrating: ``pg_advisory_lock`` on PostgreSQL, an exclusive file lock next to a SQLite file
    (``tracker.db.migrate.lock``), nothing for an in-memory database."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK_KEY})
                conn.commit()
        return
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:" or database.startswith("file:"):
        yield
        return
    with Path(f"{database}.migrate.lock").open("a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def needs_upgrade(engine: Engine) -> bool:
    script = ScriptDirectory.from_config(alembic_config(str(engine.url)))
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_heads()
    return set(current) != set(script.get_heads())


def ensure_schema(engine: Engine) -> None:
    if needs_upgrade(engine):
        upgrade(engine)  # under the migration lock: a concurrent first run may have migrated meanwhile


def has_tables(engine: Engine) -> bool:
    return bool(inspect(engine).get_table_names())


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session committed on success, rolled back on error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
