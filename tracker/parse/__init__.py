"""PARSE stage: raw documents to :class:`~tracker.notice.NoticeSnapshot`. Pure: no network, no database, no clock.

The registry :data:`PARSERS` lists every format tracker reads, each a :class:`~tracker.parse.base.Parser`.
:func:`parser_for` is the one place that chooses: the parser a source declares (``Document.parser``), else
the first whose ``accepts`` recognises the document (its media type, else its first bytes). A new format
(PDF notices, buyer-platform pages, TED search results) is one more entry here.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, ClassVar

import orjson

from tracker.documents import Document
from tracker.exceptions import ParseError
from tracker.notice import NoticeSnapshot
from tracker.parse import boamp
from tracker.parse.base import (
    DILA_API,
    FEED_ITEM,
    JSON,
    ODS_RECORD,
    TED_SEARCH_RESULT,
    UNKNOWN,
    XML,
    ParsedItem,
    Parser,
    looks_like_json,
    xml_root,
)
from tracker.parse.documents import DOCUMENT_PARSERS
from tracker.parse.eforms import eforms_xml_to_dict, snapshot_from_eforms
from tracker.parse.feed import snapshot_from_feed_item
from tracker.parse.jsonrecords import records_of_bytes
from tracker.parse.tedsearch import snapshot_from_search_result
from tracker.parse.xmltree import xml_to_dict
from tracker.values import clean_text

__all__ = ["PARSERS", "ParsedItem", "Parser", "parse_document", "parse_item", "parse_many", "parser_for"]

_EFORMS_ROOTS = frozenset({"ContractNotice", "ContractAwardNotice", "PriorInformationNotice"})
_DILA_ROOTS = frozenset({"ANNONCE", "ann"})
_GENERIC = frozenset({JSON, XML, UNKNOWN, "text/xml", "text/json", ""})


def _loads(content: bytes) -> Any:
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        raise ParseError(f"invalid JSON: {exc}") from exc


def _local(root: str | None) -> str:
    return (root or "").rsplit(":", 1)[-1]


class OdsRecordParser:
    """One BOAMP OpenDataSoft v2.1 record (flat fields; ``gestion``/``donnees`` as JSON strings)."""

    kind: ClassVar[str] = "boamp_ods"

    def accepts(self, document: Document) -> bool:
        return document.media_type == ODS_RECORD

    def parse(self, document: Document) -> list[NoticeSnapshot]:
        return [boamp.parse_ods_record(_loads(document.content))]


class DilaApiParser:
    """One record of the retired DILA API (``{"gestion": …, "donnees": …}``, lower-case keys)."""

    kind: ClassVar[str] = "boamp_dila_api"

    def accepts(self, document: Document) -> bool:
        return document.media_type == DILA_API

    def parse(self, document: Document) -> list[NoticeSnapshot]:
        data = _loads(document.content)
        if not isinstance(data, dict):
            raise ParseError("DILA API record is not a JSON object")
        return [boamp.parse_dila_api_json(data)]


class FeedItemParser:
    """One RSS/Atom entry, as the feed source stores it (JSON)."""

    kind: ClassVar[str] = "feed_item"

    def accepts(self, document: Document) -> bool:
        return document.media_type == FEED_ITEM

    def parse(self, document: Document) -> list[NoticeSnapshot]:
        item = _loads(document.content)
        if not isinstance(item, dict):
            raise ParseError("feed item is not a JSON object")
        return [snapshot_from_feed_item(document.source, item)]


class DilaXmlParser:
    """DILA XML: v230 ``<ANNONCE>`` and the 3.2.5 daily flux ``<jo:ann>``."""

    kind: ClassVar[str] = "boamp_dila_xml"

    def accepts(self, document: Document) -> bool:
        return document.media_type in _GENERIC | {XML} and _local(xml_root(document)) in _DILA_ROOTS

    def parse(self, document: Document) -> list[NoticeSnapshot]:
        root, tree = xml_to_dict(document.content)
        return [boamp.parse_dila_xml(root, tree)]


class EformsParser:
    """eForms UBL notices (TED, and the EU namespaces rebased by the DILA flux)."""

    kind: ClassVar[str] = "eforms"

    def accepts(self, document: Document) -> bool:
        return document.media_type in _GENERIC | {XML} and _local(xml_root(document)) in _EFORMS_ROOTS

    def parse(self, document: Document) -> list[NoticeSnapshot]:
        root, tree = eforms_xml_to_dict(document.content)  # only what the reader reads
        if not isinstance(tree, dict):
            raise ParseError(f"<{root}> is empty")
        snap = snapshot_from_eforms(_local(root), tree, source="ted")
        snap.url = snap.url or f"https://ted.europa.eu/en/notice/-/detail/{snap.notice_id}"
        return [snap]


class TedSearchParser:
    """One TED Search API v3 result, as the TED source stores it: a lightweight version until the XML comes."""

    kind: ClassVar[str] = "ted_search"

    def accepts(self, document: Document) -> bool:
        return document.media_type == TED_SEARCH_RESULT

    def parse(self, document: Document) -> list[NoticeSnapshot]:
        return [snapshot_from_search_result(_loads(document.content), source="ted")]


class LegacyTedParser:
    """Pre-eForms TED material (the retired TED API v2 search results, TED_EXPORT XML): recognised, not read,
    so it is quarantined with a reason a person can act on rather than as an unreadable BOAMP record."""

    kind: ClassVar[str] = "ted_legacy"

    def accepts(self, document: Document) -> bool:
        if _local(xml_root(document)) == "TED_EXPORT":
            return True
        start = document.content[:4096]
        return looks_like_json(document) and (b'"ND"' in start or b'"took"' in start) and b'"idweb"' not in start

    def parse(self, document: Document) -> list[NoticeSnapshot]:
        raise ParseError("pre-eForms TED format (TED API v2 / TED_EXPORT XML), not supported")


class OdsJsonParser:
    """A JSON file dropped in a folder: one ODS record, a v2.1 ``/records`` response, an export list, or a
    DILA API record. One bad record of such a file does not hide the others."""

    kind: ClassVar[str] = "boamp_json"

    def accepts(self, document: Document) -> bool:
        return document.media_type in _GENERIC and looks_like_json(document)

    def parse(self, document: Document) -> list[NoticeSnapshot]:
        records = list(records_of_bytes(document.content, max_record=len(document.content) + 1))
        if not records:  # no records array: one record
            data = _loads(document.content)
            if isinstance(data, dict) and "gestion" in data and "donnees" in data and "idweb" not in data:
                return [boamp.parse_dila_api_json(data)]
            if isinstance(data, list) or (isinstance(data, dict) and isinstance(data.get("results"), list)):
                raise ParseError("no readable record in the JSON document")
            return [boamp.parse_ods_record(data)]
        snapshots = []
        for record in records:  # each read on its own: a record the JSON reader refuses is that record alone
            try:
                snapshots.append(bounded(document, [boamp.parse_ods_record(orjson.loads(record.raw))])[0])
            except Exception:  # noqa: S112 - one unreadable record of a file does not hide the others
                continue
        if not snapshots:
            raise ParseError("no readable record in the JSON document")
        return snapshots


#: every format tracker reads; the first that accepts a document reads it
PARSERS: tuple[Parser, ...] = (
    OdsRecordParser(),
    DilaApiParser(),
    FeedItemParser(),
    DilaXmlParser(),
    EformsParser(),
    TedSearchParser(),
    LegacyTedParser(),
    OdsJsonParser(),
    *DOCUMENT_PARSERS,
)
_BY_KIND: dict[str, Parser] = {p.kind: p for p in PARSERS}


def parser_for(document: Document) -> Parser:
    """The parser the document's source declares, else the first that recognises it."""
    if document.parser:
        try:
            return _BY_KIND[document.parser]
        except KeyError:
            raise ParseError(f"unknown parser {document.parser!r} declared for this document") from None
    for parser in PARSERS:
        if parser.accepts(document):
            return parser
    root = xml_root(document)
    if root is not None:
        raise ParseError(f"unknown XML document <{root}>")
    raise ParseError(f"no parser for media type {document.media_type}")


