"""Thin tasks: deserialise ids, call one tracker function, enqueue the next step after its commit.

    poll_source(name) -> process_documents(document_ids of a page) -> fan_out_versions(version_ids)
                      -> deliver(delivery_id)

(``process_document`` and ``fan_out_version`` do the same for one id.)

Follow-up work is derived from database state (the versions of a document, the due deliveries of a
version), never from "did I just insert", so a redelivered task re-enqueues what its first run may not
have. Every step is idempotent under the unique constraints of tracker.models.
"""

from __future__ import annotations

import functools
import logging
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from tracker import outbox, pipeline
from tracker.config import load_sources
from tracker.db import make_engine
from tracker.exceptions import TransientError
from tracker.match import Matcher, settle_long_lived
from tracker.poll import budget_of
from tracker.poll import poll_source as poll
from tracker.settings import get_settings
from tracker.sources.http import make_client
from tracker.subscribers import Subscriber, load_subscribers, subscriber_files
from workers.app import STOP, app

log = logging.getLogger(__name__)

#: database races (two workers creating the same identifier) and outages are retried, not lost
RETRYABLE = (IntegrityError, OperationalError, DBAPIError, TransientError)


@functools.cache
def engine() -> Engine:
    return make_engine(get_settings().database_url)


def reset_engine() -> None:
    engine.cache_clear()


def now() -> datetime:
    return datetime.now(UTC)


_audience: tuple[tuple[tuple[str, int], ...], list[Subscriber], Matcher] | None = None


def audience() -> tuple[list[Subscriber], Matcher]:
    """The subscribers and their index, loaded once per worker process and again when a file changes:
    validating and indexing many subscribers costs far more than matching one version."""
    global _audience  # a per-process cache of the configuration
    files = subscriber_files(get_settings().config_dir)
    key = tuple((str(path), path.stat().st_mtime_ns) for path in files)
    if _audience is None or _audience[0] != key:
        subscribers = load_subscribers(get_settings().config_dir)
        _audience = (key, subscribers, Matcher(subscribers))
        settle_long_lived()
    return _audience[1], _audience[2]


@app.task(name="tracker.poll_source", autoretry_for=RETRYABLE, retry_backoff=True, max_retries=5)
def poll_source(name: str) -> int:
    settings = get_settings()
    cfg = load_sources(settings.config_dir).get(name)

    def enqueue(document_ids: list[int]) -> None:  # called after the step's commit: one task a page
        process_documents.delay(document_ids)

    with make_client(user_agent=settings.user_agent, timeout=settings.http_timeout) as client:
        report = poll(engine(), cfg, client=client, on_new=enqueue, budget=budget_of(cfg), stop=STOP)
    if report.error:
        log.warning("poll %s: %s", name, report.error)
    return len(report.new_ids)


@app.task(name="tracker.process_document", autoretry_for=RETRYABLE, retry_backoff=True, max_retries=8)
def process_document(document_id: int) -> int:
    version_ids = pipeline.process_document(engine(), document_id)
    for version_id in version_ids:
        fan_out_version.delay(version_id)
    return len(version_ids)


@app.task(name="tracker.process_documents", autoretry_for=RETRYABLE, retry_backoff=True, max_retries=8)
def process_documents(document_ids: list[int]) -> int:
    """A poller's page of documents in one transaction; their versions fanned out in one task."""
    version_ids = pipeline.process_documents(engine(), document_ids)
    if version_ids:
        fan_out_versions.delay(version_ids)
    return len(version_ids)


@app.task(name="tracker.fan_out_versions", autoretry_for=RETRYABLE, retry_backoff=True, max_retries=8)
def fan_out_versions(version_ids: list[int]) -> int:
    subscribers, matcher = audience()
    count = 0
    for version_id in version_ids:
        for delivery_id in outbox.fan_out(engine(), version_id, subscribers, now=now(), matcher=matcher):
            deliver.delay(delivery_id)
            count += 1
    return count


@app.task(name="tracker.fan_out_version", autoretry_for=RETRYABLE, retry_backoff=True, max_retries=8)
def fan_out_version(version_id: int) -> int:
    subscribers, matcher = audience()
    delivery_ids = outbox.fan_out(engine(), version_id, subscribers, now=now(), matcher=matcher)
    for delivery_id in delivery_ids:
        deliver.delay(delivery_id)
    return len(delivery_ids)


@app.task(name="tracker.deliver", autoretry_for=RETRYABLE, retry_backoff=True, max_retries=8)
def deliver(delivery_id: int) -> str:
    subscribers, _ = audience()
    return outbox.deliver(engine(), delivery_id, subscribers, now=now())


@app.task(name="tracker.recover")
def recover() -> int:
    """Work whose task was lost (see ``pipeline.STRANDED_AFTER``): documents saved but never processed, versions
    made but never fanned out. Both stages are idempotent, so a task that was only slow is not harmed."""
    documents = pipeline.stranded(engine(), now=now())
    versions = pipeline.unnotified(engine(), now=now())
    if documents or versions:
        log.warning("recovering %d unprocessed document(s), %d version(s) not notified", len(documents), len(versions))
    for start in range(0, len(documents), 200):
        process_documents.delay(documents[start : start + 200])
    for start in range(0, len(versions), 200):
        fan_out_versions.delay(versions[start : start + 200])
    return len(documents) + len(versions)


@app.task(name="tracker.deliver_due")
def deliver_due() -> int:
    """Retries and digests whose time has come."""
    ids = outbox.due_deliveries(engine(), now=now())
    for delivery_id in ids:
        deliver.delay(delivery_id)
    return len(ids)
