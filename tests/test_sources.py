"""FETCH stage: HTTP helpers, the three built-in sources, and the registry contract.

Every HTTP test talks to a real server on 127.0.0.1 (tests/httpfake.py); nothing sleeps for real.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from pydantic import ValidationError

from tests import corpus_path
from tests.httpfake import FakeResponse, FakeServer, OdsExport, OdsRecords, RecordedRequest, apache_index
from tracker.exceptions import ConfigError, PermanentError, TransientError
from tracker.sources import BUILTIN_SOURCES, build_registry, source_classes
from tracker.sources.base import Cursor, Document, FetchResult, Source, SourceOptions
from tracker.sources.boamp import BoampOptions, BoampSource
from tracker.sources.feed import FeedOptions, FeedSource
from tracker.sources.folder import FolderOptions, FolderSource
from tracker.sources.http import (
    AllowList,
    CircuitBreaker,
    Destination,
    HttpSource,
    HttpStatusError,
    RateLimitedError,
    RetryPolicy,
    get,
    make_client,
    redact_url,
)

#: what a test calling :func:`get` directly may reach: the local fake servers (URLs from data are refused there)
LOCAL = Destination(allow=AllowList.parse(["127.0.0.0/8"]))
FAST = RetryPolicy(attempts=4, base_delay=0.5, max_delay=4.0, max_wait=60.0, jitter=0.0)
RECORDS_PATH = "/api/explore/v2.1/catalog/datasets/boamp/records"
EXPORT_PATH = "/api/explore/v2.1/catalog/datasets/boamp/exports/jsonl"
FLUX_DAY = "/OPENDATA/BOAMP/2026/09/11/"


class Sleeps(list[float]):
    """An injected ``sleep`` that records the delays instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def server():
    with FakeServer() as fake:
        yield fake


@pytest.fixture
def client():
    with make_client(timeout=5.0) as http:
        yield http


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture(scope="module")
def corpus_records() -> list[dict[str, Any]]:
    path = corpus_path("boamp_ods_api", "gigalis_500_reconstructed_as_v21_results.json")
    results: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["results"]
    return results


def poll(source: Source[Any], cursor: Cursor, now: datetime, *, max_steps: int = 200) -> tuple[list[Document], Cursor]:
    """What the caller does: fetch steps until done, keeping the documents and the last cursor."""
    documents: list[Document] = []
    for _ in range(max_steps):
        result = source.fetch(cursor, now=now)
        documents += result.documents
        cursor = result.cursor
        json.dumps(cursor)  # the caller stores it as JSON
        if result.done:
            return documents, cursor
    raise AssertionError("source never reported done")


def boamp(server: FakeServer, client: httpx.Client, sleeps: Sleeps, **options: Any) -> BoampSource:
    settings = {"base_url": server.base_url, "since": date(2015, 6, 1), **options}
    return BoampSource(
        "boamp", BoampOptions.model_validate(settings), client, policy=FAST, sleep=sleeps, rng=lambda: 0
    )


def records_between(records: list[dict[str, Any]], first: str, last: str) -> list[dict[str, Any]]:
    return [record for record in records if first <= record["dateparution"] <= last]


# ------------------------------------------------------------------ http.get


def test_get_retries_server_errors_with_exponential_backoff(server, client, sleeps):
    server.route("/x", FakeResponse(500), FakeResponse(502), FakeResponse(200, b"ok"))
    response = get(
        client, server.url("/x"), destination=LOCAL, max_bytes=100, policy=FAST, sleep=sleeps, rng=lambda: 0.5
    )
    assert response.content == b"ok"
    assert sleeps == [0.5, 1.0]
    assert len(server.requests) == 3


def test_get_gives_up_with_transient_error_after_the_last_attempt(server, client, sleeps):
    server.route("/x", FakeResponse(503))
    with pytest.raises(TransientError, match=r"HTTP 503 \(gave up after 4 attempts\)"):
        get(client, server.url("/x"), destination=LOCAL, max_bytes=100, policy=FAST, sleep=sleeps)
    assert len(server.requests) == 4
    assert len(sleeps) == 3


def test_get_does_not_retry_a_404(server, client, sleeps):
    with pytest.raises(HttpStatusError, match=r"HTTP 404") as caught:
        get(client, server.url("/missing"), destination=LOCAL, max_bytes=100, policy=FAST, sleep=sleeps)
    assert caught.value.status_code == 404
    assert server.url("/missing") in str(caught.value)
    assert isinstance(caught.value, PermanentError)
    assert len(server.requests) == 1
    assert sleeps == []


