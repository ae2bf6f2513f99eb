"""The timeline pages, the JSON API, the Atom feeds and the calendars: one Starlette app served by uvicorn.

Pages are rendered on the server by Jinja2 with autoescaping (notice text is data, never markup), need no
JavaScript and load nothing from elsewhere: one stylesheet served here. Every response carries a
Content-Security-Policy without inline scripts, ``X-Content-Type-Options``, ``Referrer-Policy`` and a
``Server-Timing`` of the time spent in the app.

Access: bound to a loopback address the server is open to this machine; anywhere else it needs a token,
given as ``Authorization: Bearer TOKEN`` or as the password of HTTP basic auth (a browser asks for it),
compared in constant time. Calendar URLs carry their own per-subscriber token instead (calendar apps send no
headers); tokens are masked in every log line, access logs included.
"""

from __future__ import annotations

import base64
import copy
import hmac
import ipaddress
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlencode
from xml.sax.saxutils import escape as xml_escape

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import Engine, select
from sqlmodel import Session, col
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from tracker.db import session_scope
from tracker.exceptions import TrackerError
from tracker.history import find_procedure, history
from tracker.models import Delivery, Notice, Version
from tracker.render import field_label, kind_label
from tracker.search import (
    STATUS_CHOICES,
    Filters,
    Scope,
    calendar_token,
    changes,
    deadlines_for,
    parse_duration,
    parse_since,
    procedure_deadlines,
    recently_amended,
    scope_of,
    search,
    search_row,
    token_matches,
    upcoming,
)
from tracker.subscribers import Subscriber
from tracker.values import render_value

HERE: Final = Path(__file__).resolve().parent
log = logging.getLogger(__name__)

CSP: Final = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}

# ---------------------------------------------------------------- tokens in logs

_TOKEN_IN_TEXT: Final = re.compile(r"((?:[?&]|\b)token=)[^&\s\"']+", re.IGNORECASE)


def mask_tokens(text: str) -> str:
    """``/calendar/a.ics?token=abc`` → ``/calendar/a.ics?token=***``."""
    return _TOKEN_IN_TEXT.sub(r"\1***", text)


class MaskTokens(logging.Filter):
    """Rewrites a log record with every ``token=…`` masked (installed on uvicorn's handlers and loggers)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_tokens(message)
        if masked != message and isinstance(record.args, tuple) and record.args:  # uvicorn's access formatter
            record.args = tuple(mask_tokens(a) if isinstance(a, str) else a for a in record.args)  # reads args
        elif masked != message:
            record.msg, record.args = masked, None
        return True


def log_config() -> dict[str, Any]:
    """uvicorn's logging configuration with the masking filter on every handler."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"mask_tokens": {"()": MaskTokens}}
    for handler in config["handlers"].values():
        handler["filters"] = ["mask_tokens"]
    return config


# ---------------------------------------------------------------- configuration


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(slots=True)
class WebConfig:
    config_dir: Path = Path("config")
    token: str | None = None
    require_token: bool = False
    base_url: str | None = None
    subscribers: list[Subscriber] | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def load_subscribers(self) -> list[Subscriber]:
        if self.subscribers is None:
            from tracker.subscribers import load_subscribers

            self.subscribers = load_subscribers(self.config_dir)
        return self.subscribers


# ---------------------------------------------------------------- middleware


def _authorised(request: Request, token: str) -> bool:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    given = ""
    if scheme.lower() == "bearer":
        given = value.strip()
    elif scheme.lower() == "basic":
        try:
            given = base64.b64decode(value.strip(), validate=True).decode().partition(":")[2]
        except (ValueError, UnicodeDecodeError):
            given = ""
    return hmac.compare_digest(given.encode(), token.encode())


class Guard(BaseHTTPMiddleware):
    """Token check (calendar URLs excepted: they carry their own), security headers, server time."""

    def __init__(self, app: Any, config: WebConfig) -> None:
        super().__init__(app)
        self.config = config

    async def dispatch(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        path = request.url.path
        guarded = self.config.require_token and not path.startswith("/calendar/")
        if guarded and (not self.config.token or not _authorised(request, self.config.token)):
            response: Response = Response(
                "a token is needed: Authorization: Bearer TOKEN, or the password of basic auth\n",
                status_code=401,
                headers={"WWW-Authenticate": 'Basic realm="tracker"'},
                media_type="text/plain",
            )
            return _secured(response, started)
        response = await call_next(request)
        return _secured(response, started)


def _secured(response: Response, started: float) -> Response:
    response.headers.update(SECURITY_HEADERS)
    response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.2f}"
    return response


