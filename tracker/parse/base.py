"""The parser contract: bytes and metadata in (a :class:`~tracker.documents.Document`), notice snapshots or a
quarantine reason out.

A parser is pure: no network, no database, no clock. It says which documents it reads (``accepts``: by the
media type the source declared, else by sniffing the first bytes) and reads them (``parse``), raising
:class:`~tracker.exceptions.ParseError` with a reason a person can act on. The registry in
``tracker.parse`` picks the parser; adding a format is adding a registry entry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

from tracker.documents import Document
from tracker.notice import NoticeRecord, NoticeSnapshot

#: media types of the documents tracker reads (as declared by sources and the reader)
ODS_RECORD = "application/vnd.opendatasoft.record+json"  # one OpenDataSoft v2.1 record
DILA_API = "application/vnd.dila.api+json"  # one record of the retired DILA API
FEED_ITEM = "application/x-feed-item+json"  # one RSS/Atom entry, as JSON, from the feed source
TED_SEARCH_RESULT = "application/vnd.ted.search-result+json"  # one notice of a TED Search API v3 response
JSON = "application/json"
XML = "application/xml"
UNKNOWN = "application/octet-stream"

_XML_ROOT = re.compile(rb"<([A-Za-z_][\w.-]*(?::[A-Za-z_][\w.-]*)?)")
_PROLOGUE = re.compile(rb"\s*(?:<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>]*>)", re.DOTALL)


class Parser(Protocol):
    """One document format."""

    #: stable name, declared by sources (``Document.parser``) and shown in quarantine reasons
    kind: ClassVar[str]

    def accepts(self, document: Document) -> bool:
        """Whether this parser reads the document (by declared media type, else by its first bytes)."""
        ...

    def parse(self, document: Document) -> list[NoticeSnapshot]:
        """The notices the document holds; raise ParseError with the reason when it cannot be read."""
        ...


@dataclass(slots=True)
class ParsedItem:
    """One raw document and what the parse stage made of it: snapshots, or the reason it failed."""

    document: Document
    snapshots: list[NoticeSnapshot] = field(default_factory=list)
    error: str | None = None
    #: the content as the store keeps it (``tracker.codec.pack``), when the parsing process made it already
    packed: bytes | None = None
    #: the snapshots' stored records (``tracker.notice.snapshot_record``), in order, when made already
    records: list[NoticeRecord] | None = None


def head(document: Document, size: int = 2048) -> bytes:
    """The first bytes of the content, leading white space and a byte-order mark removed."""
    return document.content[:size].lstrip(b"\xef\xbb\xbf \t\r\n")


def looks_like_json(document: Document) -> bool:
    return head(document, 16)[:1] in (b"{", b"[")


def xml_root(document: Document) -> str | None:
    """The root element's name (with its prefix) from the first bytes, or None when it is not XML."""
    data = head(document)
    if not data.startswith(b"<"):
        return None
    pos = 0
    while match := _PROLOGUE.match(data, pos):
        if match.end() == pos:
            break
        pos = match.end()
    root = _XML_ROOT.match(data, pos + (len(data[pos:]) - len(data[pos:].lstrip())))
    return root.group(1).decode("ascii") if root else None