def test_get_reports_the_opendatasoft_message_of_a_400(server, client, sleeps):
    server.route("/x", FakeResponse.json({"message": "ODSQL query is malformed", "error_code": "ODSQLError"}, 400))
    with pytest.raises(HttpStatusError, match="HTTP 400: ODSQL query is malformed"):
        get(client, server.url("/x"), destination=LOCAL, max_bytes=1000, policy=FAST, sleep=sleeps)


def test_get_honours_retry_after_seconds_on_429(server, client, sleeps):
    server.route("/x", FakeResponse(429, headers={"Retry-After": "7"}), FakeResponse(200, b"ok"))
    assert get(client, server.url("/x"), destination=LOCAL, max_bytes=100, policy=FAST, sleep=sleeps).content == b"ok"
    assert sleeps == [7.0]


def test_get_honours_retry_after_as_an_http_date_relative_to_the_server_clock(server, client, sleeps):
    server_now = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)
    headers = {"Date": format_datetime(server_now, usegmt=True)}
    headers["Retry-After"] = format_datetime(server_now + timedelta(seconds=42), usegmt=True)
    server.route("/x", FakeResponse(503, headers=headers), FakeResponse(200, b"ok"))
    get(client, server.url("/x"), destination=LOCAL, max_bytes=100, policy=FAST, sleep=sleeps)
    assert sleeps == [42.0]


def test_get_raises_rate_limited_when_the_opendatasoft_quota_resets_much_later(server, client, sleeps):
    server_now = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)
    quota = {
        "errorcode": 10002,
        "reset_time": "2026-11-04T00:00:00Z",
        "limit_time_unit": "day",
        "call_limit": 10000,
        "error": "Too many requests on the domain. Please contact the domain administrator.",
    }
    server.route("/x", FakeResponse.json(quota, 429, headers={"Date": format_datetime(server_now, usegmt=True)}))
    resets = r"quota resets at 2026-11-04T00:00:00\+00:00 \(in 16:00:00\)"
    with pytest.raises(RateLimitedError, match=resets) as caught:
        get(client, server.url("/x"), destination=LOCAL, max_bytes=1000, policy=FAST, sleep=sleeps)
    assert caught.value.retry_after == 16 * 3600
    assert isinstance(caught.value, TransientError)
    assert sleeps == []
    assert len(server.requests) == 1


def test_get_waits_for_an_opendatasoft_quota_that_resets_soon(server, client, sleeps):
    server_now = datetime(2026, 11, 3, 23, 59, 30, tzinfo=UTC)
    quota = {"errorcode": 10005, "reset_time": "2026-11-04T00:00:00Z", "error": "anonymous limit"}
    date_header = {"Date": format_datetime(server_now, usegmt=True)}
    server.route("/x", FakeResponse.json(quota, 429, headers=date_header), FakeResponse(200, b"ok"))
    get(client, server.url("/x"), destination=LOCAL, max_bytes=1000, policy=FAST, sleep=sleeps)
    assert sleeps == [30.0]


def test_get_retries_a_truncated_body(server, client, sleeps):
    server.route("/x", FakeResponse(200, b"0123456789" * 10, truncate=15), FakeResponse(200, b"complete"))
    assert (
        get(client, server.url("/x"), destination=LOCAL, max_bytes=1000, policy=FAST, sleep=sleeps).content
        == b"complete"
    )
    assert len(server.requests) == 2


def test_get_retries_a_timeout_then_raises_transient_error(server, client, sleeps):
    server.route("/slow", FakeResponse(200, b"late", delay=1.0))
    policy = RetryPolicy(attempts=2, jitter=0.0)
    with pytest.raises(TransientError, match=r"timed out \(ReadTimeout\) \(gave up after 2 attempts\)"):
        get(client, server.url("/slow"), destination=LOCAL, max_bytes=100, policy=policy, timeout=0.1, sleep=sleeps)
    assert len(server.requests_to("/slow")) == 2


def test_get_retries_a_refused_connection(client, sleeps):
    with FakeServer() as gone:
        url = gone.url("/x")
    with pytest.raises(TransientError, match="ConnectError"):
        get(client, url, destination=LOCAL, max_bytes=100, policy=FAST, sleep=sleeps)
    assert len(sleeps) == 3


