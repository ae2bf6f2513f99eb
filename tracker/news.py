"""What is news: the rule that decides whether a version is sent to anyone. Pure: no I/O, the clock is given.

A version is news when it was published within the window (``TRACKER_NEWS_WINDOW_DAYS``, 7 days by default),
or when its procedure still has a deadline ahead (a rectificatif fetched late, after a source outage, still
reaches the bidder), or when it is a correction of facts already told (``revision > 0``: those concern dates
still ahead). Any other version is history (a 2016 rectificatif loaded from an archive or a backfill is news to
nobody): it is recorded as told without a delivery. ``ingest``, ``backfill``, ``run`` and the workers apply
the rule through ``tracker.outbox.fan_out``; ``subscribers test`` replays every version whatever its age.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from tracker.values import from_json

#: the fields whose date, still ahead, makes any version of the procedure news
AHEAD_FIELDS = frozenset({"tender_deadline", "request_deadline", "questions_deadline", "site_visit", "opening_date"})
DEFAULT_WINDOW = timedelta(days=7)


def is_news(
    *,
    published: date | None,
    state: Mapping[str, Any] | None,
    now: datetime,
    window: timedelta = DEFAULT_WINDOW,
    revision: int = 0,
) -> bool:
    """Whether a version is news at ``now`` (see the module docstring)."""
    if revision > 0:
        return True
    if published is not None and published >= (now - window).date():
        return True
    return any(_ahead(moment, now) for moment in deadlines(state or {}))


def deadlines(state: Mapping[str, Any]) -> Iterator[date]:
    """The deadline-like dates of a version's state, the procedure's and every lot's."""
    holders = [state.get("fields") or {}, *((state.get("lots") or {}).values())]
    for holder in holders:
        if not isinstance(holder, Mapping):
            continue
        for name in AHEAD_FIELDS:
            value = from_json(holder.get(name))
            if isinstance(value, date):
                yield value


def _ahead(moment: date, now: datetime) -> bool:
    if isinstance(moment, datetime):
        return moment.tzinfo is not None and moment > now
    return moment >= now.date()
