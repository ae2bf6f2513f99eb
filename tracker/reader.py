"""Reading local input: files and folders become raw documents; raw documents become snapshots.

Formats are detected from the content, not trusted from the file name:

* OpenDataSoft v2.1 ``/records`` responses ``{"total_count", "results": [...]}``, JSON exports (a list of
  records) and JSONL exports (a record a line): one document per record;
* DILA XML (``ANNONCE`` v230, ``jo:ann`` 3.2.5) and eForms XML (TED): one document per file;
* the retired DILA API JSON (``{"gestion": …, "donnees": …}`` with lower-case keys).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from tracker.exceptions import ParseError
from tracker.notice import NoticeSnapshot
from tracker.parse import boamp
from tracker.parse.eforms import snapshot_from_eforms
from tracker.parse.feed import snapshot_from_feed_item
from tracker.parse.xmltree import xml_to_dict
from tracker.store import ParsedItem, RawDocument

ODS_RECORD = "application/vnd.opendatasoft.record+json"
DILA_API = "application/vnd.dila.api+json"
XML = "application/xml"
FEED_ITEM = "application/x-feed-item+json"

MAX_FILE_BYTES = 2 * 1024 * 1024 * 1024
_EFORMS_ROOTS = {"ContractNotice", "ContractAwardNotice", "PriorInformationNotice"}


def record_bytes(record: Any) -> bytes:
    """Canonical bytes of one record: the same record always hashes the same."""
    return orjson.dumps(record, option=orjson.OPT_SORT_KEYS)


def _record_locator(path: Path, record: Any, index: int) -> str:
    idweb = record.get("idweb") if isinstance(record, dict) else None
    return f"{path}#{idweb or index}"


class InputError(ParseError):
    """A whole input file cannot be read (as opposed to one bad record in it)."""


def iter_files(paths: list[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
        elif path.is_file():
            yield path
        else:
            raise InputError(f"{path}: no such file or folder")


def _json_documents(path: Path, data: Any, source: str) -> Iterator[RawDocument | ParsedItem]:
    if isinstance(data, dict) and isinstance(data.get("results"), list):
        records: list[Any] = data["results"]
    elif isinstance(data, list):
        records = data
    elif isinstance(data, dict) and "gestion" in data and "donnees" in data and "idweb" not in data:
        yield RawDocument(source, str(path), record_bytes(data), DILA_API)
        return
    elif isinstance(data, dict) and "idweb" in data:
        records = [data]
    else:
        raise InputError(f"{path}: JSON of an unknown shape (no 'results' list, no record)")
    for i, record in enumerate(records):
        yield RawDocument(source, _record_locator(path, record, i), record_bytes(record), ODS_RECORD)


def _jsonl_documents(path: Path, source: str) -> Iterator[RawDocument | ParsedItem]:
    with path.open("rb") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            locator = f"{path}:{lineno}"
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                doc = RawDocument(source, locator, line, ODS_RECORD)
                yield ParsedItem(doc, error=f"line {lineno}: invalid JSON: {exc}")
                continue
            yield RawDocument(source, _record_locator(path, record, lineno), record_bytes(record), ODS_RECORD)


def documents_from_file(path: Path, *, source: str = "boamp") -> Iterator[RawDocument | ParsedItem]:
    """Raw documents in a file; a bad record comes out as a ParsedItem carrying its error."""
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise InputError(f"{path}: file too large ({size} bytes)")
    with path.open("rb") as fh:
        head = fh.read(512).lstrip()
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        yield from _jsonl_documents(path, source)
    elif head.startswith((b"{", b"[")):
        try:
            data = orjson.loads(path.read_bytes())
        except orjson.JSONDecodeError as exc:
            raise InputError(f"{path}: invalid JSON: {exc}") from exc
        yield from _json_documents(path, data, source)
    elif head.startswith(b"<"):
        yield RawDocument(source, str(path), path.read_bytes(), XML)
    else:
        raise InputError(f"{path}: unrecognised format (expected JSON, JSONL or XML)")


def _loads(content: bytes) -> Any:
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        raise ParseError(f"invalid JSON: {exc}") from exc


def _json_snapshots(data: Any) -> list[NoticeSnapshot]:
    """A JSON document of unknown shape (a dropped file): one record, a response, or the DILA API."""
    if isinstance(data, dict) and isinstance(data.get("results"), list):
        records: list[Any] = data["results"]
    elif isinstance(data, list):
        records = data
    elif isinstance(data, dict) and "gestion" in data and "donnees" in data and "idweb" not in data:
        return [boamp.parse_dila_api_json(data)]
    else:
        return [boamp.parse_ods_record(data)]
    snapshots = []
    for record in records:
        try:
            snapshots.append(boamp.parse_ods_record(record))
        except ParseError:
            continue  # one bad record of a dropped file does not hide the others
    if not snapshots:
        raise ParseError("no readable record in the JSON document")
    return snapshots


def parse_document(doc: RawDocument) -> list[NoticeSnapshot]:
    """Parse one raw document (pure). Raise ParseError with the reason."""
    if doc.media_type == ODS_RECORD:
        return [boamp.parse_ods_record(_loads(doc.content))]
    if doc.media_type == FEED_ITEM:
        item = _loads(doc.content)
        if not isinstance(item, dict):
            raise ParseError("feed item is not a JSON object")
        return [snapshot_from_feed_item(doc.source, item)]
    if doc.media_type == DILA_API:
        return [boamp.parse_dila_api_json(_loads(doc.content))]
    if doc.media_type in ("application/json", "application/octet-stream") and doc.content.lstrip()[:1] in (b"{", b"["):
        return _json_snapshots(_loads(doc.content))
    if doc.media_type in (XML, "text/xml", "application/octet-stream") and doc.content.lstrip()[:1] == b"<":
        root, tree = xml_to_dict(doc.content)
        local = root.split(":")[-1]
        if local in ("ANNONCE", "ann"):
            return [boamp.parse_dila_xml(root, tree)]
        if local in _EFORMS_ROOTS:
            if not isinstance(tree, dict):
                raise ParseError(f"<{root}> is empty")
            snap = snapshot_from_eforms(local, tree, source="ted")
            snap.url = snap.url or f"https://ted.europa.eu/en/notice/-/detail/{snap.notice_id}"
            return [snap]
        raise ParseError(f"unknown XML document <{root}>")
    raise ParseError(f"no parser for media type {doc.media_type}")


def parse_item(item: RawDocument | ParsedItem) -> ParsedItem:
    if isinstance(item, ParsedItem):
        return item
    try:
        return ParsedItem(item, snapshots=parse_document(item))
    except ParseError as exc:
        return ParsedItem(item, error=str(exc))
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:  # a parser bug: never fatal
        return ParsedItem(item, error=f"unexpected {type(exc).__name__}: {exc}")
