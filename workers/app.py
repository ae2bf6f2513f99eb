"""The Celery application: Redis broker, JSON only, late acknowledgement, beat schedule from config.

Delivery guarantees: tasks are acknowledged after they ran (``acks_late``) and requeued when the worker
process dies (``reject_on_worker_lost``); a message taken by a worker that was killed outright is restored
to the queue once its visibility timeout (60 s) has passed — abandoned messages are looked for every 10 s — so
it is redelivered within about 70 seconds.
Every task is idempotent (database unique constraints), so a redelivery is harmless.
"""

from __future__ import annotations

from celery import Celery
from celery.signals import worker_process_init

from tracker.settings import get_settings
from workers.schedule import beat_schedule

VISIBILITY_TIMEOUT = 60

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

    tasks.reset_engine()
