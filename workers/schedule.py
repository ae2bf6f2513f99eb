"""Beat entries built from config/sources.yaml: one poll per source, expiring before its next run."""

from __future__ import annotations

from typing import Any

from celery.schedules import crontab, schedule

from tracker.config import load_sources
from tracker.settings import get_settings

DELIVERY_SWEEP_SECONDS = 30.0
RECOVERY_SWEEP_SECONDS = 300.0


def beat_schedule() -> dict[str, dict[str, Any]]:
    """Fails fast on an invalid configuration: a silently missing source means missed amendments."""
    sources = load_sources(get_settings().config_dir)
    entries: dict[str, dict[str, Any]] = {}
    for cfg in sources.enabled:
        if cfg.every is not None:
            seconds = cfg.every.total_seconds()
            when: Any = schedule(run_every=seconds)
        else:
            minute, hour, day, month, weekday = (cfg.cron or "* * * * *").split()
            when = crontab(minute=minute, hour=hour, day_of_month=day, month_of_year=month, day_of_week=weekday)
            seconds = 60.0
        entries[f"poll {cfg.name}"] = {
            "task": "tracker.poll_source",
            "schedule": when,
            "args": (cfg.name,),
            "options": {"expires": max(10.0, 0.9 * seconds)},
        }
    entries["deliver due"] = {
        "task": "tracker.deliver_due",
        "schedule": schedule(run_every=DELIVERY_SWEEP_SECONDS),
        "options": {"expires": DELIVERY_SWEEP_SECONDS * 0.9},
    }
    entries["recover lost work"] = {
        "task": "tracker.recover",
        "schedule": schedule(run_every=RECOVERY_SWEEP_SECONDS),
        "options": {"expires": RECOVERY_SWEEP_SECONDS * 0.9},
    }
    return entries
