"""Bounded time: a source that drips one byte a second is abandoned after its deadline, never delays another
source, and `tracker run` / `tracker poll` stop on SIGTERM within seconds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tracker.exceptions import TransientError
from tracker.sources.http import DeadlineExceededError, bounded, get, make_client
from tracker.sources.http import Destination as _Destination

ROOT = Path(__file__).resolve().parent.parent


class Drip:
    """A local server that answers every request one byte a second: headers (``phase="headers"``) or body."""

    def __init__(self, phase: str = "body") -> None:
        stopping = threading.Event()
        self.stopping = stopping

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                head = b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: 100000\r\n\r\n"
                try:
                    if phase == "body":
                        self.wfile.write(head)
                        head = b"<" * 100000
                    for byte in head:
                        if stopping.wait(1.0):
                            return
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                except OSError:
                    return

            def log_message(self, *_args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def url(self, path: str = "/") -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}{path}"

    def __enter__(self) -> Drip:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(params=["headers", "body"])
def drip(request: pytest.FixtureRequest) -> Iterator[Drip]:
    with Drip(request.param) as server:
        yield server


def _local(url: str) -> _Destination:
    from tracker.sources.http import origin_of

    origin = origin_of(url)
    assert origin is not None
    return _Destination(trusted=frozenset({origin}))


def test_a_dripping_response_is_abandoned_at_its_total_deadline(drip):
    started = time.monotonic()
    with make_client(timeout=30.0) as client, pytest.raises(DeadlineExceededError, match=r"total deadline of 1\.5 s"):
        get(client, drip.url(), max_bytes=1_000_000, deadline=1.5, destination=_local(drip.url()))
    assert time.monotonic() - started < 3.0


def test_the_poll_budget_bounds_retries_and_requests_together(drip):
    started = time.monotonic()
    with make_client(timeout=30.0) as client, bounded(2.0), pytest.raises(TransientError):
        get(client, drip.url(), max_bytes=1_000_000, deadline=60.0, destination=_local(drip.url()))
    assert time.monotonic() - started < 3.5


def test_a_stop_ends_the_request_under_way_at_once(drip):
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    started = time.monotonic()
    with make_client(timeout=30.0) as client, bounded(stop=stop), pytest.raises(TransientError, match="stopped"):
        get(client, drip.url(), max_bytes=1_000_000, deadline=60.0, destination=_local(drip.url()))
    assert time.monotonic() - started < 1.5


def write_config(config: Path, drip_url: str, inbox: Path, *, deadline: float, budget: str = "60s") -> None:
    config.mkdir(exist_ok=True)
    (config / "sources.yaml").write_text(
        "version: 1\nsources:\n"
        f"  - name: slow\n    kind: feed\n    every: 30m\n    budget: {budget}\n"
        f"    options: {{url: '{drip_url}', deadline: {deadline}, timeout: 30}}\n"
        f"  - name: inbox\n    kind: folder\n    every: 10s\n    options: {{path: '{inbox}'}}\n"
    )


def test_tracker_poll_gives_up_after_the_deadline(tmp_path, tracker_cli):
    with Drip("body") as server:
        write_config(tmp_path / "config", server.url("/rss.xml"), tmp_path / "inbox", deadline=2)
        started = time.monotonic()
        result = tracker_cli("poll", "slow")
    assert time.monotonic() - started < 8
    assert result.exit_code == 1
    assert "FAILED" in result.output and "deadline of 2 s" in result.output


def _tracker(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "TRACKER_DATABASE_URL": f"sqlite:///{tmp_path / 'run.db'}",
        "TRACKER_CONFIG_DIR": str(tmp_path / "config"),
        "PYTHONUNBUFFERED": "1",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "tracker", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _end(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.kill()
    process.wait()
    time.sleep(0.1)  # the reader thread sees the end of the output
    if process.stdout is not None:
        process.stdout.close()


def _read_until(process: subprocess.Popen[str], needle: str, seconds: float) -> list[str]:
    """Lines printed until one holds ``needle`` (or the time is up)."""
    lines: list[str] = []
    found = threading.Event()

    def reader() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if needle in line:
                found.set()

    threading.Thread(target=reader, daemon=True).start()
    found.wait(seconds)
    return lines


def test_tracker_run_polls_another_source_on_time_and_stops_on_sigterm(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.xml").write_bytes(b"<notice/>")
    with Drip("body") as server:
        write_config(tmp_path / "config", server.url("/rss.xml"), inbox, deadline=600, budget="10m")
        process = _tracker(tmp_path, "run")
        try:
            started = time.monotonic()
            lines = _read_until(process, "inbox: 1 fetched", 30)
            assert any("inbox: 1 fetched" in line for line in lines), "".join(lines)
            assert not any(line.startswith("slow:") for line in lines)  # the slow source is still stuck
            assert time.monotonic() - started < 30
            time.sleep(0.5)
            stopped = time.monotonic()
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=10) == 0
            assert time.monotonic() - stopped < 10
        finally:
            _end(process)


def test_tracker_poll_stops_on_sigterm_within_seconds(tmp_path):
    with Drip("body") as server:
        write_config(tmp_path / "config", server.url("/rss.xml"), tmp_path / "inbox", deadline=600, budget="10m")
        process = _tracker(tmp_path, "poll", "slow")
        try:
            lines = _read_until(process, "never printed", 4)  # let it start and get stuck in the drip
            stopped = time.monotonic()
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=10)
            assert time.monotonic() - stopped < 10, "".join(lines)
        finally:
            _end(process)