def test_get_refuses_a_body_over_the_cap_announced_by_content_length(server, client, sleeps):
    server.route("/big", FakeResponse(200, b"x" * 2000))
    with pytest.raises(PermanentError, match="response larger than 1000 bytes"):
        get(client, server.url("/big"), destination=LOCAL, max_bytes=1000, policy=FAST, sleep=sleeps)
    assert sleeps == []


def test_get_refuses_a_streamed_body_over_the_cap():
    chunks = [b"x" * 600, b"x" * 600]
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=iter(chunks)))
    with make_client(transport=transport) as http, pytest.raises(PermanentError, match="larger than 1000 bytes"):
        get(http, "https://example.org/stream", destination=LOCAL, max_bytes=1000, policy=FAST, sleep=Sleeps())


def test_make_client_sends_the_tracker_user_agent(server):
    server.route("/x", FakeResponse(200, b"ok"))
    with make_client(timeout=2.0) as http:
        get(http, server.url("/x"), destination=LOCAL, max_bytes=100)
    assert server.requests[0].headers["user-agent"].startswith("tracker/0.1")


# ------------------------------------------------------------------ secrets


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://user:s3cret@example.org/a?b=1", "https://***@example.org/a?b=***"),
        ("https://example.org/a?apikey=s3cret&where=x", "https://example.org/a?apikey=***&where=***"),
        ("https://example.org/rss?access_token=s3cret", "https://example.org/rss?access_token=***"),
        ("https://example.org/rss?q=s3cret", "https://example.org/rss?q=***"),
        ("https://example.org/feeds/a1b2c3d4e5f6a7b8c9d0/rss.xml", "https://example.org/feeds/***/rss.xml"),
        ("https://example.org/OPENDATA/BOAMP/2026/09/11/26-12345.xml", None),
    ],
)
def test_redact_url_masks_passwords_and_secret_parameters(url, shown):
    assert redact_url(url) == (shown or url)


def test_errors_never_contain_secrets(server, client, sleeps):
    server.route("/private", FakeResponse.json({"message": "bad token s3cret-token for you"}, 403))
    url = server.url("/private").replace("http://", "http://robot:pa55word@") + "?token=s3cret-token&q=1"
    with pytest.raises(PermanentError) as caught:
        get(client, url, destination=LOCAL, max_bytes=1000, policy=FAST, sleep=sleeps)
    message = str(caught.value)
    assert "s3cret-token" not in message
    assert "pa55word" not in message
    assert "token=***" in message
    assert "HTTP 403: bad token *** for you" in message


# ------------------------------------------------------------------ retry policy and circuit breaker


def test_backoff_doubles_is_capped_and_jittered():
    policy = RetryPolicy(base_delay=1.0, max_delay=8.0, jitter=0.5)
    assert [policy.backoff(n, lambda: 0.5) for n in range(1, 6)] == [1.0, 2.0, 4.0, 8.0, 8.0]
    assert policy.backoff(1, lambda: 0.0) == 0.5
    assert policy.backoff(1, lambda: 1.0) == 1.5


def test_circuit_breaker_opens_cools_down_probes_and_closes():
    start = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)
    breaker = CircuitBreaker("boamp", threshold=3, cooldown=timedelta(minutes=10))
    for _ in range(3):
        breaker.check(start)
        breaker.record_failure(start)
    assert breaker.state(start) == "open"
    with pytest.raises(TransientError, match="circuit open after 3 consecutive failures"):
        breaker.check(start + timedelta(minutes=9))
    later = start + timedelta(minutes=10)
    assert breaker.state(later) == "half_open"
    breaker.check(later)  # the probe goes through
    breaker.record_failure(later)  # and fails: open again for a full cooldown
    assert breaker.state(later + timedelta(minutes=9)) == "open"
    breaker.record_success()
    assert breaker.state(later) == "closed"
    assert breaker.failures == 0


def test_circuit_breaker_state_survives_a_round_trip_through_json():
    now = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)
    breaker = CircuitBreaker("boamp", threshold=1)
    breaker.record_failure(now)
    restored = CircuitBreaker.from_dict("boamp", json.loads(json.dumps(breaker.to_dict())), threshold=1)
    assert restored == breaker
    assert restored.state(now) == "open"


# ------------------------------------------------------------------ BOAMP, records mode


