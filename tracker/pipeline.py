"""The in-process pipeline: raw documents -> parsed -> stored, linked -> versioned and diffed, in batches.

Each stage is a plain function: ``tracker.parse`` (pure) reads documents, ``tracker.store`` keeps them and
links their notices into procedures, ``tracker.versioning`` (pure) plans the versions of the procedures
touched, and ``tracker.store.write_versions`` writes the plan, all in one transaction per batch.

``tracker ingest``, ``tracker poll`` and ``tracker run`` all go through :func:`ingest_documents`; the Celery
workers call the same stage functions one document at a time.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import logging
import multiprocessing
import os
import random
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session

from tracker.codec import pack
from tracker.db import refresh_statistics, session_scope
from tracker.documents import Document
from tracker.notice import NoticeRecord, NoticeSnapshot, snapshot_record
from tracker.parse import parse_item, parse_many
from tracker.parse.base import ParsedItem
from tracker.search import index_procedures, views_of
from tracker.store import (
    IngestStats,
    documents_by_procedure,
    ingest_batch,
    load_document,
    load_documents,
    mark_notified,
    quarantine,
    quarantined_ids,
    store_parsed,
    store_parsed_many,
    stored_documents,
    stranded_documents,
    unnotified_versions,
    unprocessed,
    update_procedures,
    versioning_inputs,
    versions_of_document,
    versions_of_documents,
    write_versions,
)
from tracker.values import clean_text
from tracker.versioning import plan_versions

log = logging.getLogger(__name__)

VersionHook = Callable[[list[int]], None]


def _batches(items: Iterable[Document | ParsedItem], size: int) -> Iterator[list[Document | ParsedItem]]:
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


def version(session: Session, stats: IngestStats, *, now: datetime, nobody_to_notify: bool = False) -> None:
    """Plan and write the versions of the procedures a store call touched (in its transaction).

    ``nobody_to_notify``: no subscriber is owed anything, so the versions are written already notified.
    """
    if not stats.procedures:
        return
    notices, stored = versioning_inputs(session, stats.procedures, records=stats.records, written=stats)
    plan = plan_versions(stats.procedures, notices, stored, now=now)
    created, updated, ids = write_versions(session, plan, now=now, notified=nobody_to_notify)
    # the views' search rows and deadlines (tracker.search), from the versions just planned
    index_procedures(session, stats.procedures, views=views_of(plan, notices))
    update_procedures(session, plan)
    stats.versions_created += created
    stats.versions_updated += updated
    stats.version_ids += ids


def _documents(batch: list[Document | ParsedItem]) -> list[Document]:
    return [item for item in batch if isinstance(item, Document)]


#: a batch at least this large makes the ingest parse in a second process, while this one stores
PARALLEL_FROM = 500


#: what the parse stage returns for a document: snapshots, the reason it failed, its content packed for storage
#: and its snapshots' records (when the parsing process made them)
Parsed = tuple[list[NoticeSnapshot], str | None, bytes | None, list[NoticeRecord] | None]


def parse_and_pack(documents: list[Document]) -> list[Parsed]:
    """:func:`tracker.parse.parse_many`, each document's content also compressed and its snapshots' records made
    as the store keeps them: what the parsing process does, so the storing one has less to do (the store makes
    what comes without them)."""
    with _fewer_collections():
        parsed = parse_many(documents)
        return [
            (snaps, error, pack(doc.content), [snapshot_record(s) for s in snaps])
            for doc, (snaps, error) in zip(documents, parsed, strict=True)
        ]


def _started() -> None:
    """A parsing process's first task: it is ready (``tracker.pipeline`` and the parsers are imported)."""


