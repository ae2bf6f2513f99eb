"""The embedded default: every stage in this process, on a SQLite file, no server to start.

The same stage functions as the Celery workers (``poll_source`` → ``process_documents`` → fan-out →
deliver), called in-process: both modes give the same results.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import FrameType
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from tracker.config import SourceConfig, SourcesConfig
from tracker.pipeline import mark_versions_notified, process_documents, stranded, unnotified
from tracker.poll import PollReport, poll_source
from tracker.schedule import next_due

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

VersionHook = Callable[[list[int]], None]
_RECOVERY_BATCH = 1000


@dataclass
class Embedded:
    engine: Engine
    sources: SourcesConfig
    client: httpx.Client
    on_versions: VersionHook | None = None
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    stop: threading.Event = field(default_factory=threading.Event)

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
        return poll_source(
            self.engine, cfg, client=self.client, clock=self.clock, on_new=self.handle_new, progress=progress
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
        """One poll of every enabled source; a failing source never stops the others."""
        self.recover()
        return [self.poll(cfg) for cfg in self.sources.enabled]

    def run_forever(self, *, on_report: Callable[[PollReport], None] | None = None) -> None:
        """Poll each source when it is due, until SIGINT/SIGTERM or ``stop`` is set."""
        self._install_signals()
        self.recover()
        now = self.clock()
        due = {cfg.name: now for cfg in self.sources.enabled}
        by_name = {cfg.name: cfg for cfg in self.sources.enabled}
        while not self.stop.is_set() and due:
            name = min(due, key=lambda n: due[n])
            wait = (due[name] - self.clock()).total_seconds()
            if wait > 0 and self.stop.wait(min(wait, 60)):
                break
            if due[name] > self.clock():
                continue
            report = self.poll(by_name[name])
            if on_report is not None:
                on_report(report)
            due[name] = next_due(by_name[name], self.clock())

    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return

        def handler(signum: int, _frame: FrameType | None) -> None:
            log.info("signal %s: stopping after the current step", signum)
            self.stop.set()

        signal.signal(signal.SIGINT, handler)
        signal.signal(signal.SIGTERM, handler)
