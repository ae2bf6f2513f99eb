"""The outbox: digests at the subscriber's hour, critical changes at once, leases, replays."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from tests import corpus_path
from tests.hookserver import HookServer
from tracker.cli import cli
from tracker.db import session_scope
from tracker.models import Delivery
from tracker.outbox import Notifier, deliver, due_deliveries
from tracker.pipeline import ingest_documents
from tracker.reader import documents_from_file
from tracker.subscribers import load_subscribers

pytestmark = pytest.mark.corpus

CHAIN = "chain_20-157376_rectif_21-6545_rectif_21-8404.json"
MONDAY_9 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # 09:00 in Paris


def config(tmp_path, hooks, extra: str = "") -> list:
    folder = tmp_path / "config"
    folder.mkdir(exist_ok=True)
    (folder / "subscribers.yaml").write_text(
        "version: 1\nsubscribers:\n"
        f'  - name: digest\n    urls: ["json://{hooks.address}/digest"]\n    follow: ["20-157376"]\n'
        "    delivery: {mode: digest, digest: daily, hour: 18, timezone: Europe/Paris}\n" + extra
    )
    return load_subscribers(folder)


def test_digest_collects_versions_until_the_subscribers_hour(sqlite_engine, tmp_path):
    with HookServer() as hooks:
        subs = config(tmp_path, hooks)
        notifier = Notifier(sqlite_engine, subs, clock=lambda: MONDAY_9)
        ingest_documents(
            sqlite_engine, documents_from_file(corpus_path("boamp_ods_api", "chains", CHAIN)), on_versions=notifier
        )
        assert hooks.requests == []
        with session_scope(sqlite_engine) as session:
            (digest,) = session.execute(select(Delivery)).scalars().all()
            assert digest.digest_key == "2026-11-23T18:00:00+01:00"
            assert [i["version_id"] for i in digest.payload["items"]] == [2, 3]
        assert due_deliveries(sqlite_engine, now=MONDAY_9) == []
        evening = MONDAY_9 + timedelta(hours=9)
        assert due_deliveries(sqlite_engine, now=evening) == [digest.id]
        assert deliver(sqlite_engine, digest.id, subs, now=evening) == "sent"
        body = json.loads(hooks.wait_for(1)[0].json["message"])
        assert len(body["items"] if "items" in body else body["versions"]) == 2
        assert deliver(sqlite_engine, digest.id, subs, now=evening) == "skipped"  # sent once


def test_a_lease_held_by_a_sender_is_not_taken_twice(sqlite_engine, tmp_path):
    with HookServer() as hooks:
        hooks.set_status("/digest", 500)
        subs = config(tmp_path, hooks)
        ingest_documents(
            sqlite_engine,
            documents_from_file(corpus_path("boamp_ods_api", "chains", CHAIN)),
            on_versions=Notifier(sqlite_engine, subs, clock=lambda: MONDAY_9),
        )
        (delivery_id,) = due_deliveries(sqlite_engine, now=MONDAY_9 + timedelta(days=1))
        later = MONDAY_9 + timedelta(days=1)
        assert deliver(sqlite_engine, delivery_id, subs, now=later) == "failed"
        assert deliver(sqlite_engine, delivery_id, subs, now=later) == "skipped"  # backing off
        assert deliver(sqlite_engine, delivery_id, subs, now=later + timedelta(minutes=1)) == "failed"


def test_subscribers_commands(tmp_path, monkeypatch):
    monkeypatch.setenv("TRACKER_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    runner = CliRunner()
    with HookServer() as hooks:
        config(
            tmp_path,
            hooks,
            f'  - name: webhook\n    urls: ["json://user:hunter2@{hooks.address}/w"]\n'
            '    profiles: [{departments: ["56"]}]\n',
        )
        base = ["--config", str(tmp_path / "config")]
        checked = runner.invoke(cli, [*base, "subscribers", "check"])
        assert checked.exit_code == 0 and "2 subscriber(s) valid" in checked.output
        assert "hunter2" not in checked.output
        runner.invoke(cli, [*base, "ingest", str(corpus_path("boamp_ods_api", "chains", CHAIN))])
        hooks.clear()
        replay = runner.invoke(cli, [*base, "subscribers", "test", "webhook", "--since", "20000d"])
        assert replay.exit_code == 0, replay.output
        assert "3 message(s) would have been sent to webhook" in replay.output
        assert "27/01/2021 → 03/02/2021" in replay.output
        assert "hunter2" not in replay.output and hooks.requests == []  # a replay sends nothing
        sample = runner.invoke(cli, [*base, "notify-test", "webhook"])
        assert sample.exit_code == 0 and "sent" in sample.output
        assert len(hooks.wait_for(1)) == 1
        unknown = runner.invoke(cli, [*base, "subscribers", "test", "nobody"])
        assert unknown.exit_code != 0 and "no subscriber named 'nobody'" in unknown.output