# ---------------------------------------------------------------- rendering


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["value"] = lambda v: render_value(v)
    env.filters["field"] = lambda f: field_label(f)
    env.filters["kind"] = lambda k: kind_label(k)
    env.globals["STATUS_CHOICES"] = STATUS_CHOICES
    return env


class Views:
    """The route handlers, sharing one engine, one configuration and one template environment."""

    def __init__(self, engine: Engine, config: WebConfig) -> None:
        self.engine = engine
        self.config = config
        self.env = _environment()

    # -- helpers

    def page(self, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        html = self.env.get_template(template).render(**context)
        return HTMLResponse(html, status_code=status_code)

    def not_found(self, what: str) -> HTMLResponse:
        return self.page("error.html", status_code=404, title="Introuvable", message=what)

    def subscriber(self, name: str) -> Subscriber | None:
        try:
            subs = self.config.load_subscribers()
        except TrackerError as exc:
            log.warning("subscribers not loaded: %s", exc)
            return None
        return next((s for s in subs if s.name == name), None)

    def followers(self, info: dict[str, Any]) -> list[str]:
        """The subscribers who follow or match a procedure."""
        try:
            subs = self.config.load_subscribers()
        except TrackerError:
            return []
        return [s.name for s in subs if scope_of(s)(info)]

    def scope(self, request: Request) -> Scope | None:
        name = request.query_params.get("subscriber")
        if not name:
            return None
        sub = self.subscriber(name)
        return scope_of(sub) if sub is not None else (lambda info: False)

    def filters(self, request: Request) -> Filters:
        q = request.query_params
        now = self.config.clock()
        status = q.get("status", "")
        return Filters(
            text=q.get("q", "")[:200],
            buyer=q.get("buyer", "")[:200],
            cpv=q.get("cpv", "")[:12],
            dept=q.get("dept", "")[:4],
            status=status if status in STATUS_CHOICES else "",
            amended_since=parse_since(q["amended_since"], now=now) if q.get("amended_since") else None,
            deadline_within=parse_duration(q["deadline_within"]) if q.get("deadline_within") else None,
            source=q.get("source", "")[:40],
            limit=min(int(q.get("limit", "50") or 50), 500),
        )

    # -- pages

    async def index(self, request: Request) -> Response:
        now = self.config.clock()
        with session_scope(self.engine) as session:
            soon = upcoming(session, now=now, days=14, limit=100)
            amended = recently_amended(session, limit=20)
        return self.page("index.html", title="Échéances et modifications", upcoming=soon, amended=amended, q={})

    async def search_page(self, request: Request) -> Response:
        try:
            filters = self.filters(request)
        except ValueError as exc:
            return self.page("error.html", status_code=400, title="Recherche", message=str(exc))
        with session_scope(self.engine) as session:
            found = search(session, filters, now=self.config.clock())
        feed = "/feeds/search.atom?" + urlencode({k: v for k, v in request.query_params.items() if v})
        return self.page("search.html", title="Recherche", results=found, q=dict(request.query_params), feed_url=feed)

    async def procedure_page(self, request: Request) -> Response:
        ident = request.path_params["ident"]
        with session_scope(self.engine) as session:
            proc = find_procedure(session, ident)
            if proc is None or proc.id is None:
                return self.not_found(f"Aucune procédure connue sous l'identifiant {ident}.")
            data = history(session, proc)
            reasons = _reasons(session, proc.id)
            deadlines = procedure_deadlines(session, proc.id)
            row = search_row(session, proc.id)
        followers = self.followers(row["info"] if row else {})
        for version in data["versions"]:
            version["reason"] = reasons.get(version["notice_id"])
        return self.page(
            "procedure.html", title=data["procedure"]["id"], data=data, deadlines=deadlines, followers=followers
        )

    async def subscriber_page(self, request: Request) -> Response:
        name = request.path_params["name"]
        sub = self.subscriber(name)
        if sub is None:
            return self.not_found(f"Aucun abonné nommé {name}.")
        with session_scope(self.engine) as session:
            deliveries = _deliveries(session, name)
            token = calendar_token(session, name)
            soon = upcoming(session, now=self.config.clock(), days=30, scope=scope_of(sub), limit=50)
        return self.page(
            "subscriber.html",
            title=f"Abonné {name}",
            sub=sub,
            deliveries=deliveries,
            upcoming=soon,
            calendar_url=f"/calendar/{name}.ics?token={token}",
        )

    # -- API

    async def api_procedures(self, request: Request) -> Response:
        try:
            filters = self.filters(request)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        with session_scope(self.engine) as session:
            found = search(session, filters, now=self.config.clock())
        return JSONResponse(found)

    async def api_history(self, request: Request) -> Response:
        lang = request.query_params.get("lang", "fr")
        with session_scope(self.engine) as session:
            proc = find_procedure(session, request.path_params["ident"])
            if proc is None:
                return JSONResponse({"error": "no such procedure"}, status_code=404)
            data = history(session, proc, lang="en" if lang == "en" else "fr")
        return JSONResponse(data)

    async def api_changes(self, request: Request) -> Response:
        q = request.query_params
        try:
            since = parse_since(q.get("since", "7d"), now=self.config.clock())
            cursor = int(q["cursor"]) if q.get("cursor") else None
            limit = max(1, min(int(q.get("limit", "100") or 100), 1000))
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        with session_scope(self.engine) as session:
            page = changes(session, since=since, cursor=cursor, limit=limit, scope=self.scope(request))
        body: dict[str, Any] = {"since": since.isoformat(), "items": page.items, "cursor": page.cursor}
        if page.cursor is not None:
            body["next"] = str(request.url.include_query_params(cursor=page.cursor))
        return JSONResponse(body)

    async def openapi(self, request: Request) -> Response:
        from tracker.web.openapi import SPEC

        return JSONResponse(SPEC)

    async def api_upcoming(self, request: Request) -> Response:
        try:
            days = max(0, min(int(request.query_params.get("days", "14") or 14), 3650))
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        with session_scope(self.engine) as session:
            found = upcoming(session, now=self.config.clock(), days=days, scope=self.scope(request))
        return JSONResponse(found)

    # -- feeds and calendars

    async def subscriber_feed(self, request: Request) -> Response:
        name = request.path_params["name"]
        sub = self.subscriber(name)
        if sub is None:
            return Response("no such subscriber\n", status_code=404, media_type="text/plain")
        return self._feed(request, f"tracker — {name}", scope_of(sub))

    async def search_feed(self, request: Request) -> Response:
        try:
            filters = self.filters(request)
        except ValueError as exc:
            return Response(f"{exc}\n", status_code=400, media_type="text/plain")
        with session_scope(self.engine) as session:
            ids = {
                p["id"]
                for p in search(session, Filters(**(_fields(filters) | {"limit": 500})), now=self.config.clock())
            }
        return self._feed(request, f"tracker — recherche {filters.text}".strip(), lambda info: info.get("id") in ids)

    def _feed(self, request: Request, title: str, scope: Scope) -> Response:
        with session_scope(self.engine) as session:
            page = changes(session, since=date(1900, 1, 1), limit=100, scope=scope, newest_first=True)
        base = str(request.base_url).rstrip("/")
        xml = atom_feed(title, str(request.url.remove_query_params("token")), base, page.items, self.config.clock())
        return Response(xml, media_type="application/atom+xml; charset=utf-8")

    async def calendar(self, request: Request) -> Response:
        from tracker.calendar import build_calendar

        name = request.path_params["name"]
        given = request.query_params.get("token", "")
        sub = self.subscriber(name)
        with session_scope(self.engine) as session:
            if sub is None or not given or not token_matches(session, name, given):
                return Response("not found\n", status_code=404, media_type="text/plain")
            now = self.config.clock()
            items = deadlines_for(session, scope_of(sub), since=now - timedelta(days=30))
        data = build_calendar(name, items, now=now, base_url=self.config.base_url or str(request.base_url))
        return Response(data, media_type="text/calendar; charset=utf-8")

    async def stylesheet(self, request: Request) -> Response:
        return FileResponse(HERE / "static" / "style.css", media_type="text/css")


def _fields(filters: Filters) -> dict[str, Any]:
    return {name: getattr(filters, name) for name in Filters.__slots__}


def _reasons(session: Session, procedure_id: int) -> dict[str, str]:
    rows = session.execute(
        select(col(Notice.notice_id), col(Notice.record)).where(col(Notice.procedure_id) == procedure_id)
    ).all()
    return {nid: rec.get("reason") for nid, rec in rows if rec and rec.get("reason")}


def _deliveries(session: Session, name: str, limit: int = 50) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Delivery, col(Version.number), col(Notice.notice_id), col(Notice.record))
        .outerjoin(Version, col(Version.id) == col(Delivery.version_id))
        .outerjoin(Notice, col(Notice.id) == col(Version.notice_pk))
        .where(col(Delivery.subscriber) == name)
        .order_by(col(Delivery.id).desc())
        .limit(limit)
    ).all()
    found = []
    for d, number, notice_id, record in rows:
        found.append(
            {
                "id": d.id,
                "status": d.status,
                "attempts": d.attempts,
                "created_at": d.created_at,
                "sent_at": d.sent_at,
                "channel": d.channel_label,
                "notice_id": notice_id,
                "version": number,
                "title": (record or {}).get("title"),
                "digest": d.digest_key,
                "error": d.last_error,
            }
        )
    return found