def parse_document(document: Document) -> list[NoticeSnapshot]:
    """Parse one raw document (pure). Raise ParseError with the reason."""
    return parser_for(document).parse(document)


def parse_item(item: Document | ParsedItem) -> ParsedItem:
    """What the parse stage makes of a document: never raises (any exception of any type quarantines the
    document with its reason). Snapshots come out fit for storage: no NUL, other control character or lone
    surrogate in their texts, identifiers within their columns (:func:`bounded`)."""
    if isinstance(item, ParsedItem):
        return item
    try:
        snapshots = bounded(item, parse_document(item))
    except ParseError as exc:
        return ParsedItem(item, error=clean_text(str(exc), 2000))
    except RecursionError:
        return ParsedItem(item, error="document nested too deeply")
    except Exception as exc:  # a parser bug must never stop the batch: the document is quarantined
        return ParsedItem(item, error=clean_text(f"unexpected {type(exc).__name__}: {exc}", 2000))
    if not snapshots:
        return ParsedItem(item, error="no notice found in document")
    return ParsedItem(item, snapshots=snapshots)


#: the columns' lengths (tracker.models): ``notice.notice_id``, ``identifier.scheme``, ``identifier.value``
NOTICE_ID_CHARS, SCHEME_CHARS, IDENTIFIER_CHARS = 80, 20, 120
#: raw bytes that may decode to a character :func:`tracker.values.clean_text` removes (raw controls, JSON
#: escapes of controls and surrogates): only documents holding one have their snapshots' texts walked
#: (two searches: an alternation of both is several times slower on an 8 KB record)
#: past this size (a 100 KB page, a PDF) walking the snapshots' few texts is cheaper than scanning the bytes
_SCAN_LIMIT = 32 * 1024
_RAW_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ESCAPED_CONTROL = re.compile(rb"\\u(?:00[01][0-9a-fA-F]|007[fF]|[dD][89a-fA-F])")