def test_boamp_walks_days_and_emits_every_record_once(server, client, sleeps, corpus_records):
    server.route(RECORDS_PATH, OdsRecords(corpus_records))
    source = boamp(server, client, sleeps, page_size=2)
    now = datetime(2015, 7, 1, 10, 0, tzinfo=UTC)

    documents, cursor = poll(source, {}, now)

    expected = records_between(corpus_records, "2015-06-01", "2015-07-01")
    assert len(expected) == 8
    assert Counter(json.loads(doc.content)["idweb"] for doc in documents) == Counter(r["idweb"] for r in expected)
    assert cursor == {"day": "2015-06-30", "offset": 0}  # yesterday: re-read on the next poll
    assert sleeps == []


def test_boamp_documents_hold_each_record_as_canonical_json(server, client, sleeps, corpus_records):
    server.route(RECORDS_PATH, OdsRecords(corpus_records))
    source = boamp(server, client, sleeps, since=date(2015, 6, 29))

    result = source.fetch({}, now=datetime(2015, 7, 1, tzinfo=UTC))

    by_idweb = {record["idweb"]: record for record in corpus_records}
    assert len(result.documents) == 3
    for document in result.documents:
        record = by_idweb[json.loads(document.content)["idweb"]]
        assert document.content == json.dumps(record, ensure_ascii=False, sort_keys=True).encode()
        assert document.media_type == "application/json"
        assert document.published == "2015-06-29"
        assert document.source == "boamp"
        assert document.locator == (
            f"{server.url(RECORDS_PATH)}?where=dateparution%3Ddate%272015-06-29%27#{record['idweb']}"
        )
    request = server.requests_to(RECORDS_PATH)[0]
    assert request.param("where") == "dateparution=date'2015-06-29'"
    assert request.param("timezone") == "Europe/Paris"
    assert (request.param("limit"), request.param("offset")) == ("100", "0")
    assert result.cursor == {"day": "2015-06-30", "offset": 0}
    assert result.done is False


def test_boamp_pages_inside_a_day_and_resumes_from_a_stored_cursor(server, client, sleeps, corpus_records):
    server.route(RECORDS_PATH, OdsRecords(corpus_records))
    now = datetime(2015, 6, 30, 12, 0, tzinfo=UTC)
    first = boamp(server, client, sleeps, since=date(2015, 6, 29), page_size=2).fetch({}, now=now)
    assert (len(first.documents), first.cursor, first.done) == (2, {"day": "2015-06-29", "offset": 2}, False)

    # the process dies; a new one starts from the stored cursor
    resumed = boamp(server, client, sleeps, since=date(2015, 6, 29), page_size=2)
    rest, cursor = poll(resumed, first.cursor, now)

    idwebs = [json.loads(doc.content)["idweb"] for doc in first.documents + rest]
    assert sorted(idwebs) == sorted(r["idweb"] for r in records_between(corpus_records, "2015-06-29", "2015-06-30"))
    assert cursor == {"day": "2015-06-29", "offset": 0}


def test_boamp_next_poll_rereads_only_yesterday_and_today(server, client, sleeps, corpus_records):
    server.route(RECORDS_PATH, OdsRecords(corpus_records))
    source = boamp(server, client, sleeps)
    documents, cursor = poll(source, {"day": "2015-06-29", "offset": 0}, datetime(2015, 6, 30, 20, 0, tzinfo=UTC))
    assert sorted(doc.published or "" for doc in documents) == ["2015-06-29"] * 3 + ["2015-06-30"]
    days = [request.param("where") for request in server.requests_to(RECORDS_PATH)]
    assert days == ["dateparution=date'2015-06-29'", "dateparution=date'2015-06-30'"]
    assert cursor == {"day": "2015-06-29", "offset": 0}


def test_boamp_uses_the_paris_date_of_now(server, client, sleeps, corpus_records):
    server.route(RECORDS_PATH, OdsRecords(corpus_records))
    source = boamp(server, client, sleeps, since=date(2015, 6, 30))
    _, cursor = poll(source, {}, datetime(2015, 6, 30, 22, 30, tzinfo=UTC))  # already July 1st in Paris
    assert cursor == {"day": "2015-06-30", "offset": 0}
    assert server.requests_to(RECORDS_PATH)[-1].param("where") == "dateparution=date'2015-07-01'"


def test_boamp_since_in_the_future_fetches_nothing(server, client, sleeps):
    source = boamp(server, client, sleeps, since=date(2030, 1, 1))
    result = source.fetch({}, now=datetime(2026, 11, 3, tzinfo=UTC))
    assert (result.documents, result.cursor, result.done) == ([], {"day": "2030-01-01", "offset": 0}, True)
    assert server.requests == []