# ---------------------------------------------------------------- Atom


def atom_feed(title: str, self_url: str, base: str, items: list[dict[str, Any]], now: datetime) -> str:
    """An Atom 1.0 feed of versions with changes (``tracker.search.changes`` items)."""
    entries = []
    for item in items:
        proc = item["procedure"]
        link = f"{base}/procedures/{proc['id']}"
        lines = [c["text"] for c in [*item["changes"], *item.get("corrections", [])]]
        updated = item["published"] or now.date().isoformat()
        entries.append(
            "<entry>"
            f"<id>tag:tracker,2026:{xml_escape(proc['id'])}:v{item['n']}:{xml_escape(item['notice_id'])}</id>"
            f"<title>{xml_escape(proc['id'])} v{item['n']} — {xml_escape(proc['title'] or '')}</title>"
            f"<updated>{updated}T00:00:00Z</updated>"
            f'<link rel="alternate" href="{xml_escape(link)}"/>'
            f"<summary>{xml_escape(chr(10).join(lines))}</summary>"
            "</entry>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        f"<id>{xml_escape(self_url)}</id><title>{xml_escape(title)}</title>"
        f"<updated>{now.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}</updated>"
        f'<link rel="self" href="{xml_escape(self_url)}"/><author><name>tracker</name></author>'
        + "".join(entries)
        + "</feed>\n"
    )


