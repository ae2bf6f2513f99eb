"""Hostile XML for every parser: entity expansion, external entities, DTDs, floods, depth bombs.

BOAMP (DILA XML) and eForms go through :func:`tracker.parse.xmltree.parse_xml`; feeds are checked by
:func:`~tracker.parse.xmltree.check_xml` before feedparser sees them; platform pages by
:func:`~tracker.parse.xmltree.check_markup` before ``lxml.html``. Nothing here may leave 127.0.0.0/8: the
"remote" entity and DTD point at a local server, which must receive no request.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.httpfake import FakeResponse, FakeServer
from tracker.documents import Document
from tracker.exceptions import ParseError, PermanentError
from tracker.parse import parse_item
from tracker.parse.platform import _parse_page
from tracker.parse.xmltree import check_xml, parse_xml, xml_to_dict
from tracker.sources.feed import FeedOptions, FeedSource
from tracker.sources.http import RetryPolicy, make_client

ROOT = Path(__file__).resolve().parents[1]

LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<ContractNotice xmlns="urn:oasis:names:specification:ubl:schema:xsd:ContractNotice-2"
  xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
  <cbc:ContractFolderID>&lol9;</cbc:ContractFolderID>
</ContractNotice>
"""

CONTRACT = (
    b'<ContractNotice xmlns="urn:oasis:names:specification:ubl:schema:xsd:ContractNotice-2" '
    b'xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">'
    b"<cbc:ContractFolderID>%s</cbc:ContractFolderID></ContractNotice>"
)


def external_entity(system_id: str) -> bytes:
    head = f'<?xml version="1.0"?>\n<!DOCTYPE ContractNotice [<!ENTITY xxe SYSTEM "{system_id}">]>\n'
    return head.encode() + CONTRACT % b"&xxe;"


def eforms_document(content: bytes) -> Document:
    return Document(source="ted", locator="hostile.xml", content=content, media_type="application/xml")


@pytest.fixture
def server():
    with FakeServer() as fake:
        fake.route("/secret", FakeResponse(200, b"secret-from-the-network"))
        fake.route("/evil.dtd", FakeResponse(200, b'<!ENTITY xxe "secret-from-the-network">'))
        yield fake


# ---------------------------------------------------------------- entities


def test_billion_laughs_is_refused_by_every_xml_parser() -> None:
    with pytest.raises(ParseError, match="entities"):
        parse_xml(LAUGHS)
    dila = LAUGHS.replace(b"ContractNotice", b"ANNONCE")
    with pytest.raises(ParseError, match="entities"):
        xml_to_dict(dila)
    item = parse_item(eforms_document(LAUGHS))  # quarantined, whatever the registry makes of it
    assert item.error and not item.snapshots


def test_billion_laughs_in_utf16_is_refused_too() -> None:
    """The byte check cannot read a UTF-16 prolog: the entity-free parser runs and its DTD is checked after."""
    data = LAUGHS.decode().replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-16"?>')
    with pytest.raises(ParseError):
        parse_xml(data.encode("utf-16"))


@pytest.mark.parametrize("system_id", ["file:///etc/passwd", "file:///etc/hostname"])
def test_external_file_entity_is_refused(system_id: str) -> None:
    with pytest.raises(ParseError, match=r"entities|DTD"):
        parse_xml(external_entity(system_id))


def test_external_http_entity_and_dtd_reach_no_server(server: FakeServer) -> None:
    with pytest.raises(ParseError):
        parse_xml(external_entity(server.url("/secret")))
    for dtd in (server.url("/evil.dtd"), "file:///etc/passwd"):
        with pytest.raises(ParseError, match="external DTD"):
            parse_xml(f'<!DOCTYPE ContractNotice SYSTEM "{dtd}">\n'.encode() + CONTRACT % b"&xxe;")
    # a bare DOCTYPE is harmless: read by the entity-free parser
    assert xml_to_dict(b"<!DOCTYPE ContractNotice>\n" + CONTRACT % b"X-1")[1] == {"cbc:ContractFolderID": "X-1"}
    assert server.requests == []


