"""The rough edges a newcomer meets with the command line (issue 13, scope 5)."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tracker.poll import PollReport

#: every command that only reads what is stored, with the arguments it needs
READ_ONLY = [
    ["history", "20-157376"],
    ["history", "20-157376", "--json"],
    ["status"],
    ["deliveries"],
    ["deliveries", "--failed"],
    ["quarantine"],
    ["procedures", "informatique"],
    ["upcoming"],
    ["changes", "--since", "2d"],
]


@pytest.mark.parametrize("args", READ_ONLY, ids=" ".join)
def test_a_read_only_command_never_creates_a_database(tracker_cli, tmp_path, args):
    result = tracker_cli(*args)
    assert result.exit_code == 1, result.output
    assert f"no database at {tmp_path / 'cli.db'}" in result.output
    assert "tracker ingest PATH" in result.output
    assert not (tmp_path / "cli.db").exists()
    assert list(tmp_path.iterdir()) == []


def test_an_empty_database_file_is_not_taken_for_tracker_data(tracker_cli, tmp_path):
    (tmp_path / "cli.db").write_bytes(b"")
    result = tracker_cli("history", "20-157376")
    assert result.exit_code == 1 and "holds no tracker data yet" in result.output


def test_a_read_only_command_reads_a_database_made_by_upgrade(tracker_cli):
    assert tracker_cli("db", "upgrade").exit_code == 0
    assert tracker_cli("status").exit_code == 0
    assert "no deliveries" in tracker_cli("deliveries").output
    assert "nothing quarantined" in tracker_cli("quarantine").output


FOLLOWS = [
    "20-157376",
    "41387-2024",
    "00041387-2024",
    "2024/S 015-041387",
    "d6b7c9a0-1f2e-4a3b-9c8d-7e6f5a4b3c2d",
    "D6B7C9A0-1F2E-4A3B-9C8D-7E6F5A4B3C2D-01",
    "informatique",
    "DCE 2024/12",
]


def test_subscribers_check_warns_on_a_follow_entry_of_no_known_form(tracker_cli, tmp_path):
    (tmp_path / "config").mkdir()
    follows = ", ".join(f'"{f}"' for f in FOLLOWS)
    (tmp_path / "config" / "subscribers.yaml").write_text(
        f'version: 1\nsubscribers:\n  - name: equipe\n    urls: ["json://127.0.0.1:9/x"]\n    follow: [{follows}]\n'
    )
    result = tracker_cli("subscribers", "check")
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 2, result.stderr
    assert "follow 'informatique' is no known identifier form" in warnings[0]
    assert "follow 'DCE 2024/12' is no known identifier form" in warnings[1]
    assert "1 subscriber(s) valid" in result.stdout


def test_subscribers_check_fails_on_a_missing_config_folder(tracker_cli, tmp_path):
    result = tracker_cli("--config", str(tmp_path / "nowhere"), "subscribers", "check")
    assert result.exit_code == 1
    assert f"no configuration folder {tmp_path / 'nowhere'}" in result.output
    assert tracker_cli("subscribers", "check").exit_code == 1  # the default folder is missing as well


def _deep(tmp_path: Path) -> Path:
    """A folder whose path is far longer than a terminal's 80 columns."""
    folder = tmp_path.joinpath(*(f"dossier-de-consultation-{i:02d}" for i in range(8)))
    folder.mkdir(parents=True)
    assert len(str(folder)) > 200
    return folder


def test_output_that_is_no_terminal_is_never_wrapped(tracker_cli, tmp_path):
    bad = _deep(tmp_path) / "notes-de-la-reunion-de-lancement.txt"
    bad.write_text("hello")
    result = tracker_cli("ingest", str(bad))
    skipped = [line for line in result.stderr.splitlines() if line.startswith("skipped")]
    assert len(skipped) == 1 and str(bad) in skipped[0] and "unrecognised format" in skipped[0]


