"""The Celery application: Redis broker, JSON only, late acknowledgement, beat schedule from config.

Delivery guarantees: tasks are acknowledged after they ran (``acks_late``) and requeued when the worker
process dies (``reject_on_worker_lost``); a message taken by a worker that was killed outright is restored
to the queue once its visibility timeout (60 s) has passed, so it is redelivered within about a minute.
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
