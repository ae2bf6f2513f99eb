"""The embedded pipeline end to end: a real local HTTP server serving recorded real BOAMP records (with
faults), the poller, storage, versions, and notifications received by real local servers."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tests import corpus_path
from tests.hookserver import HookServer
from tests.httpfake import FakeResponse, FakeServer, OdsRecords
from tests.mailserver import MailServer
from tests.shifted import shifted_chain
from tracker.config import load_sources
from tracker.db import session_scope
from tracker.documents import Document
from tracker.history import find_procedure, history
from tracker.models import Delivery, Notice, Version
from tracker.models import Document as DocumentRow
from tracker.outbox import Notifier, deliver, fan_out
from tracker.pipeline import STRANDED_AFTER, ingest_documents, process_documents, stranded, unnotified
from tracker.reader import ODS_RECORD, documents_from_file, record_bytes
from tracker.service import Embedded
from tracker.sources.http import make_client
from tracker.store import save_documents
from tracker.subscribers import load_subscribers

pytestmark = pytest.mark.corpus

RECORDS_PATH = "/api/explore/v2.1/catalog/datasets/boamp/records"
CHAIN = "chain_20-157376_rectif_21-6545_rectif_21-8404.json"
CLOCK = datetime(2021, 1, 22, 9, 0, tzinfo=UTC)


def chain_records() -> list[dict[str, Any]]:
    return json.loads(corpus_path("boamp_ods_api", "chains", CHAIN).read_text())["results"]


def write_config(folder: Path, *, base_url: str, subscribers: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sources.yaml").write_text(
        "version: 1\nsources:\n  - name: boamp\n    kind: boamp\n    every: 30m\n    options:\n"
        f"      base_url: {base_url}\n      since: 2020-12-24\n      timeout: 1\n"
    )
    (folder / "subscribers.yaml").write_text(
        f"version: 1\nsubscribers:\n{subscribers}" if subscribers else "version: 1\nsubscribers: []\n"
    )
    return folder


@pytest.fixture
def service():
    clients = []

    def build(engine, folder: Path, clock=lambda: CLOCK) -> Embedded:
        subs = load_subscribers(folder)
        notifier = Notifier(engine, subs, clock=clock) if subs else None
        clients.append(make_client(timeout=5))
        return Embedded(engine, load_sources(folder), clients[-1], on_versions=notifier, clock=clock)

    yield build
    for client in clients:
        client.close()


def counts(engine) -> tuple[int, int, int, int]:
    with session_scope(engine) as session:
        return tuple(
            session.scalar(select(func.count()).select_from(m)) for m in (DocumentRow, Notice, Version, Delivery)
        )


def test_polling_through_faults_stores_every_record_once(sqlite_engine, tmp_path, service):
    ods = OdsRecords(chain_records())
    faults = [
        FakeResponse(500),
        FakeResponse(503),
        ods,
        FakeResponse(429, b'{"errorcode": 10002}', {"Retry-After": "0"}),
        ods,
        FakeResponse(
            200, b'{"total_count": 1, "results": [{"idweb": "20-1', {"Content-Type": "application/json"}, truncate=20
        ),
        ods,
        FakeResponse(200, b"{}", delay=2.5),
        ods,  # longer than the 1 s timeout
        FakeResponse(200, b'{"results": ["\xff\xfe"]}', {"Content-Type": "application/json"}),  # invalid UTF-8
        ods,
    ]
    with FakeServer() as server:
        server.route(RECORDS_PATH, *faults)
        embedded = service(sqlite_engine, write_config(tmp_path / "config", base_url=server.base_url))
        first = embedded.run_once()[0]
        assert (first.error and "UTF-8" in first.error) or "JSON" in (first.error or "")
        second = embedded.run_once()[0]  # resumes from the stored cursor
        assert second.ok, second.error
        assert counts(sqlite_engine)[:3] == (3, 3, 3)
        with session_scope(sqlite_engine) as session:
            h = history(session, find_procedure(session, "21-8404"))
        assert [v["notice_id"] for v in h["versions"]] == ["20-157376", "21-6545", "21-8404"]
        assert h["versions"][1]["changes"][0]["new"] == "2021-02-03"
        # polling again an unchanged source creates nothing
        before = counts(sqlite_engine)
        third = embedded.run_once()[0]
        assert third.ok and third.new_ids == []
        assert counts(sqlite_engine) == before


MINIMAL = """  - name: equipe-ao
    urls: ["json://{hooks}/hook"]
    language: fr
    follow: ["20-157376"]
    changes: [deadline_moved]
