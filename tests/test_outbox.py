"""The outbox: digests at the subscriber's hour, critical changes at once, leases, replays."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from tests import corpus_path
from tests.hookserver import HookServer
from tests.shifted import shifted_chain
from tracker import outbox
from tracker.cli import cli
from tracker.db import session_scope
from tracker.match import Matcher
from tracker.models import Delivery
from tracker.outbox import Notifier, deliver, due_deliveries, fan_out
from tracker.pipeline import ingest_documents
from tracker.reader import documents_from_file
from tracker.subscribers import Subscriber, load_subscribers

pytestmark = pytest.mark.corpus

CHAIN = "chain_20-157376_rectif_21-6545_rectif_21-8404.json"
MONDAY_9 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # 09:00 in Paris; the chain is shifted into that week (news)


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
            sqlite_engine, documents_from_file(shifted_chain(tmp_path, last_published=MONDAY_9)), on_versions=notifier
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
            documents_from_file(shifted_chain(tmp_path, last_published=MONDAY_9)),
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


def _many(count: int) -> list[Subscriber]:
    """Followers of the chain: every third on a daily digest, every second with two channels."""
    urls = ["json://127.0.0.1:9/a", "json://127.0.0.1:9/b"]
    return [
        Subscriber.model_validate(
            {
                "name": f"s{i}",
                "urls": urls[: 1 + i % 2],
                "follow": ["20-157376"],
                **({"delivery": {"mode": "digest", "digest": "daily"}} if i % 3 == 0 else {}),
            }
        )
        for i in range(count)
    ]


def _deliveries(engine) -> list[Delivery]:
    with session_scope(engine) as session:
        return list(session.execute(select(Delivery).order_by(Delivery.id)).scalars())


def test_fan_out_writes_many_deliveries_in_chunks_once(engine, tmp_path):
    """More rows than one INSERT takes: every (subscriber, channel) once, digests collecting both versions."""
    ingest_documents(engine, documents_from_file(shifted_chain(tmp_path, last_published=MONDAY_9)))
    subs = _many(400)  # 600 channels
    matcher = Matcher(subs)
    due = fan_out(engine, 2, subs, now=MONDAY_9, matcher=matcher)
    assert len(due) == sum(len(s.urls) for s in subs if s.delivery.mode == "immediate")
    assert fan_out(engine, 2, subs, now=MONDAY_9, matcher=matcher) == due  # pending ones, nothing new
    fan_out(engine, 3, subs, now=MONDAY_9, matcher=matcher)
    rows = _deliveries(engine)
    assert len(rows) == 2 * len(due) + sum(len(s.urls) for s in subs if s.delivery.mode == "digest")
    assert len({r.dedup_key for r in rows}) == len(rows)
    digests = [r for r in rows if r.digest_key]
    assert digests and all([i["version_id"] for i in r.payload["items"]] == [2, 3] for r in digests)
    assert all("127.0.0.1:9" in r.channel_label for r in rows)


def test_fan_out_treats_a_row_written_concurrently_as_existing(sqlite_engine, monkeypatch, tmp_path):
    """Another worker inserts the same deliveries between this fan-out's SELECT and INSERT: the INSERT skips
    them (ON CONFLICT DO NOTHING), the digest still gets this version, nothing is written twice."""
    ingest_documents(sqlite_engine, documents_from_file(shifted_chain(tmp_path, last_published=MONDAY_9)))
    subs = _many(6)
    fan_out(sqlite_engine, 2, subs, now=MONDAY_9)
    before = {r.dedup_key for r in _deliveries(sqlite_engine)}

    real = outbox._existing
    calls = []

    def blind_first(session, keys):  # the first look sees nothing: as if the rows were not there yet
        calls.append(keys)
        return {} if len(calls) == 1 else real(session, keys)

    monkeypatch.setattr(outbox, "_existing", blind_first)
    pending = fan_out(sqlite_engine, 2, subs, now=MONDAY_9)
    assert len(calls) == 2  # the blind look, then the look at the rows the INSERT skipped
    assert sorted(pending) == sorted(r.id for r in _deliveries(sqlite_engine) if r.version_id == 2)
    rows = _deliveries(sqlite_engine)
    assert {r.dedup_key for r in rows} == before and len(rows) == len(before)
    calls.clear()
    fan_out(sqlite_engine, 3, subs, now=MONDAY_9)  # v3: new immediate rows, and digests that exist
    digests = [r for r in _deliveries(sqlite_engine) if r.digest_key]
    assert digests and all([i["version_id"] for i in r.payload["items"]] == [2, 3] for r in digests)
