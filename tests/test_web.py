"""The web app: pages, JSON API, feeds, calendars, the token, security headers, masked logs."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import feedparser
import httpx
import pytest
from click.testing import CliRunner

from tests import corpus_path
from tests.viewdata import shifted_records, write_records
from tracker.cli import cli
from tracker.db import make_engine, session_scope, upgrade
from tracker.pipeline import ingest_documents
from tracker.reader import documents_from_file
from tracker.search import calendar_token
from tracker.subscribers import Subscriber
from tracker.web.app import WebConfig, create_app, is_loopback, mask_tokens

pytestmark = pytest.mark.corpus

SUBSCRIBER = Subscriber(name="equipe-ao", urls=("json://127.0.0.1:9/hook",), follow=("20-157376",))
EVIL = "<script>alert(1)</script><img src=x onerror=alert(2)>"


def chains() -> list[Path]:
    return sorted(corpus_path("boamp_ods_api", "chains").glob("*.json"))


@pytest.fixture
def db(engine, tmp_path):
    for path in chains():
        ingest_documents(engine, documents_from_file(path))
    evil = shifted_records("17-31381", ahead=5)
    for record in evil:
        record["objet"] = EVIL
        record["donnees"] = record["donnees"].replace("Vidéosurveillance", EVIL.replace('"', '\\"'))
    for path in write_records(tmp_path / "evil", evil, "e"):
        ingest_documents(engine, documents_from_file(path))
    return engine


class Client:
    """Requests to the ASGI app in this process (httpx's ASGI transport), one event loop per request."""

    def __init__(self, app) -> None:
        self.app = app

    def get(self, url: str, **kwargs) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
                return await http.get(url, **kwargs)

        return asyncio.run(go())


def client(engine, **config) -> Client:
    return Client(create_app(engine, WebConfig(subscribers=[SUBSCRIBER], **config)))


def test_api_history_equals_the_cli_for_every_chain(db, tmp_path):
    if db.dialect.name != "sqlite":
        pytest.skip("the CLI reads the SQLite file; PostgreSQL is checked by the API tests below")
    web = client(db)
    url = db.url.render_as_string(hide_password=False)
    for path in chains():
        ident = path.stem.split("_")[1]
        done = CliRunner().invoke(cli, ["--database-url", url, "history", ident, "--json"], catch_exceptions=False)
        assert done.exit_code == 0, done.output
        api = web.get(f"/api/procedures/{ident}/history")
        assert api.status_code == 200
        assert api.json() == json.loads(done.output), ident


def test_pages_render_and_escape_notice_text(db):
    web = client(db)
    for url in ("/", "/search?q=morbihan", "/procedures/20-157376", "/procedures/17-31381", "/subscribers/equipe-ao"):
        page = web.get(url)
        assert page.status_code == 200, url
        assert "<script" not in page.text.lower(), url
        assert page.headers["content-type"].startswith("text/html")
    evil = web.get("/procedures/17-31381").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in evil and "<img src=x" not in evil
    timeline = web.get("/procedures/20-157376").text
    assert "Date limite de réception des offres" in timeline and "Ouverture des offres" in timeline
    assert "21-6545" in timeline and "21-8404" in timeline and 'href="/subscribers/equipe-ao"' in timeline
    assert web.get("/procedures/99-0").status_code == 404


def test_security_headers_and_server_timing(db):
    response = client(db).get("/")
    csp = response.headers["content-security-policy"]
    assert "script-src" not in csp and "default-src 'none'" in csp and "unsafe-inline" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["server-timing"].startswith("app;dur=")


def test_api_search_changes_paging_and_openapi(db):
    web = client(db)
    found = web.get("/api/procedures", params={"q": "morbihan energies"}).json()
    assert "20-157376" in [p["id"] for p in found]
    assert web.get("/api/procedures", params={"amended_since": "nonsense"}).status_code == 400
    everything = web.get("/api/changes", params={"since": "2000-01-01", "limit": 1000}).json()
    pages, cursor = [], None
    while True:
        params = {"since": "2000-01-01", "limit": 2} | ({"cursor": cursor} if cursor else {})
        body = web.get("/api/changes", params=params).json()
        pages += body["items"]
        cursor = body["cursor"]
        if cursor is None:
            break
    assert pages == everything["items"] and len(pages) > 2
    spec = web.get("/api/openapi.json").json()
    assert spec["openapi"].startswith("3.") and "/api/changes" in spec["paths"]


def test_atom_feeds(db):
    web = client(db)
    feed = feedparser.parse(web.get("/feeds/subscribers/equipe-ao.atom").text)
    assert not feed.bozo and len(feed.entries) == 2  # the two rectificatifs of 20-157376
    assert all("20-157376" in e.title for e in feed.entries)
    saved = feedparser.parse(web.get("/feeds/search.atom", params={"q": "ville havre"}).text)
    assert not saved.bozo and saved.entries and all("17-31381" in e.title for e in saved.entries)
    assert web.get("/feeds/subscribers/nobody.atom").status_code == 404


def test_token_required_off_loopback(db):
    web = client(db, token="s3cret-token", require_token=True)  # noqa: S106  (a test token)
    assert web.get("/").status_code == 401
    assert web.get("/api/procedures").status_code == 401
    assert web.get("/", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert web.get("/", headers={"Authorization": "Bearer s3cret-token"}).status_code == 200
    basic = base64.b64encode(b"any:s3cret-token").decode()
    assert web.get("/", headers={"Authorization": f"Basic {basic}"}).status_code == 200
    with session_scope(db) as s:
        token = calendar_token(s, "equipe-ao")
    assert web.get(f"/calendar/equipe-ao.ics?token={token}").status_code == 200  # calendar apps send no header
    assert web.get("/calendar/equipe-ao.ics?token=guess").status_code == 404
    assert web.get("/calendar/equipe-ao.ics").status_code == 404


def test_loopback_and_masking():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.2") and not is_loopback("example.org")
    assert mask_tokens('"GET /calendar/a.ics?token=abc123&x=1 HTTP/1.1" 200') == (
        '"GET /calendar/a.ics?token=***&x=1 HTTP/1.1" 200'
    )


def test_serve_refuses_a_public_address_without_token(tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    env = {"TRACKER_WEB_TOKEN": ""}
    done = CliRunner(env=env).invoke(cli, ["--database-url", url, "serve", "--host", "0.0.0.0"])
    assert done.exit_code != 0 and "needs a token" in done.output


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(db_path: Path, config: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = os.environ | {"TRACKER_DATABASE_URL": f"sqlite:///{db_path}", "TRACKER_CONFIG_DIR": str(config)}
    env.pop("TRACKER_WEB_TOKEN", None)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tracker", "serve", "--port", str(port)], env=env, stdout=out, stderr=out
        )
    for _ in range(100):
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError(log.read_text())


def write_config(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "subscribers.yaml").write_text(
        'version: 1\nsubscribers:\n  - name: equipe-ao\n    urls: ["json://127.0.0.1:9/hook"]\n'
        '    follow: ["20-157376"]\n',
        encoding="utf-8",
    )
    return folder


def test_served_calendar_token_is_masked_in_the_access_log(tmp_path):
    db_path = tmp_path / "served.db"
    engine = make_engine(f"sqlite:///{db_path}")
    upgrade(engine)
    for path in write_records(tmp_path / "c", shifted_records("20-157376"), "c"):
        ingest_documents(engine, documents_from_file(path))
    with session_scope(engine) as s:
        token = calendar_token(s, "equipe-ao")
    engine.dispose()
    port, log = _free_port(), tmp_path / "serve.log"
    proc = serve(db_path, write_config(tmp_path / "config"), port, log)
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/calendar/equipe-ao.ics?token={token}", timeout=10)
        assert response.status_code == 200 and b"BEGIN:VCALENDAR" in response.content
        assert httpx.get(f"http://127.0.0.1:{port}/calendar/equipe-ao.ics?token=nope", timeout=10).status_code == 404
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    logged = log.read_text()
    assert "/calendar/equipe-ao.ics?token=***" in logged
    assert token not in logged and "token=nope" not in logged