def test_boamp_completes_despite_5xx_bursts_and_a_429(server, client, sleeps, corpus_records):
    pages = OdsRecords(corpus_records)
    failures = {
        1: FakeResponse(500),
        2: FakeResponse(502),
        3: FakeResponse(503),
        7: FakeResponse(429, headers={"Retry-After": "3"}),
        12: FakeResponse(500),
        13: FakeResponse(504),
    }
    count = Counter[str]()

    def flaky(request: RecordedRequest) -> FakeResponse:
        count["n"] += 1
        return failures.get(count["n"]) or pages(request)

    server.route(RECORDS_PATH, flaky)
    documents, cursor = poll(boamp(server, client, sleeps, page_size=2), {}, datetime(2015, 7, 1, tzinfo=UTC))

    expected = records_between(corpus_records, "2015-06-01", "2015-07-01")
    assert sorted(json.loads(doc.content)["idweb"] for doc in documents) == sorted(r["idweb"] for r in expected)
    assert cursor == {"day": "2015-06-30", "offset": 0}
    assert 3.0 in sleeps
    assert len(sleeps) == len(failures)


def test_boamp_404_is_permanent_and_not_retried(server, client, sleeps):
    source = boamp(server, client, sleeps, dataset="no-such-dataset")
    with pytest.raises(PermanentError, match=r"HTTP 404") as caught:
        source.fetch({}, now=datetime(2015, 7, 1, tzinfo=UTC))
    assert "/datasets/no-such-dataset/records" in str(caught.value)
    assert len(server.requests) == 1
    assert sleeps == []


