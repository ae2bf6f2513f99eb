"""End to end with a real ``celery worker`` process, real Redis and real PostgreSQL.

Records are published on a local HTTP server; the worker polls, stores, versions and notifies without
anyone calling ``ingest``. A worker killed with SIGKILL in the middle of processing loses no version and
duplicates none once restarted.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from sqlalchemy import func, select

from tests import ROOT, corpus_path, need
from tests.hookserver import HookServer
from tests.httpfake import FakeServer, OdsRecords
from tracker.db import make_engine, session_scope, upgrade
from tracker.documents import Document
from tracker.history import find_procedure, history
from tracker.models import Document as DocumentRow
from tracker.models import Version
from tracker.pipeline import ingest_documents
from tracker.reader import ODS_RECORD, record_bytes
from tracker.store import save_documents

pytestmark = [pytest.mark.e2e, pytest.mark.redis, pytest.mark.postgres, pytest.mark.corpus]

RECORDS_PATH = "/api/explore/v2.1/catalog/datasets/boamp/records"
CELERY = str(Path(sys.executable).parent / "celery")


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture
def redis_url() -> Iterator[str]:
    if not _redis_up():
        need("Redis not reachable at 127.0.0.1:6379")
    import redis

    db = random.randint(10, 15)  # noqa: S311 - a test database number, not a secret
    url = f"redis://127.0.0.1:6379/{db}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


@pytest.fixture
def pg_engine(postgres_url):
    from tests.conftest import _reset_postgres

    _reset_postgres(postgres_url)
    engine = make_engine(postgres_url)
    upgrade(engine)
    yield engine
    engine.dispose()


class Worker:
    """A `celery -A workers worker` process, as users run it (docker-compose.yml uses the same command)."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        cmd = [
            CELERY,
            "-A",
            "workers",
            "worker",
            "-Q",
            "tracker",
            "--pool",
            "prefork",
            "--concurrency",
            "1",
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                cmd, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def kill(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


@pytest.fixture
def worker_env(tmp_path, postgres_url, redis_url) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
    env.update(
        TRACKER_DATABASE_URL=postgres_url,
        TRACKER_REDIS_URL=redis_url,
        TRACKER_CONFIG_DIR=str(tmp_path / "config"),
        PYTHONPATH=str(ROOT),
    )
    (tmp_path / "config").mkdir()
    return env


@pytest.fixture
def worker(worker_env, tmp_path) -> Iterator[Worker]:
    w = Worker(worker_env, tmp_path / "worker.log")
    yield w
    w.stop()
    if w.proc is not None and w.proc.returncode not in (0, -signal.SIGTERM, -signal.SIGKILL, None):
        print((tmp_path / "worker.log").read_text()[-5000:])


def wait_until(check: Callable[[], Any], *, timeout: float, what: str, log: Path | None = None) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    tail = log.read_text()[-4000:] if log is not None and log.exists() else ""
    raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{tail}")


def version_count(engine) -> int:
    with session_scope(engine) as session:
        return session.scalar(select(func.count()).select_from(Version)) or 0


def test_worker_turns_new_publications_into_versions_and_notifications(pg_engine, worker, worker_env, tmp_path):
    original, rectif, _ = json.loads(
        corpus_path("boamp_ods_api", "chains", "chain_20-157376_rectif_21-6545_rectif_21-8404.json").read_text()
    )["results"]
    today = datetime.now(UTC).date()
    original = dict(original, dateparution=(today - timedelta(days=1)).isoformat())
    rectif = dict(rectif, dateparution=today.isoformat())
    config = Path(worker_env["TRACKER_CONFIG_DIR"])
    with FakeServer() as server, HookServer() as hooks:
        ods = OdsRecords([original])
        server.route(RECORDS_PATH, lambda request: ods(request))
        (config / "sources.yaml").write_text(
            "version: 1\nsources:\n  - name: boamp\n    kind: boamp\n    every: 30m\n    options:\n"
            f"      base_url: {server.base_url}\n      since: {today - timedelta(days=1)}\n"
        )
        (config / "subscribers.yaml").write_text(
            f'version: 1\nsubscribers:\n  - name: equipe-ao\n    urls: ["json://{hooks.address}/hook"]\n'
            '    follow: ["20-157376"]\n    changes: [deadline_moved]\n'
        )
        worker.start()
        client = Celery(broker=worker_env["TRACKER_REDIS_URL"])
        client.send_task("tracker.poll_source", args=["boamp"], queue="tracker")
        wait_until(lambda: version_count(pg_engine) == 1, timeout=60, what="v1", log=worker.log)
        ods.by_day[rectif["dateparution"]].append(rectif)  # the rectificatif is published
        client.send_task("tracker.poll_source", args=["boamp"], queue="tracker")
        wait_until(lambda: version_count(pg_engine) == 2, timeout=60, what="v2", log=worker.log)
        with session_scope(pg_engine) as session:
            h = history(session, find_procedure(session, "21-6545"))
        assert [v["kind"] for v in h["versions"]] == ["initial", "rectificatif"]
        assert h["versions"][1]["changes"][0]["text"].endswith("27/01/2021 → 03/02/2021 (+7 jours)")
        request = hooks.wait_for(1, timeout=30)[0]
        assert json.loads(request.json["message"])["version"]["notice_id"] == "21-6545"
        client.send_task("tracker.poll_source", args=["boamp"], queue="tracker")  # nothing new
        time.sleep(3)
        assert version_count(pg_engine) == 2 and len(hooks.requests) == 1
        client.close()


def _documents(count: int) -> list[Document]:
    records = json.loads(corpus_path("boamp_ods_api", "gigalis_500_reconstructed_as_v21_results.json").read_text())[
        "results"
    ][:count]
    return [Document("boamp", f"e2e#{r['idweb']}", record_bytes(r), ODS_RECORD) for r in records]


def test_killed_worker_loses_and_duplicates_nothing(pg_engine, worker, worker_env, tmp_path):
    (Path(worker_env["TRACKER_CONFIG_DIR"]) / "sources.yaml").write_text("version: 1\nsources: []\n")
    docs = _documents(300)
    expected_engine = make_engine(f"sqlite:///{tmp_path / 'expected.db'}")
    upgrade(expected_engine)
    expected = ingest_documents(expected_engine, docs).versions_created
    with session_scope(pg_engine) as session:
        ids = save_documents(session, docs, now=datetime.now(UTC))
    client = Celery(broker=worker_env["TRACKER_REDIS_URL"])
    for document_id in ids:
        client.send_task("tracker.process_document", args=[document_id], queue="tracker")
    worker.start()
    wait_until(lambda: version_count(pg_engine) >= 30, timeout=60, what="processing to start", log=worker.log)
    worker.kill()  # SIGKILL to the whole worker, mid-processing
    done_before_kill = version_count(pg_engine)
    assert done_before_kill < expected, "the worker finished before it could be killed; use more documents"
    worker.start()
    restarted = time.monotonic()

    def all_processed() -> bool:
        with session_scope(pg_engine) as session:
            pending = session.scalar(select(func.count()).where(DocumentRow.processed_at.is_(None)))
        return pending == 0

    # the message the killed worker held comes back once its visibility timeout (60 s) has passed
    wait_until(all_processed, timeout=300, what="every document processed after restart", log=worker.log)
    assert time.monotonic() - restarted < 90, "redelivered within about a minute"
    with session_scope(pg_engine) as session:
        per_notice = session.execute(
            select(Version.notice_pk, func.count()).group_by(Version.notice_pk).having(func.count() > 1)
        ).all()
    assert per_notice == []
    assert version_count(pg_engine) == expected
    client.close()
    expected_engine.dispose()


def test_docker_compose_file_is_complete():
    import yaml

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"db", "redis", "migrate", "worker", "beat"} <= set(services)
    assert services["migrate"]["command"] == ["tracker", "db", "upgrade"]
    assert services["worker"]["command"][:4] == ["celery", "-A", "workers", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "workers", "beat"]
    assert "healthcheck" in services["db"] and "healthcheck" in services["redis"]
    assert "${POSTGRES_PASSWORD:?" in (ROOT / "docker-compose.yml").read_text()