class _Parsing:
    """Parses the next batch in a second process while the current one is stored (2 cores: about twice the
    throughput of a large ingest). Small ingests, and machines with one core, parse in this process."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.pool: ProcessPoolExecutor | None = None

    def submit(self, documents: list[Document]) -> Future[list[Parsed]]:
        if self.pool is None and self.workers > 0 and len(documents) >= PARALLEL_FROM:
            self.pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))
            # a new process takes a second or two to start and import the parsers: it does so while this
            # batch is parsed here, and parses the next one
            self.pool.submit(_started)
            return self._here(documents)
        if self.pool is None:
            return self._here(documents)
        return self.pool.submit(parse_and_pack, documents)

    @staticmethod
    def _here(documents: list[Document]) -> Future[list[Parsed]]:
        done: Future[list[Parsed]] = Future()
        done.set_result([(snaps, error, None, None) for snaps, error in parse_many(documents)])
        return done

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)


def _parsed_batches(
    engine: Engine, documents: Iterable[Document | ParsedItem], batch_size: int, workers: int
) -> Iterator[tuple[list[Document | ParsedItem], list[ParsedItem]]]:
    """Batches with what the parse stage made of them, the next one parsing while the caller stores this one.

    A document stored before is not parsed again: the store counts it as unchanged."""
    parsing = _Parsing(workers)
    ahead: tuple[list[Document | ParsedItem], set[str], list[Document], Future[Any]] | None = None
    try:
        for batch in _batches(documents, batch_size):
            with session_scope(engine) as session:
                known = stored_documents(session, [d.sha256 for d in _documents(batch)])
            todo = [d for d in _documents(batch) if d.sha256 not in known]
            current = (batch, known, todo, parsing.submit(todo))
            if ahead is not None:
                yield ahead[0], _assemble(*ahead)
            ahead = current
        if ahead is not None:
            yield ahead[0], _assemble(*ahead)
    finally:
        parsing.close()


def _assemble(
    batch: list[Document | ParsedItem], known: set[str], todo: list[Document], future: Future[Any]
) -> list[ParsedItem]:
    try:
        results = future.result()
    except Exception:  # the parsing process died (memory, a signal): parse here, one document at a time
        results = [(snaps, error, None, None) for snaps, error in parse_many(todo)]
    parsed = {
        id(doc): ParsedItem(doc, snaps, error, packed, records)
        for doc, (snaps, error, packed, records) in zip(todo, results, strict=True)
    }
    out = [parsed.get(id(item), ParsedItem(item)) for item in _documents(batch)]
    return out + [item for item in batch if isinstance(item, ParsedItem)]


#: statistics are refreshed when an ingest has stored this many documents, then each time the count doubles
ANALYZE_FROM = 1000

#: the cyclic garbage collector's first threshold while an ingest runs (Python's default is 700). A batch
#: allocates hundreds of thousands of containers (records, rows, changes) that live until it is stored and are
#: then freed by reference counting; collecting every 700 allocations walks them again and again for nothing
#: (6–12 % of a 10,000-record ingest). Cycles are still collected, less often.
INGEST_GC_THRESHOLD = 50_000


@contextlib.contextmanager
def _fewer_collections() -> Generator[None, None, None]:
    before = gc.get_threshold()
    gc.set_threshold(max(before[0], INGEST_GC_THRESHOLD), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _default_parse_workers() -> int:
    configured = os.environ.get("TRACKER_PARSE_WORKERS", "").strip()
    if configured.isdigit():
        return min(int(configured), 8)
    return 1 if (os.cpu_count() or 1) > 1 else 0


def ingest_documents(
    engine: Engine,
    documents: Iterable[Document | ParsedItem],
    *,
    batch_size: int = 1000,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    progress: Callable[[int], None] | None = None,
    on_versions: VersionHook | None = None,
    parse_workers: int | None = None,
) -> IngestStats:
    """Parse and store documents batch by batch; each batch is one transaction.

    ``on_versions`` receives the ids of versions created or changed, after their batch is committed
    (enqueue only after commit). Without it there is nobody to notify: the versions owe no fan-out.
    ``parse_workers``: processes parsing ahead of the store for large inputs (default ``TRACKER_PARSE_WORKERS``,
    else 1 on a machine of several cores: 1,613 against 1,428 records/s on 2 idle cores).
    """
    workers = parse_workers if parse_workers is not None else _default_parse_workers()
    total = IngestStats()
    analyzed_at = ANALYZE_FROM
    with _fewer_collections():
        for batch, parsed in _parsed_batches(engine, documents, batch_size, workers):
            at = now()
            store = functools.partial(_store, at=at, nobody_to_notify=on_versions is None)
            stats = store_isolated(engine, parsed, store)
            total.add(stats)
            if total.stored >= analyzed_at:  # 1,000, 2,000, 4,000… notices: a few ANALYZE for any size
                refresh_statistics(engine)
                analyzed_at = 2 * total.stored
            if on_versions is not None and stats.version_ids:
                on_versions(stats.version_ids)
            if progress is not None:
                progress(len(batch))
    return total


def _store(session: Session, items: list[ParsedItem], at: datetime, nobody_to_notify: bool) -> IngestStats:
    stats = ingest_batch(session, items, now=at)
    version(session, stats, now=at, nobody_to_notify=nobody_to_notify)
    if nobody_to_notify and stats.version_ids:
        mark_notified(session, stats.version_ids, now=at)
    return stats


# ------------------------------------------------------------------ per-record isolation, busy databases

#: a batch meeting a busy database (SQLite locked, a PostgreSQL deadlock) or a concurrent writer's row (a unique
#: conflict: the other process stored it first) is run again this many times, the next attempt seeing what
#: the other one committed, before it is stored record by record
BATCH_ATTEMPTS = 6


def _busy(exc: BaseException) -> bool:
    """The database was busy or gone: try again later, never quarantine for it."""
    return isinstance(exc, OperationalError)


def _pause(attempt: int) -> None:
    time.sleep(min(0.05 * 2**attempt, 2.0) * (0.5 + random.random()))  # noqa: S311 - jitter, not a secret


Store = Callable[[Session, list[ParsedItem]], IngestStats]


def _quarantine_one(session: Session, items: list[ParsedItem]) -> IngestStats:
    return IngestStats(documents=len(items), quarantined=quarantine(session, items, datetime.now(UTC)))


def store_isolated(
    engine: Engine, items: list[ParsedItem], store: Store, refuse: Store = _quarantine_one
) -> IngestStats:
    """Store a batch in one transaction, the fast path. A busy database is waited for (backoff), a unique
    conflict with a concurrent writer retried (the next attempt finds the other's rows: "already stored");
    any other failure stores the batch record by record, each under a SAVEPOINT, and quarantines the record
    that fails with the reason (``refuse`` stores it so): the others are stored, never lost nor blocked by it."""
    for attempt in range(BATCH_ATTEMPTS):
        try:
            with session_scope(engine) as session:
                return store(session, items)
        except (OperationalError, IntegrityError) as exc:
            if attempt == BATCH_ATTEMPTS - 1 and _busy(exc):
                raise
            log.info("batch of %d record(s) met %s; trying again", len(items), type(exc).__name__)
            _pause(attempt)
        except Exception as exc:
            log.warning("a batch of %d record(s) failed (%s); storing them one by one", len(items), exc)
            break
    return _one_by_one(engine, items, store, refuse)


def _one_by_one(engine: Engine, items: list[ParsedItem], store: Store, refuse: Store) -> IngestStats:
    total = IngestStats()
    for attempt in range(BATCH_ATTEMPTS):
        try:
            with session_scope(engine) as session:
                total = IngestStats()
                for item in items:
                    total.add(_one(session, item, store, refuse))
            return total
        except OperationalError:
            if attempt == BATCH_ATTEMPTS - 1:
                raise
            _pause(attempt)
    return total


def _one(session: Session, item: ParsedItem, store: Store, refuse: Store) -> IngestStats:
    try:
        with session.begin_nested():
            return store(session, [item])
    except OperationalError:
        raise
    except Exception as exc:
        reason = clean_text(f"could not be stored: {type(exc).__name__}: {exc}", 2000)
        log.warning("%s: %s", item.document.locator, reason)
        failed = ParsedItem(item.document, error=reason)
        with session.begin_nested():
            return refuse(session, [failed])


def process_document(engine: Engine, document_id: int, *, now: datetime | None = None) -> list[int]:
    """Parse and store one saved document; return the ids of every version its notices made.

    Idempotent: a document already processed is not parsed again, and its versions are returned all
    the same, so a redelivered task still enqueues its follow-up work (derived from database state).
    """
    with session_scope(engine) as session:
        loaded = load_document(session, document_id)
        if loaded is None:
            return []
        raw, processed = loaded
        if not processed:
            at = now or datetime.now(UTC)
            version(session, store_parsed(session, document_id, parse_item(raw), now=at), now=at)
        return versions_of_document(session, document_id)


def process_documents(engine: Engine, document_ids: list[int], *, now: datetime | None = None) -> list[int]:
    """:func:`process_document` for many saved documents: one transaction and one link-and-rebuild per chunk
    (a poller's page; the embedded mode and the ``process_documents`` task)."""
    version_ids: list[int] = []
    for start in range(0, len(document_ids), 200):
        chunk = document_ids[start : start + 200]
        with session_scope(engine) as session:
            items = [(doc_id, parse_item(raw)) for doc_id, raw in unprocessed(session, chunk)]
        if items:
            at = now or datetime.now(UTC)
            store_saved(engine, items, at)
        with session_scope(engine) as session:
            version_ids += versions_of_documents(session, chunk)
    return list(dict.fromkeys(version_ids))


def store_saved(
    engine: Engine, items: list[tuple[int, ParsedItem]], at: datetime, *, nobody_to_notify: bool = False
) -> IngestStats:
    """Store what the parser made of saved documents (by id), isolated record by record on failure."""
    ids = {item.document.sha256: doc_id for doc_id, item in items}

    def store(session: Session, batch: list[ParsedItem]) -> IngestStats:
        stats = store_parsed_many(session, [(ids[it.document.sha256], it) for it in batch], now=at)
        version(session, stats, now=at, nobody_to_notify=nobody_to_notify)
        if nobody_to_notify and stats.version_ids:
            mark_notified(session, stats.version_ids, now=at)
        return stats

    return store_isolated(engine, [item for _, item in items], store, store)


def retry_quarantined(
    engine: Engine,
    *,
    batch_size: int = 200,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    on_versions: VersionHook | None = None,
) -> tuple[int, int]:
    """Read every quarantined record again from its kept document with today's parsers (``tracker quarantine
    --retry``, once the code is fixed): those read now leave quarantine and are stored, linked and versioned as
    an ingest would (``on_versions`` gets their versions after each commit); the others stay, with their latest
    reason. Return (read now, still quarantined)."""
    with session_scope(engine) as session:
        ids = quarantined_ids(session)
    read = 0
    for start in range(0, len(ids), batch_size):
        with session_scope(engine) as session:
            items = [
                (doc_id, parse_item(raw)) for doc_id, raw in load_documents(session, ids[start : start + batch_size])
            ]
        stats = store_saved(engine, items, now(), nobody_to_notify=on_versions is None)
        read += stats.stored
        if on_versions is not None and stats.version_ids:
            on_versions(stats.version_ids)
    return read, len(ids) - read


#: a saved document still unprocessed (or a version whose fan-out is still owed) after this long lost its task:
#: a poller's page whose task never reached the queue, a queue restarted without its data, retries exhausted
#: while the database was down
STRANDED_AFTER = timedelta(minutes=15)


def stranded(
    engine: Engine, *, now: datetime, older_than: timedelta | None = STRANDED_AFTER, limit: int = 1000
) -> list[int]:
    """Documents saved more than ``older_than`` ago (None: at any time) and never processed: to process
    again (idempotent)."""
    saved_before = None if older_than is None else now - older_than
    with session_scope(engine) as session:
        return stranded_documents(session, saved_before=saved_before, limit=limit)


def unnotified(
    engine: Engine, *, now: datetime, older_than: timedelta | None = STRANDED_AFTER, limit: int = 1000
) -> list[int]:
    """Versions made more than ``older_than`` ago (None: at any time) whose fan-out never ran: to fan out
    again (idempotent)."""
    created_before = None if older_than is None else now - older_than
    with session_scope(engine) as session:
        return unnotified_versions(session, created_before=created_before, limit=limit)


def mark_versions_notified(engine: Engine, version_ids: list[int], *, now: datetime) -> None:
    """No fan-out owed for these versions: there is nobody to notify."""
    with session_scope(engine) as session:
        mark_notified(session, version_ids, now=now)


def reparse_documents(
    engine: Engine,
    *,
    source: str | None = None,
    batch_size: int = 500,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    progress: Callable[[int, int], None] | None = None,
    on_versions: VersionHook | None = None,
) -> IngestStats:
    """Re-derive every stored notice (of one source, if given) from its kept raw document, with today's parsers.

    A procedure's documents are re-read in one batch (one transaction), so its versions are rebuilt once from
    notices all read the same way; a batch holds whole procedures, about ``batch_size`` documents. Versions
    whose content changed are updated in place, and ``on_versions`` gets their ids after each commit, as for
    ``tracker ingest``: the versioning stage decides what a subscriber is owed (a correction of a date still
    ahead). ``progress(done, total)`` is called after each batch. Quarantined records are not retried.
    """
    with session_scope(engine) as session:
        groups = documents_by_procedure(session, source=source)
    total, done, stats_total = sum(len(g) for g in groups), 0, IngestStats()
    for batch in _procedure_batches(groups, batch_size):
        at = now()
        with session_scope(engine) as session:
            items = [(doc_id, parse_item(raw)) for doc_id, raw in load_documents(session, batch)]
            stats = store_parsed_many(session, items, now=at)
            version(session, stats, now=at)
            if on_versions is None and stats.version_ids:
                mark_notified(session, stats.version_ids, now=at)
        stats_total.add(stats)
        if on_versions is not None and stats.version_ids:
            on_versions(stats.version_ids)
        done += len(batch)
        if progress is not None:
            progress(done, total)
    return stats_total


def _procedure_batches(groups: list[list[int]], size: int) -> Iterator[list[int]]:
    batch: list[int] = []
    for group in groups:
        if batch and len(batch) + len(group) > size:
            yield batch
            batch = []
        batch += group
    if batch:
        yield batch