def test_the_status_table_is_as_wide_as_its_rows_when_piped(tracker_cli, tmp_path):
    from tracker.db import make_engine, session_scope
    from tracker.models import SourceState

    assert tracker_cli("db", "upgrade").exit_code == 0
    engine = make_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    cursor = {"day": "2026-11-02", "folder": str(_deep(tmp_path))}
    with session_scope(engine) as session:
        session.add(SourceState(name="dossiers-partages-du-service-achats", kind="folder", cursor=cursor))
    engine.dispose()
    result = tracker_cli("status")
    assert result.exit_code == 0, result.output
    row = next(line for line in result.stdout.splitlines() if "dossiers-partages-du-service-achats" in line)
    assert json.dumps(cursor)[:60] in row and "never" in row and len(row) > 120


def test_a_warning_stays_on_one_line(tracker_cli, tmp_path):
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "subscribers.yaml").write_text(
        'version: 1\nsubscribers:\n  - name: equipe\n    urls: ["json://127.0.0.1:9/x"]\n    follow: ["marché-x"]\n'
    )
    stderr = tracker_cli("subscribers", "check").stderr.splitlines()
    assert len(stderr) == 1 and stderr[0].endswith("carries exactly this value"), stderr


CHAIN = ("boamp_ods_api", "chains", "chain_20-157376_rectif_21-6545_rectif_21-8404.json")


def _bad_inputs(tmp_path: Path) -> dict[str, Path]:
    """One input of each kind that cannot be read, each beside a good file."""
    unknown = tmp_path / "notes.txt"
    unknown.write_text("hello")
    broken = tmp_path / "broken.json"
    broken.write_text('{"results": [')
    record = tmp_path / "one-bad-record.json"
    record.write_text(json.dumps({"results": [{"idweb": "not-an-id"}]}))
    unreadable = tmp_path / "locked.json"
    unreadable.write_text("{}")
    unreadable.chmod(0)
    return {
        "missing path": tmp_path / "nope.json",
        "unrecognised format": unknown,
        "invalid JSON file": broken,
        "bad record in a good file": record,
        "unreadable file": unreadable,
    }