def test_boamp_retries_a_truncated_page(server, client, sleeps, corpus_records):
    pages = OdsRecords(corpus_records)
    page = pages(RecordedRequest("GET", RECORDS_PATH, {"where": ["dateparution=date'2015-06-29'"]}, {})).raw
    server.route(RECORDS_PATH, FakeResponse(200, page, truncate=len(page) // 2), pages)
    result = boamp(server, client, sleeps, since=date(2015, 6, 29)).fetch({}, now=datetime(2015, 7, 1, tzinfo=UTC))
    assert len(result.documents) == 3
    assert len(server.requests) == 2


def test_boamp_page_that_is_not_utf8_json_is_a_permanent_error(server, client, sleeps):
    server.route(RECORDS_PATH, FakeResponse(200, b'{"total_count": 1, "results": [{"objet": "\xe9cole"}]}'))
    with pytest.raises(PermanentError, match="response is not valid JSON") as caught:
        boamp(server, client, sleeps).fetch({}, now=datetime(2015, 7, 1, tzinfo=UTC))
    assert server.url(RECORDS_PATH) in str(caught.value)
    assert len(server.requests) == 1


def test_boamp_page_without_results_is_a_permanent_error(server, client, sleeps):
    server.route(RECORDS_PATH, FakeResponse.json({"records": []}))
    with pytest.raises(PermanentError, match="not an OpenDataSoft records page"):
        boamp(server, client, sleeps).fetch({}, now=datetime(2015, 7, 1, tzinfo=UTC))


def test_boamp_timeouts_are_retried_then_transient(server, client, sleeps):
    server.route(RECORDS_PATH, FakeResponse(200, b"{}", delay=1.0))
    source = BoampSource(
        "boamp",
        BoampOptions(base_url=server.base_url, since=date(2015, 6, 1), timeout=0.1),
        client,
        policy=RetryPolicy(attempts=2, jitter=0.0),
        sleep=sleeps,
    )
    with pytest.raises(TransientError, match="timed out"):
        source.fetch({}, now=datetime(2015, 7, 1, tzinfo=UTC))
    assert len(server.requests) == 2


def test_boamp_rejects_an_invalid_cursor(server, client, sleeps):
    with pytest.raises(PermanentError, match="invalid cursor"):
        boamp(server, client, sleeps).fetch({"day": "yesterday"}, now=datetime(2015, 7, 1, tzinfo=UTC))


def test_boamp_rejects_a_naive_now(server, client, sleeps):
    with pytest.raises(ValueError, match="timezone-aware"):
        boamp(server, client, sleeps).fetch({}, now=datetime(2015, 7, 1))


def test_boamp_backfill_streams_the_jsonl_export_in_chunks(server, client, sleeps, corpus_records):
    server.route(EXPORT_PATH, OdsExport(corpus_records))
    source = boamp(server, client, sleeps)

    chunks = list(source.backfill_range(date(2015, 6, 1), date(2015, 6, 30), chunk_size=3))

    assert [len(chunk) for chunk in chunks] == [3, 3, 2]
    expected = records_between(corpus_records, "2015-06-01", "2015-06-30")
    assert [json.loads(doc.content) for chunk in chunks for doc in chunk] == expected
    where = server.requests[0].param("where")
    assert where == "dateparution>=date'2015-06-01' AND dateparution<=date'2015-06-30'"


# ------------------------------------------------------------------ BOAMP, DILA flux mode


def flux(server: FakeServer, client: httpx.Client, sleeps: Sleeps, **options: Any) -> BoampSource:
    settings = {
        "base_url": server.base_url,
        "flux_base_url": server.url("/OPENDATA/BOAMP"),
        "since": date(2026, 9, 11),
        "mode": "flux",
        **options,
    }
    return BoampSource("boamp-xml", BoampOptions.model_validate(settings), client, policy=FAST, sleep=sleeps)


def test_flux_fetches_the_listed_files_then_only_new_ones(server, client, sleeps):
    xml = corpus_path("boamp_dila_flux_2026", "26-88384_MAPA_RECTIFICATIF.xml").read_bytes()
    hostile = ["../../etc/passwd.xml", "http://evil.example/x.xml", "?C=N;O=D", "sub/26-1.xml"]
    server.route(FLUX_DAY, apache_index(["26-88384.xml", *hostile]))
    server.route(FLUX_DAY + "26-88384.xml", FakeResponse(200, xml, {"Content-Type": "application/xml"}))
    source = flux(server, client, sleeps)
    now = datetime(2026, 9, 11, 12, 0, tzinfo=UTC)

    documents, cursor = poll(source, {}, now)

    assert [(doc.locator, doc.content, doc.media_type, doc.published) for doc in documents] == [
        (server.url(FLUX_DAY + "26-88384.xml"), xml, "application/xml", "2026-09-11")
    ]
    assert cursor == {"day": "2026-09-10", "seen": {"2026-09-11": ["26-88384.xml"]}}
    assert {request.path for request in server.requests} == {FLUX_DAY, FLUX_DAY + "26-88384.xml"}

    server.route(FLUX_DAY, apache_index(["26-88384.xml", "26-88390.xml"]))
    server.route(FLUX_DAY + "26-88390.xml", FakeResponse(200, b"<jo:ann/>"))
    server.requests.clear()

    documents, cursor = poll(source, cursor, now)

    assert [doc.locator for doc in documents] == [server.url(FLUX_DAY + "26-88390.xml")]
    assert cursor["seen"] == {"2026-09-11": ["26-88384.xml", "26-88390.xml"]}
    assert server.requests_to(FLUX_DAY + "26-88384.xml") == []


def test_flux_bounds_each_step_to_page_size_files(server, client, sleeps):
    names = [f"26-9000{i}.xml" for i in range(3)]
    server.route(FLUX_DAY, apache_index(names))
    for name in names:
        server.route(FLUX_DAY + name, FakeResponse(200, name.encode()))
    source = flux(server, client, sleeps, page_size=2)
    now = datetime(2026, 9, 11, 12, 0, tzinfo=UTC)

    first = source.fetch({"day": "2026-09-11"}, now=now)
    second = source.fetch(first.cursor, now=now)

    assert ([d.content for d in first.documents], first.done) == ([b"26-90000.xml", b"26-90001.xml"], False)
    assert ([d.content for d in second.documents], second.done) == ([b"26-90002.xml"], True)


def test_flux_skips_a_listed_file_that_is_gone_and_forgets_old_days(server, client, sleeps):
    server.route(FLUX_DAY, apache_index(["26-1.xml", "26-2.xml"]))
    server.route(FLUX_DAY + "26-2.xml", FakeResponse(200, b"<jo:ann/>"))
    cursor = {"day": "2026-09-11", "seen": {"2026-09-01": ["26-0.xml"]}}

    result = flux(server, client, sleeps).fetch(cursor, now=datetime(2026, 9, 11, 12, 0, tzinfo=UTC))

    assert [doc.content for doc in result.documents] == [b"<jo:ann/>"]
    assert result.cursor["seen"] == {"2026-09-11": ["26-1.xml", "26-2.xml"]}


# ------------------------------------------------------------------ feeds

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0">
  <channel>
    <title>Appels d'offres — services</title>
    <link>https://example.org/</link>
    <item>
      <title>Réfection de la toiture de l'école Jules-Ferry</title>
      <link>https://example.org/avis/2026-001</link>
      <guid>urn:avis:2026-001</guid>
      <description>Travaux de couverture, lot unique. Date limite : 20 novembre 2026.</description>
      <pubDate>Tue, 03 Nov 2026 09:00:00 +0100</pubDate>
      <category>Travaux</category>
    </item>
    <item>
      <title>Rectificatif : maîtrise d'œuvre pour la médiathèque</title>
      <link>https://example.org/avis/2026-002</link>
      <guid>urn:avis:2026-002</guid>
      <description>Report de la date limite de remise des offres.</description>
      <pubDate>Mon, 02 Nov 2026 23:30:00 +0000</pubDate>
    </item>
  </channel>
</rss>
"""


def test_feed_emits_one_json_document_per_entry_then_uses_a_conditional_get(server, client, sleeps):
    headers = {"Content-Type": "application/rss+xml; charset=utf-8", "Last-Modified": "Tue, 03 Nov 2026 08:05:00 GMT"}
    server.route("/rss.xml", FakeResponse(200, RSS, headers, etag='"v1"'))
    source = FeedSource("marches", FeedOptions(url=server.url("/rss.xml")), client, policy=FAST, sleep=sleeps)
    now = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)

    first = source.fetch({}, now=now)

    assert first.done is True
    assert first.cursor == {"etag": '"v1"', "modified": "Tue, 03 Nov 2026 08:05:00 GMT"}
    assert [doc.locator for doc in first.documents] == [
        "https://example.org/avis/2026-001",
        "https://example.org/avis/2026-002",
    ]
    assert [doc.published for doc in first.documents] == ["2026-11-03", "2026-11-02"]
    item = json.loads(first.documents[0].content)
    assert list(item) == sorted(item)
    assert item["title"] == "Réfection de la toiture de l'école Jules-Ferry"
    assert item["id"] == "urn:avis:2026-001"
    assert item["tags"] == ["Travaux"]
    assert first.documents[0].media_type == "application/x-feed-item+json"

    second = source.fetch(first.cursor, now=now)

    assert (second.documents, second.cursor, second.done) == ([], first.cursor, True)
    conditional = server.requests[-1].headers
    assert conditional["if-none-match"] == '"v1"'
    assert conditional["if-modified-since"] == "Tue, 03 Nov 2026 08:05:00 GMT"


def test_feed_that_is_not_a_feed_is_a_permanent_error(server, client, sleeps):
    server.route("/rss.xml", FakeResponse(200, b"\xff\xfe not { a feed"))
    source = FeedSource("marches", FeedOptions(url=server.url("/rss.xml")), client, policy=FAST, sleep=sleeps)
    with pytest.raises(PermanentError, match="not an RSS or Atom feed"):
        source.fetch({}, now=datetime(2026, 11, 3, tzinfo=UTC))


# ------------------------------------------------------------------ folders


def folder_source(path: Path, **options: Any) -> FolderSource:
    with make_client() as unused:
        return FolderSource("inbox", FolderOptions(path=path, **options), unused)


def test_folder_emits_new_files_then_nothing_then_modified_files(tmp_path):
    (tmp_path / "a.xml").write_bytes(b"<a/>")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.json").write_bytes(b"{}")
    source = folder_source(tmp_path)
    now = datetime(2026, 11, 3, tzinfo=UTC)

    first = source.fetch({}, now=now)
    assert [(Path(d.locator).name, d.content, d.media_type) for d in first.documents] == [
        ("a.xml", b"<a/>", "application/xml"),
        ("b.json", b"{}", "application/json"),
    ]
    assert set(first.cursor) == {"a.xml", "sub/b.json"}
    assert first.done is True

    assert source.fetch(first.cursor, now=now).documents == []

    (tmp_path / "a.xml").write_bytes(b"<a>changed</a>")
    os.utime(tmp_path / "a.xml", ns=(1, 10**18))
    third = source.fetch(first.cursor, now=now)
    assert [d.content for d in third.documents] == [b"<a>changed</a>"]

    os.utime(tmp_path / "a.xml", ns=(1, 2 * 10**18))  # touched, same content
    assert source.fetch(third.cursor, now=now).documents == []

    (tmp_path / "sub" / "b.json").unlink()
    assert set(source.fetch(third.cursor, now=now).cursor) == {"a.xml"}


def test_folder_bounds_each_step_and_applies_the_pattern(tmp_path):
    for name in ("1.xml", "2.xml", "3.xml", "notes.txt"):
        (tmp_path / name).write_text(name)
    source = folder_source(tmp_path, pattern="*.xml", batch_size=2)
    now = datetime(2026, 11, 3, tzinfo=UTC)

    first = source.fetch({}, now=now)
    second = source.fetch(first.cursor, now=now)

    assert ([d.content for d in first.documents], first.done) == ([b"1.xml", b"2.xml"], False)
    assert ([d.content for d in second.documents], second.done) == ([b"3.xml"], True)
    assert set(second.cursor) == {"1.xml", "2.xml", "3.xml"}


def test_folder_skips_files_over_the_size_cap(tmp_path):
    (tmp_path / "big.xml").write_bytes(b"x" * 100)
    (tmp_path / "small.xml").write_bytes(b"x")
    result = folder_source(tmp_path, max_bytes=10).fetch({}, now=datetime(2026, 11, 3, tzinfo=UTC))
    assert [Path(d.locator).name for d in result.documents] == ["small.xml"]
    assert result.cursor["big.xml"][2] == ""


def test_folder_that_does_not_exist_is_a_permanent_error(tmp_path):
    with pytest.raises(PermanentError, match="does not exist"):
        folder_source(tmp_path / "nope").fetch({}, now=datetime(2026, 11, 3, tzinfo=UTC))


# ------------------------------------------------------------------ registry contract

SOURCE_CLASSES = sorted(source_classes().items())


@pytest.mark.parametrize(("kind", "cls"), SOURCE_CLASSES, ids=[kind for kind, _ in SOURCE_CLASSES])
class TestSourceContract:
    def test_kind_is_stable_lowercase_snake_case(self, kind, cls):
        assert cls.kind == kind
        assert kind.isidentifier()
        assert kind == kind.lower()

    def test_options_forbid_unknown_keys(self, kind, cls):
        assert issubclass(cls.options_model, SourceOptions)
        with pytest.raises(ValidationError) as caught:
            cls.options_model.model_validate({"no_such_option": 1})
        assert "extra_forbidden" in {error["type"] for error in caught.value.errors()}

    def test_http_sources_take_a_base_url_or_url(self, kind, cls):
        if issubclass(cls, HttpSource):  # one endpoint, or pages to watch
            assert {"base_url", "url", "consultations"} & set(cls.options_model.model_fields)

    def test_default_parser_and_documentation(self, kind, cls):
        assert isinstance(cls.default_parser, str) and cls.default_parser
        doc = cls.__doc__ or ""
        for section in ("Publisher", "Options", "API documentation"):
            assert f"\n    {section}\n" in doc, f"{cls.__name__} docstring lacks the {section!r} section"
        for option in cls.options_model.model_fields:
            assert option in doc, f"{cls.__name__} docstring does not document option {option!r}"


def test_kinds_are_unique():
    kinds = [cls.kind for cls in BUILTIN_SOURCES]
    assert len(kinds) == len(set(kinds))


class PluginOptions(SourceOptions):
    url: str = "http://127.0.0.1"


class PluginSource(Source[PluginOptions]):
    """A third-party source, loaded through an entry point."""

    kind: ClassVar[str] = "plugin_demo"
    options_model = PluginOptions
    default_parser = "auto"

    def fetch(self, cursor: Cursor, *, now: datetime) -> FetchResult:
        return FetchResult([], cursor, done=True)


class BadKindSource(PluginSource):
    kind = "Bad-Kind"


def entry_point(target: str) -> EntryPoint:
    return EntryPoint(name="demo", value=f"tests.test_sources:{target}", group="tracker.sources")


def test_registry_adds_valid_entry_point_plugins():
    registry = build_registry(BUILTIN_SOURCES, [entry_point("PluginSource")])
    assert registry["plugin_demo"] is PluginSource
    assert set(registry) == {*(cls.kind for cls in BUILTIN_SOURCES), "plugin_demo"}


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("PluginOptions", "is not a Source subclass"),
        ("BadKindSource", "invalid kind 'Bad-Kind'"),
        ("NoSuchThing", "cannot be loaded"),
    ],
)
def test_registry_rejects_invalid_plugins(target, message):
    with pytest.raises(ConfigError, match=message):
        build_registry(BUILTIN_SOURCES, [entry_point(target)])


def test_registry_rejects_duplicate_kinds():
    with pytest.raises(ConfigError, match="kind 'plugin_demo' is already taken"):
        build_registry([PluginSource], [entry_point("PluginSource")])
