"""Polling a configured source: fetch step by step, keep what is new, advance the cursor.

Each step's documents and the cursor that covers them are committed together, so an interrupted poll
resumes where it stopped and loses nothing (a document fetched twice is stored once). New document ids
are handed to ``on_new`` only after their commit: the caller processes them in-process (embedded mode)
or enqueues one task per id (workers).

A failing source records its error and opens its circuit breaker; it never stops the other sources.

Time is bounded: a poll runs within its ``budget`` (``budget:`` in sources.yaml, 15 minutes by default) and
every request within its own deadline (:func:`tracker.sources.http.bounded`); when the budget runs out between
steps the poll stops there, cleanly, and the next one resumes from the cursor. A ``stop`` event (SIGINT/SIGTERM)
ends the request under way within a fraction of a second; what was committed stays, nothing half-done does.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, select
from sqlmodel import Session, col

from tracker.config import SourceConfig
from tracker.db import session_scope
from tracker.exceptions import FetchError, TrackerError
from tracker.models import SourceState
from tracker.sources.http import CircuitBreaker, StoppedError, bounded, current_bounds
from tracker.store import save_documents

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

NewDocuments = Callable[[list[int]], None]
Clock = Callable[[], datetime]


@dataclass
class PollReport:
    name: str
    steps: int = 0
    fetched: int = 0
    new_ids: list[int] = field(default_factory=list)
    error: str | None = None
    cursor: dict[str, Any] = field(default_factory=dict)
    stopped: bool = False  # a stop was asked for, or the budget ran out: the next poll resumes from the cursor

    @property
    def ok(self) -> bool:
        return self.error is None


def _state(session: Session, cfg: SourceConfig) -> SourceState:
    state = session.get(SourceState, cfg.name)
    if state is None:
        state = SourceState(name=cfg.name, kind=cfg.kind, cursor={}, breaker={})
        session.add(state)
        session.flush()
    return state


def source_states(session: Session) -> list[SourceState]:
    return list(session.execute(select(SourceState).order_by(col(SourceState.name))).scalars())


def _record(engine: Engine, name: str, *, now: datetime, breaker: CircuitBreaker, error: str | None) -> None:
    with session_scope(engine) as session:
        state = session.get(SourceState, name)
        if state is None:
            return
        state.breaker = breaker.to_dict()
        if error is None:
            state.last_success_at = now
            state.consecutive_failures = 0
        else:
            state.last_error_at = now
            state.last_error = error[:2000]
            state.consecutive_failures += 1


def poll_source(
    engine: Engine,
    cfg: SourceConfig,
    *,
    client: httpx.Client,
    clock: Clock = lambda: datetime.now(UTC),
    on_new: NewDocuments | None = None,
    max_steps: int | None = None,
    progress: Callable[[PollReport], None] | None = None,
    should_stop: Callable[[dict[str, Any]], bool] | None = None,
    budget: float | None = None,
    stop: threading.Event | None = None,
    lock: AbstractContextManager[Any] | None = None,
) -> PollReport:
    """Poll one source until it has nothing more (or ``max_steps``); never raises for a fetch failure.

    ``budget`` (seconds) bounds the whole poll, ``stop`` ends it early; ``lock``, when given, is held while a
    step's documents are stored and handed to ``on_new`` (the embedded service polls sources in threads).
    """
    report = PollReport(cfg.name)
    guard = lock if lock is not None else nullcontext()
    with guard, session_scope(engine) as session:
        state = _state(session, cfg)
        cursor, breaker_data = dict(state.cursor), dict(state.breaker)
    breaker = CircuitBreaker.from_dict(cfg.name, breaker_data)
    report.cursor = cursor
    try:
        breaker.check(clock())
        source = cfg.build(client)
        with bounded(budget, stop=stop):
            _steps(engine, cfg, source, cursor, report, guard, clock, on_new, max_steps, progress, should_stop)
    except StoppedError as exc:
        report.error, report.stopped = str(exc), True
        log.warning("source %s: stopped; the next poll resumes from the stored cursor", cfg.name)
    except (FetchError, TrackerError) as exc:
        report.error = str(exc)
        breaker.record_failure(clock())
        log.warning("source %s failed: %s", cfg.name, report.error)
    else:
        breaker.record_success()
    if report.error is None or not report.stopped:  # a stop is neither a success nor a failure of the source
        with guard:
            _record(engine, cfg.name, now=clock(), breaker=breaker, error=report.error)
    return report


def _steps(
    engine: Engine,
    cfg: SourceConfig,
    source: Any,
    cursor: dict[str, Any],
    report: PollReport,
    guard: AbstractContextManager[Any],
    clock: Clock,
    on_new: NewDocuments | None,
    max_steps: int | None,
    progress: Callable[[PollReport], None] | None,
    should_stop: Callable[[dict[str, Any]], bool] | None,
) -> None:
    """Fetch, store and hand over step after step; ``report.cursor`` is the last stored cursor."""
    while max_steps is None or report.steps < max_steps:
        now = clock()
        result = source.fetch(cursor, now=now)
        raws = list(result.documents)
        with guard:
            with session_scope(engine) as session:
                ids = save_documents(session, raws, now=now)
                _state(session, cfg).cursor = result.cursor
            cursor = report.cursor = result.cursor
            report.steps += 1
            report.fetched += len(raws)
            report.new_ids += ids
            if on_new is not None and ids:
                on_new(ids)
        if progress is not None:
            progress(report)
        if result.done or (should_stop is not None and should_stop(cursor)):
            break
        if _out_of_time():
            report.stopped = True
            log.warning(
                "source %s: poll budget used up after %d step(s); resumes from the cursor", cfg.name, report.steps
            )
            break


def _out_of_time() -> bool:
    bounds = current_bounds()
    remaining = bounds.remaining()
    return (bounds.stop is not None and bounds.stop.is_set()) or (remaining is not None and remaining <= 0)


def budget_of(cfg: SourceConfig) -> float:
    """The poll budget of a configured source, in seconds."""
    return cfg.budget.total_seconds()