"""


def test_new_publications_reach_subscribers_once(sqlite_engine, tmp_path, service):
    original, rectif1, rectif2 = chain_records()
    today = [datetime(2020, 12, 26, 9, 0, tzinfo=UTC)]
    with FakeServer() as server, HookServer() as hooks, MailServer() as mail:
        ods = OdsRecords([original])
        server.route(RECORDS_PATH, lambda request: ods(request))
        subscribers = (
            MINIMAL.format(hooks=hooks.address)
            + f"""  - name: tout
    urls: ["{mail.url()}"]
    follow: ["21-6545"]
"""
        )
        folder = write_config(tmp_path / "config", base_url=server.base_url, subscribers=subscribers)
        embedded = service(sqlite_engine, folder, clock=lambda: today[0])
        embedded.run_once()
        assert hooks.requests == [] and mail.messages == []  # the original alone is no news to followers
        for record, day in (
            (rectif1, datetime(2021, 1, 17, 18, 0, tzinfo=UTC)),
            (rectif2, datetime(2021, 1, 21, 18, 0, tzinfo=UTC)),
        ):
            ods.by_day[record["dateparution"]].append(record)  # published on the server
            today[0] = day
            embedded.run_once()
        hook = hooks.wait_for(1)
        mails = mail.wait_for(2)
        time.sleep(0.2)
        assert len(hooks.requests) == 1 and len(mail.messages) == 2
        payload = json.loads(hook[0].json["message"])
        assert [c["field"] for c in payload["changes"]] == ["tender_deadline"]
        assert (
            payload["changes"][0]["text"] == "Date limite de réception des offres : 27/01/2021 → 03/02/2021 (+7 jours)"
        )
        assert "Ouverture des offres" in mails[1].get_body(("html",)).get_content()
        today[0] += timedelta(hours=1)
        embedded.run_once()  # nothing new: nothing sent
        time.sleep(0.2)
        assert len(hooks.requests) == 1 and len(mail.messages) == 2


def test_ingest_notifies_the_minimal_subscriber_exactly_once(tracker_cli, tmp_path, caplog):
    caplog.set_level("DEBUG")
    chain = shifted_chain(tmp_path, last_published=datetime.now(UTC))  # this week's news: `ingest` sends it
    with HookServer() as hooks, MailServer(auth=("bidder", "s3cr3t-pass")) as mail:
        subscribers = (
            MINIMAL.format(hooks=hooks.address)
            + f"""  - name: tout
    urls: ["{mail.url(auth="bidder:s3cr3t-pass")}"]
    follow: ["20-157376"]
  - name: profil-morbihan
    urls: ["json://{hooks.address}/profile"]
    profiles:
      - cpv: ["7222"]
        departments: ["56"]
  - name: en-panne
    urls: ["json://{hooks.address}/broken"]
    follow: ["21-8404"]