def bounded(document: Document, snapshots: list[NoticeSnapshot]) -> list[NoticeSnapshot]:
    """Snapshots fit for storage. A notice id longer than its column is no notice id (ParseError); an
    identifier or link longer than its column identifies nothing and is left out; texts lose NUL, the other
    control characters and lone surrogates (PostgreSQL refuses NUL)."""
    content = document.content
    if len(content) > _SCAN_LIMIT or _RAW_CONTROL.search(content) or _ESCAPED_CONTROL.search(content):
        snapshots = [_cleaned(snap) for snap in snapshots]
    for snap in snapshots:
        if not snap.notice_id or len(snap.notice_id) > NOTICE_ID_CHARS:
            raise ParseError(f"notice id of {len(snap.notice_id)} characters (at most {NOTICE_ID_CHARS})")
        snap.identifiers = [k for k in snap.identifiers if _fits(k)]
        snap.links = [k for k in snap.links if _fits(k)]
    return snapshots


def _fits(key: tuple[str, str]) -> bool:
    return 0 < len(key[1]) <= IDENTIFIER_CHARS and len(key[0]) <= SCHEME_CHARS


def _cleaned(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list | tuple):
        return type(value)(_cleaned(v) for v in value)
    if isinstance(value, dict):
        return {_cleaned(k): _cleaned(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):  # frozen ones too: a cleaned copy
        return dataclasses.replace(
            value, **{f.name: _cleaned(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}
        )
    return value


def parse_many(documents: list[Document]) -> list[tuple[list[NoticeSnapshot], str | None]]:
    """:func:`parse_item` for a list of documents, as (snapshots, error) pairs: what a parsing process returns
    (the documents stay with the caller)."""
    return [(item.snapshots, item.error) for item in map(parse_item, documents)]