def test_a_doctype_inside_text_is_no_doctype() -> None:
    data = CONTRACT % b"&lt;!DOCTYPE html&gt; &lt;!ENTITY x 'y'&gt;"
    assert check_xml(data) is True
    assert xml_to_dict(data)[1] == {"cbc:ContractFolderID": "<!DOCTYPE html> <!ENTITY x 'y'>"}


# ---------------------------------------------------------------- floods and depth


def test_element_flood_is_refused_before_parsing() -> None:
    with pytest.raises(ParseError, match="too many elements"):
        parse_xml(b"<a>" + b"<b/>" * 400_000 + b"</a>")
    with pytest.raises(ParseError, match="too many attributes"):
        parse_xml(b"<a " + b" ".join(f'x{i}=""'.encode() for i in range(700_000)) + b"/>")


def test_31_mb_flood_of_tiny_elements_stays_under_500_mb() -> None:
    """Measured in a child process: its peak resident size, parsers and the refusal included."""
    script = textwrap.dedent(
        """
        import resource, sys
        sys.path.insert(0, sys.argv[1])
        from tracker.exceptions import ParseError
        from tracker.parse.xmltree import parse_xml, check_markup
        from tracker.parse.platform import _parse_page
        flood = b"<a>" + b"<b/>" * (31 * 1024 * 1024 // 4 - 2) + b"</a>"
        for parse in (parse_xml, _parse_page):
            try:
                parse(flood)
            except ParseError:
                pass
            else:
                raise SystemExit("accepted")
        for line in open("/proc/self/status"):  # this process's own peak (ru_maxrss counts the parent's too)
            if line.startswith("VmHWM:"):
                print(line.split()[1])
                break
        else:
            print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(ROOT)], capture_output=True, text=True, timeout=120, check=True
    )
    peak_kib = int(done.stdout.strip().splitlines()[-1])
    assert peak_kib < 500 * 1024, f"peak {peak_kib // 1024} MB"


def test_depth_bomb_is_refused_quickly() -> None:
    bomb = b"<a>" * 100_000 + b"</a>" * 100_000
    with pytest.raises(ParseError, match=r"malformed|depth|nested"):
        parse_xml(bomb)
    # within libxml2's depth the conversion's recursion is bounded too
    deep = b"<a>" * 200 + b"x" + b"</a>" * 200
    assert xml_to_dict(deep)[0] == "a"


def test_html_page_depth_and_size_are_bounded() -> None:
    page = _parse_page(b"<html><body>" + b"<div>" * 100_000 + b"</body></html>")
    depth, node = 0, page
    while len(node):
        node, depth = node[0], depth + 1
    assert depth <= 256
    with pytest.raises(ParseError, match="too many elements"):
        _parse_page(b"<html><body>" + b"<p>" * 400_000 + b"</body></html>")


# ---------------------------------------------------------------- feeds


def test_feed_with_entities_never_reaches_feedparser(server: FakeServer) -> None:
    rss = (
        b'<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
        b"<rss version='2.0'><channel><title>&xxe;</title><item><title>&xxe;</title><guid>1</guid></item>"
        b"</channel></rss>"
    )
    server.route("/rss.xml", FakeResponse(200, rss, {"Content-Type": "application/rss+xml"}))
    policy = RetryPolicy(attempts=1, base_delay=0.0, max_delay=0.0, max_wait=1.0, jitter=0.0)
    with make_client(timeout=5.0) as client:
        source = FeedSource("hostile", FeedOptions(url=server.url("/rss.xml")), client, policy=policy)
        with pytest.raises(PermanentError, match="entities"):
            source.fetch({}, now=datetime(2026, 11, 3, tzinfo=UTC))
    laughs = LAUGHS.replace(b"<ContractNotice", b"<rss").replace(b"</ContractNotice>", b"</rss>")
    with pytest.raises(ParseError):
        check_xml(laughs, "feed")