@pytest.mark.corpus
@pytest.mark.parametrize(
    "kind",
    ["missing path", "unrecognised format", "invalid JSON file", "bad record in a good file", "unreadable file"],
)
def test_ingest_exit_status_follows_one_rule_for_every_kind_of_bad_input(tracker_cli, tmp_path, monkeypatch, kind):
    from tests import corpus_path
    from tracker import cli

    bad = _bad_inputs(tmp_path)[kind]
    if kind == "unreadable file" and os.access(bad, os.R_OK):  # root reads every file: refuse this one as a disk would
        real = cli.documents_from_file

        def refusing(path: Path, **kwargs: object) -> object:
            if path == bad:
                raise PermissionError(13, "Permission denied", str(path))
            return real(path, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(cli, "documents_from_file", refusing)
    result = tracker_cli("ingest", str(corpus_path(*CHAIN)), str(bad))
    assert result.exit_code == 1, result.output
    assert "3 stored" in result.stdout  # everything readable is stored all the same
    if kind == "bad record in a good file":
        assert "1 quarantined" in result.stdout and "`tracker quarantine` lists them" in result.stdout
        again = tracker_cli("ingest", str(bad))  # still unreadable: the same status, the same count
        assert again.exit_code == 1 and "1 quarantined" in again.stdout
    else:
        assert "0 quarantined" in result.stdout and "1 file(s) skipped" in result.stdout
        assert f"skipped {bad}" in result.stderr
        if kind == "unreadable file":
            assert "cannot read (Permission denied)" in result.stderr


@pytest.mark.corpus
def test_ingest_of_readable_files_exits_zero_and_says_the_rule_in_its_help(tracker_cli):
    from tests import corpus_path

    assert tracker_cli("ingest", str(corpus_path(*CHAIN))).exit_code == 0
    again = tracker_cli("ingest", str(corpus_path(*CHAIN)))
    assert again.exit_code == 0 and "0 quarantined" in again.stdout and "quarantine`" not in again.stdout
    help_text = " ".join(tracker_cli("ingest", "--help").stdout.split())
    assert "Exit status: 0 when every record of every file was stored or was stored already; 1 when" in help_text


def test_ingest_of_nothing_readable_makes_no_database(tracker_cli, tmp_path):
    result = tracker_cli("ingest", str(tmp_path / "nope.json"))
    assert result.exit_code == 1 and "no such file or folder" in result.output
    assert not (tmp_path / "cli.db").exists()


@pytest.mark.corpus
def test_deliveries_show_times_procedure_notice_and_attempts(tracker_cli, tmp_path):
    from tests.hookserver import HookServer
    from tests.viewdata import shifted_records

    chain = tmp_path / "chain.json"
    chain.write_text(json.dumps({"results": shifted_records("20-157376", ahead=3)}))
    with HookServer() as hooks:
        (tmp_path / "config").mkdir()
        (tmp_path / "config" / "subscribers.yaml").write_text(
            "version: 1\nsubscribers:\n"
            f'  - name: equipe\n    urls: ["json://{hooks.address}/now"]\n    follow: ["20-157376"]\n'
            f'  - name: soir\n    urls: ["json://{hooks.address}/digest"]\n    follow: ["21-8404"]\n'
            "    delivery: {mode: digest, digest: daily, hour: 18, timezone: Europe/Paris}\n"
        )
        assert tracker_cli("ingest", str(chain)).exit_code == 0
        hooks.wait_for(2)
    listed = tracker_cli("deliveries")
    assert listed.exit_code == 0, listed.output
    lines = listed.stdout.splitlines()
    sent = [i for i, line in enumerate(lines) if " sent " in line and "equipe → json://" in line]
    assert len(sent) == 2, listed.stdout  # what the outbox sent for this chain: its two rectificatifs
    told = sorted(lines[i + 1].strip() for i in sent)
    assert told == ["20-157376 v2 (BOAMP 21-6545)", "20-157376 v3 (BOAMP 21-8404)"]
    assert all(
        "attempts 1" in lines[i] and re.search(r"created \S+ \d\d:\d\d[+-]\d\d:\d\d  sent ", lines[i]) for i in sent
    )
    digest = next(i for i, line in enumerate(lines) if "soir → json://" in line)
    assert " pending " in lines[digest] and "next attempt " in lines[digest] and "attempts 0" in lines[digest]
    assert lines[digest + 1].strip().startswith("digest due ")
    assert lines[digest + 1].endswith(": 20-157376 v2 (BOAMP 21-6545), 20-157376 v3 (BOAMP 21-8404)")


RECORDS_PATH = "/api/explore/v2.1/catalog/datasets/boamp/records"


def _sources(tmp_path: Path, base_url: str, folder: Path) -> None:
    (tmp_path / "config").mkdir(exist_ok=True)
    (tmp_path / "config" / "sources.yaml").write_text(
        "version: 1\nsources:\n"
        f"  - name: boamp\n    kind: boamp\n    every: 30m\n    options:\n      base_url: {base_url}\n"
        "      since: 2026-11-01\n"
        f"  - name: depot\n    kind: folder\n    every: 1m\n    options:\n      path: {folder}\n"
    )


def _times(line: str) -> list[datetime]:
    return [datetime.fromisoformat(t) for t in re.findall(r"\d{4}-\d\d-\d\d \d\d:\d\d[+-]\d\d:\d\d", line)]


@pytest.mark.corpus
def test_run_says_when_it_polls_next_and_when_it_retries_an_unreachable_source(tracker_cli, tmp_path, monkeypatch):
    from tests import corpus_path
    from tests.httpfake import FakeResponse, FakeServer
    from tracker import cli
    from tracker.service import Embedded, ReportHook

    class TwoPolls(Embedded):
        """Stops once each source has been polled once."""

        def run_forever(self, *, on_report: ReportHook | None = None) -> None:
            seen: set[str] = set()

            def hook(report: PollReport, next_at: datetime) -> None:
                assert on_report is not None
                on_report(report, next_at)
                seen.add(report.name)
                if len(seen) == 2:
                    self.stop.set()

            super().run_forever(on_report=hook)

    monkeypatch.setattr(cli, "Embedded", TwoPolls)
    folder = tmp_path / "drop"
    folder.mkdir()
    (folder / "chain.json").write_bytes(corpus_path(*CHAIN).read_bytes())
    with FakeServer() as server:
        server.route(RECORDS_PATH, FakeResponse(404, b"gone"))
        _sources(tmp_path, server.base_url, folder)
        started = datetime.now(UTC).replace(second=0, microsecond=0)  # the output says times to the minute
        result = tracker_cli("run")
    assert result.exit_code == 0, result.output
    assert "watching boamp, depot" in result.stderr and "each now, then on its schedule" in result.stderr
    lines = {line.split(":")[0]: line for line in result.stdout.splitlines()}
    failed, ok = lines["boamp"], lines["depot"]
    assert "FAILED: " in failed and "404" in failed
    assert "; retrying at " in failed and failed.endswith("(`tracker ingest PATH` reads local files meanwhile)")
    (retry,) = _times(failed)
    assert timedelta(minutes=30) <= retry - started <= timedelta(minutes=31)
    assert "depot: 1 fetched, 1 new" in ok and "— ok; next poll at " in ok
    (next_poll,) = _times(ok)
    assert timedelta(minutes=1) <= next_poll - started <= timedelta(minutes=2)


def test_run_once_points_to_ingest_when_a_source_is_unreachable(tracker_cli, tmp_path):
    from tests.httpfake import FakeResponse, FakeServer

    folder = tmp_path / "drop"
    folder.mkdir()
    with FakeServer() as server:
        server.route(RECORDS_PATH, FakeResponse(404, b"gone"))
        _sources(tmp_path, server.base_url, folder)
        result = tracker_cli("run", "--once")
    assert "boamp: not polled; `tracker run` tries again on schedule; `tracker ingest PATH` reads" in result.stderr


def test_an_open_circuit_breaker_defers_the_next_poll_to_its_end(tmp_path, sqlite_engine):
    from tracker.config import load_sources
    from tracker.db import session_scope
    from tracker.models import SourceState
    from tracker.service import Embedded
    from tracker.sources.http import make_client

    _sources(tmp_path, "http://127.0.0.1:9", tmp_path)
    now = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    service = Embedded(sqlite_engine, load_sources(tmp_path / "config"), make_client(), clock=lambda: now)
    depot = service.sources.get("depot")
    assert service.next_poll(depot, None) == now
    assert service.next_poll(depot, now) == now + timedelta(minutes=1)
    with session_scope(sqlite_engine) as session:  # five failures in a row opened it 3 minutes ago (15 minutes)
        breaker = {"failures": 5, "opened_at": (now - timedelta(minutes=3)).isoformat()}
        session.add(SourceState(name="depot", kind="folder", cursor={}, breaker=breaker))
    assert service.next_poll(depot, None) == now + timedelta(minutes=12)
    assert service.next_poll(depot, now) == now + timedelta(minutes=12)
    service.close()


def test_a_calendar_request_makes_one_whole_masked_access_log_line():
    import logging

    from uvicorn.logging import AccessFormatter

    from tracker.web.app import MaskTokens

    args = (
        "127.0.0.1:39662",
        "GET",
        "/calendar/equipe.ics?token=fe11c74210a2666cd727af9a3e29f11061fe1fb5",
        "1.1",
        200,
    )
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d', args, None)
    assert MaskTokens().filter(record)
    line = AccessFormatter("%(client_addr)s - %(request_line)s %(status_code)s", use_colors=False).format(record)
    assert line == "127.0.0.1:39662 - GET /calendar/equipe.ics?token=*** HTTP/1.1 200 OK"
