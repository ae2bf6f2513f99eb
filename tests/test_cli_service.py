"""`tracker run --once`, `poll`, `backfill` and `status` against a local server serving real records."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests import corpus_path
from tests.httpfake import FakeResponse, FakeServer, OdsRecords

pytestmark = pytest.mark.corpus

RECORDS_PATH = "/api/explore/v2.1/catalog/datasets/boamp/records"


@pytest.fixture
def recent_chain():
    """The 20-157376 chain, re-dated to the last three days (pollers walk up to today)."""
    records = json.loads(
        corpus_path("boamp_ods_api", "chains", "chain_20-157376_rectif_21-6545_rectif_21-8404.json").read_text()
    )["results"]
    today = datetime.now(UTC).date()
    return [dict(r, dateparution=(today - timedelta(days=2 - i)).isoformat()) for i, r in enumerate(records)]


def write_sources(tmp_path, base_url: str, since: str) -> None:
    (tmp_path / "config").mkdir(exist_ok=True)
    (tmp_path / "config" / "sources.yaml").write_text(
        "version: 1\nsources:\n  - name: boamp\n    kind: boamp\n    every: 30m\n    options:\n"
        f"      base_url: {base_url}\n      since: {since}\n"
    )


def test_run_once_poll_and_status(tmp_path, tracker_cli, recent_chain):
    with FakeServer() as server:
        ods = OdsRecords(recent_chain[:2])
        server.route(RECORDS_PATH, lambda request: ods(request))
        write_sources(tmp_path, server.base_url, recent_chain[0]["dateparution"])
        once = tracker_cli("run", "--once")
        assert once.exit_code == 0, once.output
        assert "boamp: 2 fetched, 2 new" in once.output and "ok" in once.output
        ods.by_day[recent_chain[2]["dateparution"]].append(recent_chain[2])
        polled = tracker_cli("poll", "boamp")
        assert polled.exit_code == 0, polled.output
        assert "1 new" in polled.output and "21-8404" in polled.output and "rectificatif" in polled.output
        history = tracker_cli("history", "20-157376")
        assert "Ouverture des offres : 27/01/2021 14:00 → 03/02/2021 14:00 (+7 jours)" in history.output
        status = tracker_cli("status")
        assert "boamp" in status.output and "never" not in status.output
        assert "versions: 3" in status.output and "versions not yet notified: 0" in status.output


def test_a_failing_source_is_reported_and_does_not_stop_the_others(tmp_path, tracker_cli, recent_chain):
    with FakeServer() as server:
        server.route(RECORDS_PATH, FakeResponse(404, b"gone"))
        write_sources(tmp_path, server.base_url, recent_chain[0]["dateparution"])
        folder = tmp_path / "drop"
        folder.mkdir()
        (folder / "chain.json").write_text(json.dumps({"results": recent_chain}))
        with (tmp_path / "config" / "sources.yaml").open("a") as fh:
            fh.write(f"  - name: depot\n    kind: folder\n    every: 1m\n    options:\n      path: {folder}\n")
        once = tracker_cli("run", "--once")
        assert "boamp: 0 fetched, 0 new, 0 step(s) — FAILED: " in once.output and "404" in once.output
        assert "depot: 1 fetched, 1 new" in once.output
        assert "Date limite de réception des offres" in tracker_cli("history", "21-6545").output
        status = tracker_cli("status")
        assert "404" in status.output


def test_backfill_resumes_where_it_stopped(tmp_path, tracker_cli, recent_chain):
    with FakeServer() as server:
        ods = OdsRecords(recent_chain)
        first_day = recent_chain[0]["dateparution"]
        # the second day fails for good the first time (the backfill stops), then works
        calls = {"n": 0}

        def flaky(request):
            if request.param("where") == f"dateparution=date'{recent_chain[1]['dateparution']}'" and calls["n"] < 4:
                calls["n"] += 1
                return FakeResponse(500)
            return ods(request)

        server.route(RECORDS_PATH, flaky)
        write_sources(tmp_path, server.base_url, first_day)
        stopped = tracker_cli("backfill", "boamp", "--since", first_day)
        assert stopped.exit_code != 0 and "FAILED" in stopped.output
        resumed = tracker_cli("backfill", "boamp", "--since", first_day)
        assert resumed.exit_code == 0, resumed.output
        assert "2 new" in resumed.output  # the first day was not fetched again
        assert "v3" in tracker_cli("history", "20-157376").output