# ---------------------------------------------------------------- the app


def create_app(engine: Engine, config: WebConfig | None = None) -> Starlette:
    config = config or WebConfig()
    views = Views(engine, config)
    routes = [
        Route("/", views.index),
        Route("/search", views.search_page),
        Route("/procedures/{ident:path}", views.procedure_page),
        Route("/subscribers/{name}", views.subscriber_page),
        Route("/api/procedures", views.api_procedures),
        Route("/api/procedures/{ident:path}/history", views.api_history),
        Route("/api/changes", views.api_changes),
        Route("/api/upcoming", views.api_upcoming),
        Route("/api/openapi.json", views.openapi),
        Route("/feeds/subscribers/{name}.atom", views.subscriber_feed),
        Route("/feeds/search.atom", views.search_feed),
        Route("/calendar/{name}.ics", views.calendar),
        Route("/static/style.css", views.stylesheet),
        Route("/favicon.ico", lambda request: Response(status_code=204)),
    ]
    for logger in ("uvicorn.access", "uvicorn.error", "tracker"):
        if not any(isinstance(f, MaskTokens) for f in logging.getLogger(logger).filters):
            logging.getLogger(logger).addFilter(MaskTokens())
    return Starlette(routes=routes, middleware=[Middleware(Guard, config=config)])


def run(app: Starlette, *, host: str, port: int) -> None:
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_config=log_config(), server_header=False)
