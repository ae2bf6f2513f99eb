"""The Celery application: Redis broker, JSON only, late acknowledgement, beat schedule from config.

Delivery guarantees: tasks are acknowledged after they ran (``acks_late``) and requeued when the worker
process dies (``reject_on_worker_lost``); a message taken by a worker that was killed outright is restored
to the queue once its visibility timeout (60 s) has passed — abandoned messages are looked for every 10 s — so
it is redelivered within about 70 seconds.
Every task is idempotent (database unique constraints), so a redelivery is harmless.

Logging goes through :mod:`tracker.logs` (``TRACKER_LOG_LEVEL``; secrets masked in every record, Celery's and
the libraries' included). A warm shutdown (SIGTERM) sets :data:`STOP`: a poll under way ends its request at once
and leaves its last committed step and cursor as they are; every poll is bounded by its source's budget anyway.
"""

from __future__ import annotations

import logging
import threading

from celery import Celery
from celery.signals import after_setup_logger, after_setup_task_logger, worker_process_init, worker_shutting_down

from tracker.logs import configure, protect
from tracker.settings import get_settings
from workers.schedule import beat_schedule

VISIBILITY_TIMEOUT = 60

#: set when the worker shuts down: polls under way stop (tracker.sources.http.bounded)
STOP = threading.Event()

settings = get_settings()

app = Celery("tracker", include=["workers.tasks"])
app.conf.update(
    broker_url=settings.redis_url,
    task_serializer="json",
    accept_content=["json"],
    result_serializer="json",
    task_ignore_result=True,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    task_acks_on_failure_or_timeout=True,
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
    broker_transport_options={
        "visibility_timeout": VISIBILITY_TIMEOUT,
        "unacked_restore_limit": 100,
        # look for abandoned messages every 10 s (kombu's default sweeps every 10 s but scans Redis only on
        # every 10th sweep: up to 100 s on top of the visibility timeout)
        "unacked_restore_interval": 10,
        "unacked_restore_throttle": 1,
        # the lock taken to restore them: one left by a killed worker must not block the restore for 5 minutes
        "unacked_mutex_expire": VISIBILITY_TIMEOUT,
    },
    task_default_queue="tracker",
    timezone="Europe/Paris",
    enable_utc=True,
    worker_hijack_root_logger=False,
    beat_schedule=beat_schedule(),
)


@worker_process_init.connect
def _fresh_connections(**_kwargs: object) -> None:
    """A forked worker process must not share the parent's database connections."""
    from workers import tasks

    configure(settings.log_level)
    tasks.reset_engine()


@after_setup_logger.connect
@after_setup_task_logger.connect
def _masked_logs(logger: logging.Logger | None = None, **_kwargs: object) -> None:
    """Celery's own handlers get the masking filter too."""
    configure(settings.log_level)
    if logger is not None:
        protect(logger)


@worker_shutting_down.connect
def _stop_polls(**_kwargs: object) -> None:
    STOP.set()
