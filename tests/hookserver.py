"""A local HTTP server for tests: records every request, answers with a configurable status per path.

Usage::

    with HookServer() as hooks:
        hooks.set_status("/broken", 500)                     # this path fails forever
        send(f"json://{hooks.address}/hook", ...)
        request = hooks.wait_for(1)[0]
        assert request.method == "POST" and request.json["title"] == "…"
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str  # without the query string
    query: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        """The body parsed as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def _record(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        request = RecordedRequest(self.command, parts.path, parts.query, dict(self.headers.items()), body)
        status = self.server.owner.record(request)
        payload = b'{"ok": true}' if status < 400 else b'{"ok": false}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _record

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, owner: HookServer) -> None:
        self.owner = owner
        super().__init__(("127.0.0.1", 0), _Handler)


class HookServer:
    """HTTP server on 127.0.0.1 (free port) recording requests; a context manager (or start()/stop())."""

    def __init__(self, default_status: int = 200) -> None:
        self.default_status = default_status
        self._statuses: dict[str, int] = {}
        self._requests: list[RecordedRequest] = []
        self._received = threading.Condition()
        self._server = _Server(self)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def address(self) -> str:
        """``127.0.0.1:PORT``, to build URLs such as ``json://{address}/hook``."""
        return f"127.0.0.1:{self.port}"

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._received:
            return list(self._requests)

    def set_status(self, path: str, status: int) -> None:
        """Answer every request to ``path`` with ``status`` from now on."""
        with self._received:
            self._statuses[path] = status

    def record(self, request: RecordedRequest) -> int:
        with self._received:
            self._requests.append(request)
            self._received.notify_all()
            return self._statuses.get(request.path, self.default_status)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """Block until at least ``count`` requests arrived; return them all (AssertionError on timeout)."""
        deadline = time.monotonic() + timeout
        with self._received:
            while len(self._requests) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"expected {count} request(s), got {len(self._requests)}")
                self._received.wait(remaining)
            return list(self._requests)

    def clear(self) -> None:
        with self._received:
            self._requests.clear()

    def start(self) -> HookServer:
        # a short poll interval makes stop() (and so each test's teardown) quick
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="hookserver", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> HookServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
