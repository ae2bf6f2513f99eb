"""A real HTTP server on 127.0.0.1 serving scripted responses, for testing sources end to end.

::

    with FakeServer() as server:
        server.route("/feed.xml", FakeResponse(500), FakeResponse(200, body=b"<rss/>", etag='"v1"'))
        url = server.url("/feed.xml")
        ...
        assert server.requests[0].path == "/feed.xml"

A route answers its scripted responses in order, the last one forever. A scripted item may also be
a callable ``(RecordedRequest) -> FakeResponse`` for answers computed from the request
(:class:`OdsRecords` serves OpenDataSoft ``/records`` pages that way). Unrouted paths get 404.

In a test module, a fixture is three lines::

    @pytest.fixture
    def server():
        with FakeServer() as fake:
            yield fake
"""

from __future__ import annotations

import json
import re
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class FakeResponse:
    """One scripted answer.

    ``delay``: seconds to wait before answering (to trigger client timeouts).
    ``truncate``: send only the first N body bytes, with the full Content-Length, then close.
    ``etag``: sent as ``ETag``; a request whose ``If-None-Match`` equals it gets 304 instead.
    """

    status: int = 200
    body: bytes | str = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    truncate: int | None = None
    etag: str | None = None

    @classmethod
    def json(cls, data: Any, status: int = 200, **kwargs: Any) -> FakeResponse:
        headers = {"Content-Type": "application/json; charset=utf-8", **kwargs.pop("headers", {})}
        return cls(status, json.dumps(data, ensure_ascii=False).encode(), headers, **kwargs)

    @property
    def raw(self) -> bytes:
        return self.body.encode() if isinstance(self.body, str) else self.body


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default


Script = FakeResponse | Callable[[RecordedRequest], FakeResponse]


