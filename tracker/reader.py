"""Reading local input: files and folders become raw documents (parsing is ``tracker.parse``'s job).

A file is cut into documents by its content, not by its name:

* OpenDataSoft v2.1 ``/records`` responses ``{"total_count", "results": [...]}``, JSON exports (a list of
  records) and JSONL exports (a record a line): one document per record, streamed (memory holds one record,
  whatever the file's size: ``tracker.parse.jsonrecords``); a record the JSON reader refuses, or larger than
  ``TRACKER_MAX_DOCUMENT_BYTES``, comes out with its reason, and the others are read;
* the retired DILA API JSON (``{"gestion": …, "donnees": …}`` with lower-case keys): one document;
* any other file (DILA XML, eForms XML, …): one document, accepted when a parser of the registry
  (``tracker.parse.PARSERS``) recognises it; above ``TRACKER_MAX_DOCUMENT_BYTES`` it is not read, and its head
  is quarantined with the reason.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from tracker.documents import Document
from tracker.exceptions import ParseError
from tracker.parse import parser_for
from tracker.parse.base import DILA_API, FEED_ITEM, ODS_RECORD, UNKNOWN, XML, ParsedItem
from tracker.parse.jsonrecords import RecordBytes, split_records
from tracker.settings import get_settings
from tracker.values import clean_text

__all__ = ["DILA_API", "FEED_ITEM", "ODS_RECORD", "XML", "InputError", "documents_from_file", "iter_files"]


def record_bytes(record: Any) -> bytes:
    """Canonical bytes of one record: the same record always hashes the same."""
    return orjson.dumps(record, option=orjson.OPT_SORT_KEYS)


def _record_locator(path: Path, record: Any, index: int) -> str:
    idweb = record.get("idweb") if isinstance(record, dict) else None
    return f"{path}#{clean_text(idweb, 80) if isinstance(idweb, str) and idweb else index}"


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


def _json_documents(path: Path, data: Any, source: str) -> Iterator[Document | ParsedItem]:
    """A JSON file that holds no records array: one DILA API record, or one ODS record."""
    if isinstance(data, dict) and "gestion" in data and "donnees" in data and "idweb" not in data:
        yield _canonical(source, str(path), data, DILA_API)
    elif isinstance(data, dict) and "idweb" in data:
        yield _canonical(source, _record_locator(path, data, 0), data, ODS_RECORD)
    elif (isinstance(data, dict) and isinstance(data.get("results"), list)) or isinstance(data, list):
        return  # an empty records array
    else:
        raise InputError(f"{path}: JSON of an unknown shape (no 'results' list, no record)")


def _canonical(source: str, locator: str, record: Any, media_type: str) -> Document | ParsedItem:
    try:
        return Document(source, locator, record_bytes(record), media_type)
    except TypeError:  # orjson writes 255 levels at most (and reads 1,024)
        raw = repr(record)[:4096].encode("utf-8", "replace")
        return ParsedItem(Document(source, locator, raw, media_type), error="record nested too deeply")


def _record(path: Path, source: str, rec: RecordBytes, max_document: int) -> Document | ParsedItem:
    """One element of a records array: its canonical document, or its bytes with the reason it is refused."""
    where = f"{path}#{rec.index}"
    if rec.truncated:
        doc = Document(source, where, rec.raw, ODS_RECORD)
        return ParsedItem(doc, error=f"record {rec.index}: larger than {max_document} bytes ({rec.size} bytes)")
    try:
        record = orjson.loads(rec.raw)
    except orjson.JSONDecodeError as exc:
        return ParsedItem(
            Document(source, where, rec.raw, ODS_RECORD), error=f"record {rec.index}: invalid JSON: {exc}"
        )
    return _canonical(source, _record_locator(path, record, rec.index), record, ODS_RECORD)


def _lines(fh: BinaryIO, limit: int) -> Iterator[tuple[bytes, int]]:
    """The lines of a file, each cut to ``limit`` bytes, with its full size: a huge line is never held whole."""
    while line := fh.readline(limit + 1):
        size = len(line)
        if size > limit and not line.endswith(b"\n"):
            while (more := fh.readline(1 << 20)) and (size := size + len(more)) and not more.endswith(b"\n"):
                pass
        yield line[:limit], size


def _jsonl_documents(path: Path, source: str, max_document: int) -> Iterator[Document | ParsedItem]:
    with path.open("rb") as fh:
        for lineno, (line, size) in enumerate(_lines(fh, max_document), start=1):
            if not line.strip():
                continue
            locator = f"{path}:{lineno}"
            if size > max_document:
                doc = Document(source, locator, line, ODS_RECORD)
                yield ParsedItem(doc, error=f"line {lineno}: larger than {max_document} bytes ({size} bytes)")
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                doc = Document(source, locator, line, ODS_RECORD)
                yield ParsedItem(doc, error=f"line {lineno}: invalid JSON: {exc}")
                continue
            yield _canonical(source, _record_locator(path, record, lineno), record, ODS_RECORD)


def _json_file(path: Path, source: str, size: int, max_document: int) -> Iterator[Document | ParsedItem]:
    """The records of a JSON file, streamed (memory: one record); a file without a records array is one record."""
    found = False
    with path.open("rb") as fh:
        for rec in split_records(iter(lambda: fh.read(1 << 20), b""), max_record=max_document):
            found = True
            yield _record(path, source, rec, max_document)
    if found:
        return
    if size > max_document:
        raise InputError(f"{path}: a single JSON record larger than {max_document} bytes ({size} bytes)")
    try:
        data = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise InputError(f"{path}: invalid JSON: {exc}") from exc
    yield from _json_documents(path, data, source)


def documents_from_file(
    path: Path, *, source: str = "boamp", max_document: int | None = None, max_file: int | None = None
) -> Iterator[Document | ParsedItem]:
    """Raw documents in a file; a bad record comes out as a ParsedItem carrying its error. Limits default to the
    settings (``TRACKER_MAX_DOCUMENT_BYTES``, ``TRACKER_MAX_FILE_BYTES``)."""
    settings = get_settings()
    max_document = max_document or settings.max_document_bytes
    max_file = max_file or settings.max_file_bytes
    size = path.stat().st_size
    if size > max_file:
        raise InputError(f"{path}: file too large ({size} bytes, at most {max_file})")
    with path.open("rb") as fh:
        head = fh.read(512).lstrip()
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        yield from _jsonl_documents(path, source, max_document)
    elif head.startswith((b"{", b"[")):
        yield from _json_file(path, source, size, max_document)
    else:
        yield _whole_file(path, source, XML if head.startswith(b"<") else _media_type(path), size, max_document)


def _media_type(path: Path) -> str:
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed or UNKNOWN


def _whole_file(path: Path, source: str, media_type: str, size: int, max_document: int) -> Document | ParsedItem:
    """A file that is one document, when some parser reads it; above the size limit, its head is quarantined."""
    if size > max_document:
        with path.open("rb") as fh:
            head = fh.read(64 * 1024)
        doc = Document(source, str(path), head, media_type)
        return ParsedItem(doc, error=f"document larger than {max_document} bytes ({size} bytes): not read")
    doc = Document(source, str(path), path.read_bytes(), media_type)
    try:
        parser_for(doc)
    except ParseError as exc:
        raise InputError(f"{path}: unrecognised format ({exc})") from exc
    return doc
