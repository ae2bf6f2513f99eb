"""Outbound safety: URLs taken from data never reach loopback, private, link-local or unique-local addresses.

No test here sends a packet outside 127.0.0.0/8, not even when the guard is broken: every name resolves
through :class:`FakeNetwork`, and every connection is dialled through its ``route``, which lands a "public"
address on a local server and raises :class:`Dialled` for anything else that is not loopback.
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.httpfake import FakeResponse, FakeServer
from tracker.config import load_sources
from tracker.exceptions import PermanentError
from tracker.sources.feed import FeedOptions, FeedSource
from tracker.sources.http import (
    ANYWHERE_PUBLIC,
    AllowList,
    BlockedDestinationError,
    Destination,
    blocked_kind,
    get,
    make_client,
)

PUBLIC = "93.184.216.34"  # stands for a public web server; dialled as the local fake server
RSS = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
    b"<item><title>Avis</title><link>https://example.org/a</link><guid>a</guid></item></channel></rss>"
)


class Dialled(AssertionError):
    """The guard let a connection to a non-public address through: the test network refuses to dial it."""


class FakeNetwork:
    """An injected resolver and route: names resolve as the test says; connections land on loopback only."""

    def __init__(self, names: dict[str, list[list[str]]], public: dict[str, int] | None = None) -> None:
        self.names = names  # host -> successive answers (the last one repeats)
        self.public = public or {}  # address standing for a public server -> local port that plays it
        self.lookups: list[str] = []
        self.dialled: list[tuple[str, int]] = []

    def resolve(self, host: str, port: int) -> list[str]:
        answers = self.names.get(host)
        if not answers:
            raise OSError(f"test network: unknown name {host}")
        count = sum(1 for seen in self.lookups if seen == host)
        self.lookups.append(host)
        return answers[min(count, len(answers) - 1)]

    def route(self, address: str, port: int) -> tuple[str, int]:
        self.dialled.append((address, port))
        if address in self.public:
            return "127.0.0.1", self.public[address]
        if ipaddress.ip_address(address).is_loopback:
            return address, port
        raise Dialled(f"test network: refusing to dial {address}:{port}")

    def client(self) -> httpx.Client:
        return make_client(timeout=5.0, resolver=self.resolve, route=self.route)


@pytest.fixture
def server():
    with FakeServer() as fake:
        yield fake


def fetch(network: FakeNetwork, url: str, destination: Destination = ANYWHERE_PUBLIC) -> httpx.Response:
    with network.client() as client:
        return get(client, url, max_bytes=10_000, destination=destination, sleep=lambda _s: None)


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("http://127.0.0.1/", "loopback"),
        ("http://127.9.9.9:8080/x", "loopback"),
        ("http://[::1]/", "loopback"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://10.0.0.1/", "private"),
        ("http://192.168.1.1/", "private"),
        ("http://[fd00::1]/", "unique-local"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://0.0.0.0/", "unspecified"),
    ],
)
def test_a_data_url_to_a_literal_non_public_address_is_refused(url, kind):
    network = FakeNetwork({})
    with pytest.raises(BlockedDestinationError, match=kind):
        fetch(network, url)
    assert network.dialled == []


def test_a_name_resolving_to_a_private_address_is_refused_without_dialling():
    network = FakeNetwork({"intranet.example": [["10.0.0.1"]], "metadata.example": [["169.254.169.254"]]})
    for url in ("http://intranet.example/", "https://metadata.example/latest/"):
        with pytest.raises(BlockedDestinationError, match=r"resolves to .* refused"):
            fetch(network, url)
    assert network.dialled == []


def test_a_public_name_is_fetched_through_the_address_that_was_checked(server):
    server.route("/notice", FakeResponse(200, b"ok"))
    network = FakeNetwork({"notices.example": [[PUBLIC]]}, public={PUBLIC: int(server.base_url.rsplit(":", 1)[1])})
    assert fetch(network, "http://notices.example/notice").content == b"ok"
    assert network.dialled == [(PUBLIC, 80)]


def test_a_dns_answer_that_changes_after_the_check_cannot_reach_the_private_address(server):
    """Rebinding: the first answer is public, every later one private. The name is resolved once per
    connection and the socket goes to the very address that was checked."""
    server.route("/a", FakeResponse(200, b"first"))
    port = int(server.base_url.rsplit(":", 1)[1])
    network = FakeNetwork({"rebind.example": [[PUBLIC], ["10.0.0.1"]]}, public={PUBLIC: port})
    assert fetch(network, "http://rebind.example/a").content == b"first"
    assert network.dialled == [(PUBLIC, 80)]
    with pytest.raises(BlockedDestinationError):  # a new connection resolves again, and is checked again
        fetch(network, "http://rebind.example/a")
    assert network.dialled == [(PUBLIC, 80)]


@pytest.mark.parametrize(
    "location",
    ["http://10.0.0.1/", "http://169.254.169.254/latest/meta-data/", "http://intranet.example/", "http://[::1]/"],
)
def test_a_redirect_to_a_non_public_address_is_refused(server, location):
    server.route("/moved", FakeResponse(302, b"", {"Location": location}))
    port = int(server.base_url.rsplit(":", 1)[1])
    network = FakeNetwork({"notices.example": [[PUBLIC]], "intranet.example": [["10.0.0.7"]]}, public={PUBLIC: port})
    with pytest.raises(BlockedDestinationError):
        fetch(network, "http://notices.example/moved")
    assert network.dialled == [(PUBLIC, 80)]


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.org/x", "gopher://127.0.0.1:70/"])
def test_other_schemes_are_refused(url):
    network = FakeNetwork({})
    with pytest.raises(PermanentError, match="only http and https"):
        fetch(network, url)
    assert network.dialled == []


def test_a_redirect_to_a_file_url_is_refused(server):
    server.route("/moved", FakeResponse(302, b"", {"Location": "file:///etc/passwd"}))
    network = FakeNetwork({})
    configured = Destination(trusted=frozenset({("127.0.0.1", int(server.base_url.rsplit(":", 1)[1]))}))
    with pytest.raises(PermanentError):
        fetch(network, server.url("/moved"), configured)


def test_a_configured_127_0_0_1_source_is_fetched_as_configured(server):
    server.route("/rss.xml", FakeResponse(200, RSS, {"Content-Type": "application/rss+xml"}))
    network = FakeNetwork({})
    with network.client() as client:
        source = FeedSource("mirror", FeedOptions(url=server.url("/rss.xml")), client)
        result = source.fetch({}, now=datetime(2026, 11, 3, tzinfo=UTC))
    assert len(result.documents) == 1
    assert network.dialled == [("127.0.0.1", int(server.base_url.rsplit(":", 1)[1]))]


def test_a_configured_source_redirecting_elsewhere_on_loopback_is_refused(server):
    with FakeServer() as other:
        other.route("/secret", FakeResponse(200, b"internal"))
        server.route("/rss.xml", FakeResponse(302, b"", {"Location": other.url("/secret")}))
        network = FakeNetwork({})
        with network.client() as client:
            source = FeedSource("mirror", FeedOptions(url=server.url("/rss.xml")), client)
            with pytest.raises(BlockedDestinationError, match="loopback"):
                source.fetch({}, now=datetime(2026, 11, 3, tzinfo=UTC))
        assert other.requests == []


def test_a_data_url_on_the_configured_origin_is_the_operators_choice(server):
    """A link found in data that points back at the configured server reaches it (same origin)."""
    server.route("/rss.xml", FakeResponse(200, RSS))
    server.route("/doc", FakeResponse(200, b"doc"))
    network = FakeNetwork({})
    with network.client() as client:
        source = FeedSource("mirror", FeedOptions(url=server.url("/rss.xml")), client)
        assert source.get(server.url("/doc")).content == b"doc"


def test_the_allow_list_admits_what_it_names(server):
    server.route("/x", FakeResponse(200, b"allowed"))
    port = int(server.base_url.rsplit(":", 1)[1])
    network = FakeNetwork({"intranet.example": [["10.1.2.3"]]}, public={"10.1.2.3": port})
    allow = Destination(allow=AllowList.parse(["10.1.0.0/16"]))
    assert fetch(network, "http://intranet.example/x", allow).content == b"allowed"
    by_name = Destination(allow=AllowList.parse([".example"]))
    assert fetch(network, "http://intranet.example/x", by_name).content == b"allowed"
    with pytest.raises(BlockedDestinationError):
        fetch(network, "http://intranet.example/x", Destination(allow=AllowList.parse(["10.9.0.0/16"])))


def test_blocked_kinds():
    assert blocked_kind(ipaddress.ip_address(PUBLIC)) is None
    assert blocked_kind(ipaddress.ip_address("2001:4860:4860::8888")) is None
    assert blocked_kind(ipaddress.ip_address("fe80::1")) == "link-local"
    assert blocked_kind(ipaddress.ip_address("100.64.0.1")) == "reserved"


def test_the_configuration_allow_list_reaches_every_http_source(tmp_path: Path):
    (tmp_path / "sources.yaml").write_text(
        "version: 1\noutbound:\n  allow: [10.20.0.0/16, .intranet.example]\nsources:\n"
        "  - name: alerts\n    kind: feed\n    every: 30m\n    allow: [192.168.5.5]\n"
        "    options: {url: 'https://alerts.example.org/rss'}\n"
    )
    cfg = load_sources(tmp_path).get("alerts")
    with make_client() as client:
        source = cfg.build(client)
    assert isinstance(source, FeedSource)
    allow = source.destination.allow
    assert allow.admits_address(ipaddress.ip_address("10.20.1.1"))
    assert allow.admits_address(ipaddress.ip_address("192.168.5.5"))
    assert allow.admits_host("docs.intranet.example")
    assert source.destination.trusted == frozenset({("alerts.example.org", 443)})


def test_an_invalid_allow_entry_is_a_configuration_error(tmp_path: Path):
    from tracker.exceptions import ConfigError

    (tmp_path / "sources.yaml").write_text("version: 1\noutbound:\n  allow: ['not a network!']\nsources: []\n")
    with pytest.raises(ConfigError, match=r"outbound\.allow"):
        load_sources(tmp_path)
