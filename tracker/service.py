"""The embedded default: every stage in this process, on a SQLite file, no server to start.

The same stage functions as the Celery workers (``poll_source`` → ``process_documents`` → fan-out →
deliver), called in-process: both modes give the same results.

Each source is polled by a thread of its own, within its budget, so one slow or stuck source never delays the
others; what touches the database (storing a step, processing, notifying) runs under one lock, one thing at a
time. SIGINT and SIGTERM set :attr:`Embedded.stop`: requests under way end at once, and ``run`` returns within
:data:`STOP_GRACE` seconds, leaving every committed step and its cursor as they are.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import FrameType
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from tracker.config import SourceConfig, SourcesConfig
from tracker.db import session_scope
from tracker.models import SourceState
from tracker.pipeline import mark_versions_notified, process_documents, stranded, unnotified
from tracker.poll import PollReport, budget_of, poll_source
from tracker.schedule import next_due
from tracker.sources.http import CircuitBreaker

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

VersionHook = Callable[[list[int]], None]
#: told of each poll of ``run_forever``: its report, and when that source is polled next
ReportHook = Callable[[PollReport, datetime], None]
_RECOVERY_BATCH = 1000

#: after a stop, how long ``run`` waits for the sources' threads to finish what they are doing
STOP_GRACE = 5.0


@dataclass
class Embedded:
    engine: Engine
    sources: SourcesConfig
    client: httpx.Client
    on_versions: VersionHook | None = None
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def close(self) -> None:
        self.client.close()

    def handle_new(self, document_ids: list[int]) -> None:
        self.handle_versions(process_documents(self.engine, document_ids))

    def handle_versions(self, version_ids: list[int]) -> None:
        if not version_ids:
            return
        if self.on_versions is not None:
            self.on_versions(version_ids)
        else:
            mark_versions_notified(self.engine, version_ids, now=self.clock())

    def poll(self, cfg: SourceConfig, *, progress: Callable[[PollReport], None] | None = None) -> PollReport:
        """One poll of one source within its budget; a stop (signal) ends it early."""
        self._install_signals()
        return poll_source(
            self.engine,
            cfg,
            client=self.client,
            clock=self.clock,
            on_new=self.handle_new,
            progress=progress,
            budget=budget_of(cfg),
            stop=self.stop,
            lock=self.lock,
        )

    def recover(self) -> int:
        """Finish what an earlier run left undone when it stopped: documents saved but not processed, versions
        made but not notified. In this mode nothing else is working on them, whatever their age."""
        documents = self._drain(
            lambda: stranded(self.engine, now=self.clock(), older_than=None, limit=_RECOVERY_BATCH),
            self.handle_new,
            "processing %d saved document(s) an earlier run left unprocessed",
        )
        versions = self._drain(
            lambda: unnotified(self.engine, now=self.clock(), older_than=None, limit=_RECOVERY_BATCH),
            self.handle_versions,
            "notifying %d version(s) an earlier run stopped before notifying",
        )
        return documents + versions

    @staticmethod
    def _drain(find: Callable[[], list[int]], handle: Callable[[list[int]], None], message: str) -> int:
        """Handle what ``find`` returns, a batch at a time, until a batch comes back short."""
        total = 0
        while ids := find():
            log.warning(message, len(ids))
            handle(ids)
            total += len(ids)
            if len(ids) < _RECOVERY_BATCH:
                break
        return total

    def run_once(self) -> list[PollReport]:
        """One poll of every enabled source, each in its own thread; a failing or slow source never stops or
        delays the others. Reports come in the configuration's order (a source stopped early has none)."""
        self._install_signals()
        with self.lock:
            self.recover()
        reports: dict[str, PollReport] = {}

        def one(cfg: SourceConfig) -> None:
            reports[cfg.name] = self.poll(cfg)

        self._wait_for([self._thread(one, cfg) for cfg in self.sources.enabled])
        return [reports[cfg.name] for cfg in self.sources.enabled if cfg.name in reports]

    def run_forever(self, *, on_report: ReportHook | None = None) -> None:
        """Poll each source when it is due, each in its own thread, until SIGINT/SIGTERM or ``stop`` is set.

        ``on_report`` receives each poll's report and when that source is polled next (:meth:`next_poll`)."""
        self._install_signals()
        with self.lock:
            self.recover()
        threads = [self._thread(self._watch, cfg, on_report) for cfg in self.sources.enabled]
        self._wait_for(threads)

    def _watch(self, cfg: SourceConfig, on_report: ReportHook | None) -> None:
        """One source's schedule: poll when due, report, wait for the next time, until stopped."""
        due = self.next_poll(cfg, None)
        while not self.stop.is_set():
            wait = (due - self.clock()).total_seconds()
            if wait > 0:
                self.stop.wait(min(wait, 60))
                continue
            report: PollReport | None = None
            try:
                report = self.poll(cfg)
            except Exception:  # a bug in one source's stages must not end the others' polling
                log.exception("source %s: poll failed unexpectedly; next poll on schedule", cfg.name)
            due = self.next_poll(cfg, self.clock())
            if report is not None and on_report is not None and not self.stop.is_set():
                try:
                    with self.lock:
                        on_report(report, due)
                except Exception:
                    log.exception("source %s: reporting the poll failed; next poll on schedule", cfg.name)

    def next_poll(self, cfg: SourceConfig, after: datetime | None) -> datetime:
        """When ``cfg`` is polled next: now (``after`` None) or its schedule's next time after ``after``, and
        never while its circuit breaker is open (a poll then would be refused and hold the breaker open)."""
        due = self.clock() if after is None else next_due(cfg, after)
        until = self._breaker_until(cfg)
        while until is not None and due < until:
            due = next_due(cfg, due)
        return due

    def _breaker_until(self, cfg: SourceConfig) -> datetime | None:
        """Until when the source's circuit breaker refuses requests (None when it lets them through)."""
        with session_scope(self.engine) as session:
            state = session.get(SourceState, cfg.name)
            data = dict(state.breaker) if state is not None else {}
        breaker = CircuitBreaker.from_dict(cfg.name, data)
        return breaker.opened_at + breaker.cooldown if breaker.opened_at is not None else None

    def _thread(self, target: Callable[..., None], *args: object) -> threading.Thread:
        name = args[0].name if args and isinstance(args[0], SourceConfig) else "source"
        thread = threading.Thread(target=target, args=args, name=f"poll-{name}", daemon=True)
        thread.start()
        return thread

    def _wait_for(self, threads: list[threading.Thread]) -> None:
        """Wait until the threads end or a stop is asked for; after a stop give them :data:`STOP_GRACE`."""
        while any(thread.is_alive() for thread in threads) and not self.stop.wait(0.2):
            pass
        if not self.stop.is_set():
            return
        deadline = time.monotonic() + STOP_GRACE
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        left = [thread.name for thread in threads if thread.is_alive()]
        if left:
            log.warning("stopping without waiting for %s (nothing they did is half-stored)", ", ".join(left))

    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return

        def handler(signum: int, _frame: FrameType | None) -> None:
            if self.stop.is_set():  # a second signal: stop now
                raise KeyboardInterrupt
            log.warning("signal %s: stopping (requests under way are ended)", signum)
            self.stop.set()

        signal.signal(signal.SIGINT, handler)
        signal.signal(signal.SIGTERM, handler)
