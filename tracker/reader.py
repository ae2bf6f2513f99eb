"""Reading local input: files and folders become raw documents (parsing is ``tracker.parse``'s job).

A file is cut into documents by its content, not by its name:

* OpenDataSoft v2.1 ``/records`` responses ``{"total_count", "results": [...]}``, JSON exports (a list of
  records) and JSONL exports (a record a line): one document per record;
* the retired DILA API JSON (``{"gestion": …, "donnees": …}`` with lower-case keys): one document;
* any other file (DILA XML, eForms XML, …): one document, accepted when a parser of the registry
  (``tracker.parse.PARSERS``) recognises it.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from tracker.documents import Document
from tracker.exceptions import ParseError
from tracker.parse import parser_for
from tracker.parse.base import DILA_API, FEED_ITEM, ODS_RECORD, UNKNOWN, XML, ParsedItem

__all__ = ["DILA_API", "FEED_ITEM", "ODS_RECORD", "XML", "InputError", "documents_from_file", "iter_files"]

MAX_FILE_BYTES = 2 * 1024 * 1024 * 1024


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


def _json_documents(path: Path, data: Any, source: str) -> Iterator[Document | ParsedItem]:
    if isinstance(data, dict) and isinstance(data.get("results"), list):
        records: list[Any] = data["results"]
    elif isinstance(data, list):
        records = data
    elif isinstance(data, dict) and "gestion" in data and "donnees" in data and "idweb" not in data:
        yield Document(source, str(path), record_bytes(data), DILA_API)
        return
    elif isinstance(data, dict) and "idweb" in data:
        records = [data]
    else:
        raise InputError(f"{path}: JSON of an unknown shape (no 'results' list, no record)")
    for i, record in enumerate(records):
        yield Document(source, _record_locator(path, record, i), record_bytes(record), ODS_RECORD)


def _jsonl_documents(path: Path, source: str) -> Iterator[Document | ParsedItem]:
    with path.open("rb") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            locator = f"{path}:{lineno}"
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                doc = Document(source, locator, line, ODS_RECORD)
                yield ParsedItem(doc, error=f"line {lineno}: invalid JSON: {exc}")
                continue
            yield Document(source, _record_locator(path, record, lineno), record_bytes(record), ODS_RECORD)


def documents_from_file(path: Path, *, source: str = "boamp") -> Iterator[Document | ParsedItem]:
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
    else:
        yield _whole_file(path, source, XML if head.startswith(b"<") else _media_type(path))


def _media_type(path: Path) -> str:
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed or UNKNOWN


def _whole_file(path: Path, source: str, media_type: str) -> Document:
    """A file that is one document, when some parser reads it."""
    doc = Document(source, str(path), path.read_bytes(), media_type)
    try:
        parser_for(doc)
    except ParseError as exc:
        raise InputError(f"{path}: unrecognised format ({exc})") from exc
    return doc
