"""What is news (issue 10 point 2): archives and backfills notify nobody; this week's versions, and late ones whose
procedure still has a deadline ahead, reach the subscribers."""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests import corpus_path
from tests.hookserver import HookServer
from tests.shifted import CHAIN, shift_text, shifted_chain
from tracker.db import make_engine, session_scope
from tracker.models import Delivery, Version
from tracker.news import is_news

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


def test_published_within_the_window_is_news():
    assert is_news(published=date(2026, 3, 3), state={}, now=NOW)
    assert not is_news(published=date(2026, 3, 2), state={}, now=NOW)
    assert is_news(published=date(2026, 3, 2), state={}, now=NOW, window=timedelta(days=30))
    assert not is_news(published=None, state=None, now=NOW)


def test_a_deadline_ahead_makes_an_old_version_news():
    ahead = {"fields": {"tender_deadline": "2026-03-10T12:00+01:00"}, "lots": {}}
    past = {"fields": {"tender_deadline": "2026-03-10T09:00+01:00"}, "lots": {}}
    assert is_news(published=date(2025, 1, 1), state=ahead, now=NOW)
    assert not is_news(published=date(2025, 1, 1), state=past, now=NOW)
    by_lot = {"fields": {}, "lots": {"2": {"request_deadline": "2026-03-10"}}}  # a day: until its end
    assert is_news(published=date(2025, 1, 1), state=by_lot, now=NOW)
    assert not is_news(published=date(2025, 1, 1), state={"fields": {"estimated_value": 3}}, now=NOW)


def test_a_correction_is_news():
    assert is_news(published=date(2016, 1, 1), state={}, now=NOW, revision=1)


def _config(tmp_path, hooks, subscribers: str):
    config = tmp_path / "config"
    config.mkdir(exist_ok=True)
    (config / "subscribers.yaml").write_text(f"version: 1\nsubscribers:\n{subscribers}")
    (config / "sources.yaml").write_text("version: 1\nsources: []\n")
    return config


EVERYTHING = '  - name: tout\n    urls: ["json://{hooks}/all"]\n    profiles: [{{}}]\n'
FOLLOWER = (
    '  - name: ao\n    urls: ["json://{hooks}/follow"]\n    follow: ["20-157376"]\n    changes: [deadline_moved]\n'
)


def _counts(tmp_path) -> tuple[int, int, int]:
    engine = make_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    with session_scope(engine) as session:
        versions = session.scalar(select(func.count()).select_from(Version)) or 0
        owed = session.scalar(select(func.count()).where(Version.notified_at.is_(None))) or 0
        deliveries = session.scalar(select(func.count()).select_from(Delivery)) or 0
    engine.dispose()
    return versions, owed, deliveries


def test_ingesting_the_corpus_sends_nothing(tracker_cli, tmp_path):
    with HookServer() as hooks:
        _config(tmp_path, hooks, EVERYTHING.format(hooks=hooks.address) + FOLLOWER.format(hooks=hooks.address))
        result = tracker_cli("ingest", str(corpus_path("boamp_ods_api", "chains")))
        assert result.exit_code == 0, result.output
        time.sleep(0.3)
        assert hooks.requests == []  # every deadline of the corpus is past
    versions, owed, deliveries = _counts(tmp_path)
    assert versions > 10 and owed == 0 and deliveries == 0  # recorded as history, never sent
    replay = tracker_cli("subscribers", "test", "ao", "--since", "9999d")  # the replay still shows everything
    assert "27/01/2021 → 03/02/2021" in replay.output


def test_a_chain_of_this_week_is_notified(tracker_cli, tmp_path):
    with HookServer() as hooks:
        _config(tmp_path, hooks, FOLLOWER.format(hooks=hooks.address))
        chain = shifted_chain(tmp_path, last_published=datetime.now(UTC))
        assert tracker_cli("ingest", str(chain)).exit_code == 0
        (request,) = hooks.wait_for(1)  # v2: the deadline moved
        assert request.path == "/follow"


def test_a_late_rectificatif_moving_a_deadline_ahead_is_notified(tracker_cli, tmp_path):
    """21-6545 (moving the deadline by a week) fetched ten days after its publication, after a source outage."""
    days = (datetime.now(UTC).date() - timedelta(days=10) - date(2021, 1, 17)).days
    records = json.loads(shift_text(corpus_path("boamp_ods_api", "chains", CHAIN).read_text(), days))["results"]
    original, rectificatif = records[0], records[1]
    assert rectificatif["idweb"] == "21-6545"
    with HookServer() as hooks:
        _config(tmp_path, hooks, FOLLOWER.format(hooks=hooks.address))
        first = tmp_path / "original.json"
        first.write_text(json.dumps({"results": [original]}))
        assert tracker_cli("ingest", str(first)).exit_code == 0
        late = tmp_path / "late.json"
        late.write_text(json.dumps({"results": [rectificatif]}))
        assert tracker_cli("ingest", str(late)).exit_code == 0
        (request,) = hooks.wait_for(1)
        assert "03/02/2021" not in json.dumps(request.json)  # the shifted dates, a week ahead
    assert _counts(tmp_path)[1:] == (0, 1)


@pytest.mark.parametrize("days", [0, 30])
def test_the_window_is_a_setting(tracker_cli, tmp_path, monkeypatch, days):
    """A chain whose last notice was published 20 days ago, its deadlines past: news only with a 30-day window."""
    from tracker.settings import get_settings

    monkeypatch.setenv("TRACKER_NEWS_WINDOW_DAYS", str(days))
    get_settings.cache_clear()
    try:
        shift = (datetime.now(UTC).date() - timedelta(days=20) - date(2021, 1, 21)).days
        records = json.loads(shift_text(corpus_path("boamp_ods_api", "chains", CHAIN).read_text(), shift))["results"]
        with HookServer() as hooks:
            _config(tmp_path, hooks, EVERYTHING.format(hooks=hooks.address))
            path = tmp_path / "chain.json"
            path.write_text(json.dumps({"results": records}))
            assert tracker_cli("ingest", str(path)).exit_code == 0
            if days:  # the rectificatifs (20 and 24 days ago), not the notice of 47 days ago
                assert len(hooks.wait_for(2)) == 2
                time.sleep(0.3)
                assert len(hooks.requests) == 2
            else:
                time.sleep(0.3)
                assert hooks.requests == []
    finally:
        get_settings.cache_clear()
