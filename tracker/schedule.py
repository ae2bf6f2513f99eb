"""When each configured source is due: ``every: 30m`` or a five-field cron expression. Pure."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from tracker.config import SourceConfig, cron_sets

PARIS = ZoneInfo("Europe/Paris")
_YEAR_OF_MINUTES = 366 * 24 * 60


def next_cron(expression: str, after: datetime, *, zone: ZoneInfo = PARIS) -> datetime:
    """The first minute strictly after ``after`` that the expression allows (evaluated in ``zone``)."""
    minutes, hours, days, months, weekdays = cron_sets(expression)
    weekdays = {d % 7 for d in weekdays}  # cron: 0 and 7 are Sunday
    t = after.astimezone(zone).replace(second=0, microsecond=0) + timedelta(minutes=1)
    for _ in range(_YEAR_OF_MINUTES):
        if t.month not in months or t.day not in days or (t.isoweekday() % 7) not in weekdays:
            t = (t + timedelta(days=1)).replace(hour=0, minute=0)
            continue
        if t.hour not in hours:
            t = (t + timedelta(hours=1)).replace(minute=0)
            continue
        if t.minute in minutes:
            return t
        t += timedelta(minutes=1)
    raise ValueError(f"cron expression {expression!r} never fires")


def next_due(cfg: SourceConfig, last: datetime) -> datetime:
    if cfg.every is not None:
        return last + cfg.every
    assert cfg.cron is not None  # noqa: S101 - the config model requires exactly one of every/cron
    return next_cron(cfg.cron, last)