class FakeServer:
    """A ThreadingHTTPServer on 127.0.0.1 (random port) with scripted routes; use as a context manager."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._routes: dict[str, list[Script]] = {}
        self._served: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.01,), name="fake-http", daemon=True)

    def __enter__(self) -> FakeServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, path: str = "") -> str:
        return self.base_url + path

    def route(self, path: str, *responses: Script) -> None:
        """Answer requests for ``path`` (query string ignored) with ``responses`` in order, the last forever."""
        if not responses:
            raise ValueError("route() needs at least one response")
        with self._lock:
            self._routes[path] = list(responses)
            self._served[path] = 0

    def requests_to(self, path: str) -> list[RecordedRequest]:
        return [request for request in self.requests if request.path == path]

    # called from the handler threads

    def _answer(self, request: RecordedRequest) -> FakeResponse:
        with self._lock:
            self.requests.append(request)
            script = self._routes.get(request.path)
            if script is None:
                return FakeResponse(404, b"not found")
            index = min(self._served[request.path], len(script) - 1)
            self._served[request.path] += 1
        item = script[index]
        response = item(request) if callable(item) else item
        if response.etag is not None and request.headers.get("if-none-match") == response.etag:
            return FakeResponse(304, b"", {"ETag": response.etag})
        return response

    def _wait(self, seconds: float) -> None:
        self._stopping.wait(seconds)


def _handler_for(server: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body are separate writes: avoid 40 ms delayed-ACK stalls

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            request = RecordedRequest(
                method="GET",
                path=parts.path,
                query=parse_qs(parts.query, keep_blank_values=True),
                headers={name.lower(): value for name, value in self.headers.items()},
            )
            self._send(server._answer(request))

        def _send(self, response: FakeResponse) -> None:
            if response.delay:
                server._wait(response.delay)
            body = response.raw
            self.send_response_only(response.status)
            headers = {
                "Server": "FakeServer",
                "Date": self.date_time_string(),
                "Content-Type": "application/octet-stream",
                **response.headers,
            }
            if response.etag is not None:
                headers["ETag"] = response.etag
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            if response.truncate is not None:
                self.send_header("Connection", "close")
                self.close_connection = True
                body = body[: response.truncate]
            self.end_headers()
            try:
                self.wfile.write(body)
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout tests)
                self.close_connection = True

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


# ------------------------------------------------------------------ OpenDataSoft and DILA fakes

_DAY_WHERE = re.compile(r"dateparution\s*=\s*date'(\d{4}-\d{2}-\d{2})'")
_RANGE_WHERE = re.compile(
    r"dateparution\s*>=\s*date'(\d{4}-\d{2}-\d{2})'\s+AND\s+dateparution\s*<=\s*date'([\d-]{10})'"
)


def _ods_error(message: str) -> FakeResponse:
    return FakeResponse.json({"message": message, "error_code": "ODSQLError"}, status=400)


class OdsRecords:
    """Serves Explore v2.1 ``/records`` pages of ``records`` for ``where=dateparution=date'…'``.

    Honours ``limit`` (1..100), ``offset`` (offset + limit < 10000) and ``order_by=idweb``,
    and rejects what the real API rejects, with an ODS-style 400 body.
    """

    def __init__(self, records: Iterable[Mapping[str, Any]]) -> None:
        self.by_day: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
        for record in records:
            self.by_day[str(record["dateparution"])[:10]].append(record)

    def __call__(self, request: RecordedRequest) -> FakeResponse:
        match = _DAY_WHERE.fullmatch((request.param("where") or "").strip())
        limit, offset = int(request.param("limit", "10") or 10), int(request.param("offset", "0") or 0)
        if match is None:
            return _ods_error("this fake only understands where=dateparution=date'YYYY-MM-DD'")
        if not 1 <= limit <= 100 or offset + limit >= 10_000:
            return _ods_error("Invalid value for limit/offset")
        day = sorted(self.by_day.get(match.group(1), []), key=lambda record: str(record.get("idweb")))
        return FakeResponse.json({"total_count": len(day), "results": day[offset : offset + limit]})


class OdsExport:
    """Serves ``/exports/jsonl`` for ``where=dateparution>=date'A' AND dateparution<=date'B'``."""

    def __init__(self, records: Iterable[Mapping[str, Any]]) -> None:
        self.records = list(records)

    def __call__(self, request: RecordedRequest) -> FakeResponse:
        match = _RANGE_WHERE.fullmatch((request.param("where") or "").strip())
        if match is None:
            return _ods_error("this fake only understands a dateparution range")
        low, high = match.groups()
        lines = [
            json.dumps(record, ensure_ascii=False)
            for record in self.records
            if low <= str(record["dateparution"])[:10] <= high
        ]
        body = "".join(line + "\n" for line in lines).encode()
        return FakeResponse(200, body, {"Content-Type": "application/jsonl"})


def apache_index(names: Iterable[str], *, title: str = "Index of /OPENDATA/BOAMP") -> FakeResponse:
    """An Apache ``mod_autoindex`` page listing ``names`` (with the usual sort links and parent link)."""
    rows = "\n".join(
        f'<tr><td valign="top"><img src="/icons/text.gif" alt="[TXT]"></td><td><a href="{name}">{name}</a></td>'
        f'<td align="right">2026-09-11 04:46  </td><td align="right"> 12K</td><td>&nbsp;</td></tr>'
        for name in names
    )
    html = (
        f'<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 3.2 Final//EN">\n<html><head><title>{title}</title></head>'
        f"<body><h1>{title}</h1><table>"
        '<tr><th><a href="?C=N;O=D">Name</a></th><th><a href="?C=M;O=A">Last modified</a></th></tr>'
        '<tr><td><a href="/OPENDATA/BOAMP/2026/09/">Parent Directory</a></td></tr>\n'
        f"{rows}</table></body></html>\n"
    )
    return FakeResponse(200, html.encode(), {"Content-Type": "text/html;charset=UTF-8"})
