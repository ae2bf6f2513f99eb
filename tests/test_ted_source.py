"""The TED source against a local search server (127.0.0.1 only): ITERATION pages of the real v3 fixture, a later
page with a change notice, each notice's XML replacing its lightweight version without a spurious change."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import Engine

from tests import corpus_path
from tracker.db import session_scope
from tracker.documents import Document
from tracker.history import find_procedure, history
from tracker.match import Match
from tracker.notify.render import render_message
from tracker.outbox import version_event
from tracker.parse import parse_document
from tracker.parse.tedsearch import snapshot_from_search_result
from tracker.pipeline import ingest_documents
from tracker.sources import source_classes
from tracker.sources.http import make_client
from tracker.sources.ted import TedOptions, TedSource, unpad
from tracker.subscribers import Subscriber

NOW = datetime(2026, 7, 2, 8, 0, tzinfo=UTC)
PARENT_UUID = "5a1f0c3e-8a55-4b7e-9d1c-0f1e2d3c4b5a"
FOLDER = "0b6d4f2a-1c3e-4f5a-8b7c-9d0e1f2a3b4c"


def notice_xml(pub: str, uuid: str, deadline: str, *, change_of: str | None = None) -> bytes:
    """A small eForms contract notice (or change notice) written for these tests."""
    changes = (
        f"""<efac:Changes><efbc:ChangedNoticeIdentifier>{change_of}</efbc:ChangedNoticeIdentifier>
        <efac:Change><efbc:ChangeDescription languageID="ENG">Deadline extended</efbc:ChangeDescription>
        <efac:ChangedSection><efbc:ChangedSectionIdentifier>LOT-0001</efbc:ChangedSectionIdentifier>
        </efac:ChangedSection></efac:Change>
        <efac:ChangeReason><cbc:ReasonCode>update-add</cbc:ReasonCode></efac:ChangeReason></efac:Changes>"""
        if change_of
        else ""
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<ContractNotice xmlns="urn:oasis:names:specification:ubl:schema:xsd:ContractNotice-2"
 xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
 xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
 xmlns:ext="urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2"
 xmlns:efac="http://data.europa.eu/p27/eforms-ubl-extension-aggregate-components/1"
 xmlns:efbc="http://data.europa.eu/p27/eforms-ubl-extension-basic-components/1"
 xmlns:efext="http://data.europa.eu/p27/eforms-ubl-extensions/1">
 <ext:UBLExtensions><ext:UBLExtension><ext:ExtensionContent><efext:EformsExtension>
  {changes}
  <efac:Publication><efbc:NoticePublicationID schemeName="ojs-notice-id">00{pub}</efbc:NoticePublicationID>
   <efbc:PublicationDate>2026-07-01+02:00</efbc:PublicationDate></efac:Publication>
  <efac:Organizations><efac:Organization><efac:Company>
   <cac:PartyIdentification><cbc:ID>ORG-0001</cbc:ID></cac:PartyIdentification>
   <cac:PartyName><cbc:Name languageID="SWE">Falu kommun</cbc:Name></cac:PartyName>
  </efac:Company></efac:Organization></efac:Organizations>
 </efext:EformsExtension></ext:ExtensionContent></ext:UBLExtension></ext:UBLExtensions>
 <cbc:ID schemeName="notice-id">{uuid}</cbc:ID>
 <cbc:ContractFolderID>{FOLDER}</cbc:ContractFolderID>
 <cbc:IssueDate>2026-06-30+02:00</cbc:IssueDate>
 <cac:ContractingParty><cac:Party><cac:PartyIdentification><cbc:ID>ORG-0001</cbc:ID>
 </cac:PartyIdentification></cac:Party></cac:ContractingParty>
 <cac:ProcurementProject><cbc:Name languageID="SWE">Verksamhetssystem</cbc:Name></cac:ProcurementProject>
 <cac:ProcurementProjectLot><cbc:ID schemeName="Lot">LOT-0001</cbc:ID>
  <cac:TenderingProcess><cac:TenderSubmissionDeadlinePeriod>
   <cbc:EndDate>{deadline}+02:00</cbc:EndDate><cbc:EndTime>12:00:00+02:00</cbc:EndTime>
  </cac:TenderSubmissionDeadlinePeriod></cac:TenderingProcess>
 </cac:ProcurementProjectLot>
</ContractNotice>""".encode()