"""
        )
        hooks.set_status("/broken", 500)
        write_config(tmp_path / "config", base_url="http://127.0.0.1:9", subscribers=subscribers)
        result = tracker_cli("ingest", str(chain))
        assert result.exit_code == 0, result.output
        by_path: dict[str, list] = {}
        for request in hooks.wait_for(1 + 3 + 2):
            by_path.setdefault(request.path, []).append(request)
        assert len(by_path["/hook"]) == 1  # v2 only: the deadline moved
        assert len(by_path["/profile"]) == 3  # the new notice and both rectificatifs
        assert len(mail.wait_for(2)) == 2  # one per rectificatif
        status = tracker_cli("deliveries", "--failed")
        assert "en-panne" in status.output and "failed" in status.output
        again = tracker_cli("ingest", str(chain))
        assert "0 stored, 3 already stored" in again.output
        time.sleep(0.2)
        assert len(mail.messages) == 2 and len(hooks.requests) == 6
        output = result.output + status.output + tracker_cli("subscribers", "check").output
        assert "s3cr3t-pass" not in output
        assert "s3cr3t-pass" not in caplog.text
        stored = b"".join(p.read_bytes() for p in tmp_path.glob("cli.db*"))
        assert b"s3cr3t-pass" not in stored


def test_a_failing_channel_is_retried_then_dead_lettered(sqlite_engine, tmp_path):
    chain = corpus_path("boamp_ods_api", "chains", CHAIN)
    with HookServer() as hooks:
        hooks.set_status("/broken", 500)
        subscribers = f"""  - name: mixte
    urls: ["json://{hooks.address}/broken", "json://{hooks.address}/ok"]
    follow: ["20-157376"]
"""
        folder = write_config(tmp_path / "config", base_url="http://127.0.0.1:9", subscribers=subscribers)
        subs = load_subscribers(folder)
        ingest_documents(
            sqlite_engine, documents_from_file(chain), on_versions=Notifier(sqlite_engine, subs, clock=lambda: CLOCK)
        )
        assert len([r for r in hooks.requests if r.path == "/ok"]) == 2
        with session_scope(sqlite_engine) as session:
            failing = session.execute(select(Delivery).where(Delivery.status == "failed")).scalars().all()
            ids = [d.id for d in failing]
        assert len(ids) == 2
        now = CLOCK
        for _ in range(10):
            now += timedelta(hours=2)
            for delivery_id in ids:
                deliver(sqlite_engine, delivery_id, subs, now=now)
        with session_scope(sqlite_engine) as session:
            rows = session.execute(select(Delivery).where(Delivery.id.in_(ids))).scalars().all()
            assert {d.status for d in rows} == {"dead"}
            assert all(d.attempts == 5 for d in rows)
            assert all("500" in (d.last_error or "") for d in rows)
        assert len([r for r in hooks.requests if r.path == "/broken"]) == 10
        assert len([r for r in hooks.requests if r.path == "/ok"]) == 2


# ------------------------------------------------------------------ documents whose processing was lost


def _saved_unprocessed_chain(engine, now: datetime) -> list[int]:
    """The chain's records saved as a poller saves a page, their processing never run (a lost task)."""
    docs = [Document("boamp", f"lost#{r['idweb']}", record_bytes(r), ODS_RECORD) for r in chain_records()]
    with session_scope(engine) as session:
        return save_documents(session, docs, now=now)


def test_stranded_documents_are_those_unprocessed_past_the_grace_period(engine):
    ids = _saved_unprocessed_chain(engine, CLOCK)
    assert len(ids) == 3
    assert stranded(engine, now=CLOCK + timedelta(minutes=10)) == []  # maybe still in the queue
    assert stranded(engine, now=CLOCK + STRANDED_AFTER + timedelta(seconds=1)) == ids
    assert stranded(engine, now=CLOCK, older_than=None) == ids
    process_documents(engine, ids[:2])
    assert stranded(engine, now=CLOCK, older_than=None) == ids[2:]


def test_embedded_run_first_processes_what_an_earlier_run_left_unprocessed(engine, tmp_path, service):
    _saved_unprocessed_chain(engine, CLOCK - timedelta(days=3))
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "sources.yaml").write_text("version: 1\nsources: []\n")
    (folder / "subscribers.yaml").write_text("version: 1\nsubscribers: []\n")
    embedded = service(engine, folder)
    assert embedded.run_once() == []
    assert counts(engine)[:3] == (3, 3, 3)
    with session_scope(engine) as session:
        assert len(history(session, find_procedure(session, "20-157376"))["versions"]) == 3
    assert embedded.recover() == 0


