"""The FETCH stage's vocabulary: :class:`Source`, :class:`Document`, :class:`FetchResult`, cursors.

A source fetches raw bytes and nothing else: no parsing of notices, no database. Its only memory
is the cursor the caller stores after each step::

    while True:
        result = source.fetch(cursor, now=now)
        store(result.documents)          # deduplicated by content hash, so re-emitting is harmless
        save_cursor(result.cursor)       # only once ALL the step's documents are stored
        cursor = result.cursor
        if result.done:
            break

Each step is bounded (one page, one day listing, one feed), so an interrupted poll resumes from
the last stored cursor and loses nothing.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, ClassVar, Generic, TypeVar
from zoneinfo import ZoneInfo

import httpx
from pydantic import BaseModel, ConfigDict

from tracker.documents import Document

__all__ = ["Cursor", "Document", "FetchResult", "Source", "SourceOptions", "next_day", "paris_date"]

Cursor = dict[str, Any]
"""JSON-serialisable resume point of a source, stored by the caller in the database."""

#: Publication dates of French notices are Paris dates.
PARIS = ZoneInfo("Europe/Paris")


@dataclass
class FetchResult:
    """What one :meth:`Source.fetch` step returns."""

    documents: list[Document]
    cursor: Cursor  # the cursor to store once ALL these documents are stored
    done: bool  # True: nothing more right now; False: call fetch again with the new cursor


class SourceOptions(BaseModel):
    """Base of every source's options: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


OptionsT = TypeVar("OptionsT", bound=SourceOptions)


class Source(abc.ABC, Generic[OptionsT]):
    """Fetch raw documents from one endpoint. No parsing, no database, no clock except ``now``."""

    kind: ClassVar[str]  # stable id used in config/sources.yaml and in the database
    options_model: ClassVar[type[SourceOptions]]
    default_parser: ClassVar[str]

    def __init__(self, name: str, options: OptionsT, client: httpx.Client) -> None:
        self.name = name
        self.options = options
        self.client = client

    @abc.abstractmethod
    def fetch(self, cursor: Cursor, *, now: datetime) -> FetchResult:
        """One bounded step (one page, one day window, one listing).

        The caller loops while not done, storing documents then the cursor after each step.
        Raises :class:`~tracker.exceptions.TransientError` (retry later) or
        :class:`~tracker.exceptions.PermanentError` (fix something first).
        """

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


def paris_date(now: datetime) -> date:
    """The calendar date in Paris at instant ``now`` (which must carry a time zone)."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware (for example datetime.now(UTC))")
    return now.astimezone(PARIS).date()


def next_day(day: date, *, today: date, overlap_days: int) -> tuple[date, bool]:
    """Where a day-windowed source goes after finishing ``day``, and whether the poll is done.

    Past days follow each other. After today, the cursor moves back ``overlap_days`` so that the
    next poll re-reads the days that are still being published (today and yesterday by default).
    """
    following = day + timedelta(days=1)
    if following <= today:
        return following, False
    return today - timedelta(days=overlap_days), True