class TedServer:
    """POST /v3/notices/search answers scripted pages by iteration token; GET serves notice XML files."""

    def __init__(self) -> None:
        self.pages: dict[str | None, dict[str, Any]] = {}
        self.xml: dict[str, bytes] = {}
        self.bodies: list[dict[str, Any]] = []
        self.gets: list[str] = []
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                server.bodies.append(body)
                page = server.pages.get(body.get("iterationNextToken"))
                self._send(200 if page else 400, json.dumps(page or {"error": "bad token"}).encode())

            def do_GET(self) -> None:
                server.gets.append(self.path)
                pub = self.path.removeprefix("/en/notice/").removesuffix("/xml")
                content = server.xml.get(pub)
                self._send(200 if content else 404, content or b"not found", "application/xml")

            def _send(self, status: int, body: bytes, media: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", media)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"


@pytest.fixture
def ted() -> Iterator[TedServer]:
    server = TedServer()
    server.thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()


def fixture_notices() -> list[dict[str, Any]]:
    path = corpus_path("ted_api_json", "ted_v3_search_response_SE_2026-07-01__tender-scan_fixture.json")
    notices: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["notices"]
    return notices


def serve_fixture(ted: TedServer) -> list[dict[str, Any]]:
    notices = fixture_notices()
    page = {"totalNoticeCount": len(notices), "timedOut": False}
    ted.pages[None] = page | {"notices": notices[:3], "iterationNextToken": "tok-1"}
    ted.pages["tok-1"] = page | {"notices": notices[3:], "iterationNextToken": None}
    return notices


def make_source(ted: TedServer, client: Any, **options: Any) -> TedSource:
    opts = TedOptions(
        since=date(2026, 7, 1),
        base_url=ted.base_url,
        notice_url=f"{ted.base_url}/en/notice/{{publication_number}}/xml",
        page_size=3,
        **options,
    )
    return TedSource("ted", opts, client, sleep=lambda _s: None)


def poll(source: TedSource, cursor: dict[str, Any]) -> tuple[list[Document], dict[str, Any]]:
    documents: list[Document] = []
    for _ in range(50):
        result = source.fetch(cursor, now=NOW)
        documents += result.documents
        cursor = result.cursor
        if result.done:
            return documents, cursor
    raise AssertionError("the poll never ended")


def test_registered_and_unpadding() -> None:
    assert source_classes()["ted"] is TedSource
    assert unpad("00041387-2024") == unpad("41387-2024") == "41387-2024"
    assert unpad("2024/S 015-041387") is None


def test_two_iteration_pages_give_every_notice_and_the_fixture_deadline(ted: TedServer) -> None:
    notices = serve_fixture(ted)
    with make_client(timeout=5.0) as client:
        documents, cursor = poll(make_source(ted, client, fetch_xml=False), {})
    assert len(documents) == len(notices) == 5
    first, second = ted.bodies
    assert first["paginationMode"] == "ITERATION" and "iterationNextToken" not in first
    assert second["iterationNextToken"] == "tok-1"
    assert first["limit"] == 3 and first["scope"] == "ALL"
    assert "buyer-country=FRA" in first["query"] and "publication-date>=20260701" in first["query"]
    assert cursor["token"] is None and cursor["since"] == "2026-07-01"  # the last day seen is read again
    snaps = {s.notice_id: s for d in documents for s in parse_document(d)}
    lot_free = snaps["450106-2026"]
    (deadline,) = [a for a in lot_free.amendments if a.field == "tender_deadline"]
    assert deadline.new == date(2026, 8, 27)  # a date without a time stays a date
    assert lot_free.restatement is False and lot_free.extra["lightweight"] is True


def test_search_result_of_a_change_notice_links_and_types() -> None:
    snapshot = snapshot_from_search_result(
        {
            "publication-number": "00460000-2026",
            "publication-date": "2026-07-08+02:00",
            "change-notice-version-identifier": [f"{PARENT_UUID}-01"],
            "change-reason-code": ["update-add"],
            "change-description": {"eng": ["Deadline extended"]},
            "change-previous-notice-section-identifier": ["LOT-0001"],
            "identifier-lot": ["LOT-0001", "LOT-0002"],
            "deadline-receipt-tender-date-lot": ["2026-09-03+02:00", "2026-09-04+02:00"],
            "deadline-receipt-tender-time-lot": ["12:00:00+02:00", "10:00:00+02:00"],
        }
    )
    assert (snapshot.notice_id, snapshot.kind) == ("460000-2026", "change")
    assert snapshot.links == [("notice_id", PARENT_UUID)]
    assert {(a.lot, str(a.new)) for a in snapshot.amendments} == {
        ("LOT-0001", "2026-09-03 12:00:00+02:00"),
        ("LOT-0002", "2026-09-04 10:00:00+02:00"),
    }
    assert snapshot.extra["change_descriptions"] == [{"section": "LOT-0001", "text": "Deadline extended"}]


def change_notice_result() -> dict[str, Any]:
    return {
        "publication-number": "00460000-2026",
        "publication-date": "2026-07-08+02:00",
        "notice-title": {"swe": ["Verksamhetssystem"]},
        "buyer-name": {"swe": ["Falu kommun"]},
        "change-notice-version-identifier": ["450106-2026"],
        "change-reason-code": ["update-add"],
        "identifier-lot": ["LOT-0001"],
        "deadline-receipt-tender-date-lot": ["2026-09-03+02:00"],
        "deadline-receipt-tender-time-lot": ["12:00:00+02:00"],
    }


def _history(engine: Engine, ident: str) -> dict[str, Any]:
    with session_scope(engine) as session:
        proc = find_procedure(session, ident)
        assert proc is not None
        return history(session, proc)


def _notifications(engine: Engine, version_ids: list[int]) -> list[str]:
    out = []
    with session_scope(engine) as session:
        for vid in version_ids:
            event = version_event(session, vid)
            assert event is not None
            subscriber = Subscriber(name="s", urls=("json://127.0.0.1/x",), follow=("450106-2026",))
            match = Match(subscriber, list(event.changes), ["all"], False)
            out.append(render_message(event, match, fmt="text").body)
    return out


def test_polled_notices_become_versions_and_the_xml_replaces_them(ted: TedServer, engine: Engine) -> None:
    serve_fixture(ted)
    ted.xml["450106-2026"] = notice_xml("450106-2026", PARENT_UUID, "2026-08-27")
    notified: list[int] = []
    hook: Callable[[list[int]], None] = notified.extend
    with make_client(timeout=5.0) as client:
        source = make_source(ted, client)
        # the first search page: lightweight versions
        first = source.fetch({}, now=NOW)
        assert [d.parser for d in first.documents] == ["ted_search"] * 3
        ingest_documents(engine, first.documents, now=lambda: NOW, on_versions=hook)
        light = _history(engine, "450106-2026")
        assert light["versions"][0]["notice_id"] == "450106-2026"
        assert light["procedure"]["title"] != "Verksamhetssystem"  # TED's composed notice title, for now
        # then that page's XML files (two notices have none on this server: skipped, their search result stays)
        second = source.fetch(first.cursor, now=NOW)
        assert [d.parser for d in second.documents] == ["eforms"]
        ingest_documents(engine, second.documents, now=lambda: NOW, on_versions=hook)
        rest, _ = poll(source, second.cursor)
        assert [d.parser for d in rest] == ["ted_search"] * 2
        ingest_documents(engine, rest, now=lambda: NOW, on_versions=hook)
        full = _history(engine, "450106-2026")
        assert len(full["versions"]) == 1  # replaced, not a second version
        assert full["versions"][0]["changes"] == []
        assert full["procedure"]["title"] == "Verksamhetssystem"
        # a later poll: a change notice of 450106-2026
        ted.pages[None] = {"notices": [change_notice_result()], "iterationNextToken": None}
        ted.xml["460000-2026"] = notice_xml(
            "460000-2026", "6b2e1d4f-9a66-4c8f-8e2d-1a2b3c4d5e6f", "2026-09-03", change_of=f"{PARENT_UUID}-01"
        )
        before = len(notified)
        later, _ = poll(source, {"since": "2026-07-01"})
        assert [d.parser for d in later] == ["ted_search", "eforms"]
        ingest_documents(engine, later[:1], now=lambda: NOW, on_versions=hook)
        v2 = _history(engine, "450106-2026")["versions"][1]
        assert (v2["notice_id"], v2["kind"]) == ("460000-2026", "change")
        (deadline,) = [c for c in v2["changes"] if c["field"] == "tender_deadline"]
        assert (deadline["old"], deadline["new"]) == ("2026-08-27T12:00+02:00", "2026-09-03T12:00+02:00")
        messages = _notifications(engine, notified[before:])
        assert any("03/09/2026 12:00" in m for m in messages)
        # its XML: the full version, same change, no correction owed
        ingest_documents(engine, later[1:], now=lambda: NOW, on_versions=hook)
        after = _history(engine, "450106-2026")
        assert len(after["versions"]) == 2
        v2 = after["versions"][1]
        assert [(c["field"], c["old"], c["new"]) for c in v2["changes"]] == [
            ("tender_deadline", "2026-08-27T12:00+02:00", "2026-09-03T12:00+02:00")
        ]
        assert "corrections" not in v2
        assert v2["reason"]["code"] == "update-add"


def test_pre_eforms_ted_material_is_quarantined_with_a_reason() -> None:
    from tracker.parse import parse_item

    for name in ("2021-OJS237-623049.json", "633448-2021.json"):
        content = corpus_path("ted_api_json", "ted_api_v2_legacy_search_results", name).read_bytes()
        item = parse_item(Document("ted", name, content, "application/json"))
        assert item.error == "pre-eForms TED format (TED API v2 / TED_EXPORT XML), not supported"
        assert not item.snapshots