def test_workers_sweep_for_stranded_documents(monkeypatch, tmp_path):
    import workers.tasks  # noqa: F401 - registers the tasks
    from tracker.settings import get_settings
    from workers.app import app
    from workers.schedule import beat_schedule

    (tmp_path / "sources.yaml").write_text("version: 1\nsources: []\n")
    monkeypatch.setenv("TRACKER_CONFIG_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        entry = beat_schedule()["recover lost work"]
    finally:
        get_settings.cache_clear()
    assert entry["task"] in app.tasks
    assert entry["options"]["expires"] < entry["schedule"].run_every.total_seconds()


def test_versions_owe_a_fan_out_until_it_ran(engine):
    docs = list(documents_from_file(corpus_path("boamp_ods_api", "chains", CHAIN)))
    ingest_documents(engine, docs, now=lambda: CLOCK, on_versions=lambda ids: None)  # the fan-out never ran
    owed = unnotified(engine, now=CLOCK, older_than=None)
    assert len(owed) == 3
    assert unnotified(engine, now=CLOCK + timedelta(minutes=10)) == []  # maybe still in the queue
    assert unnotified(engine, now=CLOCK + STRANDED_AFTER + timedelta(seconds=1)) == owed
    fan_out(engine, owed[0], [], now=CLOCK)  # nobody subscribed: the fan-out ran all the same
    assert unnotified(engine, now=CLOCK, older_than=None) == owed[1:]


def test_without_subscribers_nothing_is_owed(sqlite_engine):
    ingest_documents(sqlite_engine, documents_from_file(corpus_path("boamp_ods_api", "chains", CHAIN)))
    assert unnotified(sqlite_engine, now=CLOCK, older_than=None) == []


def test_embedded_run_first_notifies_what_an_earlier_run_did_not(sqlite_engine, tmp_path, service):
    docs = documents_from_file(corpus_path("boamp_ods_api", "chains", CHAIN))
    ingest_documents(sqlite_engine, docs, on_versions=lambda ids: None)  # stopped before notifying
    with HookServer() as hooks:
        folder = tmp_path / "config"
        folder.mkdir()
        (folder / "sources.yaml").write_text("version: 1\nsources: []\n")
        (folder / "subscribers.yaml").write_text(
            "version: 1\nsubscribers:\n"
            f'  - name: ao\n    urls: ["json://{hooks.address}/hook"]\n    follow: ["20-157376"]\n'
        )
        embedded = service(sqlite_engine, folder)
        assert embedded.recover() == 3
        assert len(hooks.wait_for(2)) == 2  # v2 and v3: a follower is not told of the notice it follows
        assert embedded.recover() == 0
        assert unnotified(sqlite_engine, now=CLOCK, older_than=None) == []


def test_the_workers_recovery_task_requeues_lost_work(sqlite_engine, monkeypatch):
    import workers.tasks as tasks

    ids = _saved_unprocessed_chain(sqlite_engine, CLOCK)  # three documents whose processing task was lost
    process_documents(sqlite_engine, ids[:1], now=CLOCK)  # the first processed, its fan-out task lost
    sent: list[tuple[str, list[int]]] = []
    monkeypatch.setattr(tasks, "engine", lambda: sqlite_engine)
    monkeypatch.setattr(tasks, "now", lambda: CLOCK + STRANDED_AFTER + timedelta(minutes=1))
    monkeypatch.setattr(tasks.process_documents, "delay", lambda ids: sent.append(("process", ids)))
    monkeypatch.setattr(tasks.fan_out_versions, "delay", lambda ids: sent.append(("fan out", ids)))
    assert tasks.recover() == 3
    assert sent == [("process", ids[1:]), ("fan out", unnotified(sqlite_engine, now=CLOCK, older_than=None))]
