"""JSON read within bounds: records cut out of a large array without loading it, numbers and nesting bounded.

Pure: bytes in, values out (no I/O). :func:`split_records` reads a JSON array of records (the top level of an
export, or the ``results`` member of an OpenDataSoft response) chunk by chunk and yields each record's bytes,
so memory stays that of one record whatever the file's size, and a record the JSON reader refuses (``NaN``, a
5,000-digit integer, ``1e999``, nesting deeper than it goes) is one refused record, not a refused file.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from tracker.exceptions import ParseError

#: a string token (its closing quote captured: absent when the chunk ends inside the string) or a structural byte
_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*(")?|[\[\]{},]')
#: the rest of a string a chunk cut: up to its closing quote (captured), or to the chunk's end
_REST = re.compile(rb'[^"\\]*(?:\\.[^"\\]*)*(")?')
#: integer literals longer than this stay text (Python refuses to read more than 4,300 digits anyway)
MAX_INT_DIGITS = 30


def _bounded_int(text: str) -> int | str:
    return int(text) if len(text.lstrip("-")) <= MAX_INT_DIGITS else text


def _bounded_float(text: str) -> float | str:
    if len(text) > MAX_INT_DIGITS + 10:
        return text
    value = float(text)
    return value if math.isfinite(value) else text


def loads_bounded(data: str | bytes, *, what: str = "JSON") -> Any:
    """JSON text as values: orjson's reading when it accepts it (nesting up to 1,024 levels); otherwise numbers
    it refuses (``NaN``, ``Infinity``, ``1e999``, long integers) stay as their literal text, for the value
    readers to bound, instead of the whole text being lost. Raise ParseError with the reason."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        if "depth" in str(exc) or "recursion" in str(exc).lower():
            raise ParseError(f"{what} nested too deeply") from exc
        first = exc
    try:
        return json.loads(data, parse_constant=str, parse_int=_bounded_int, parse_float=_bounded_float)
    except RecursionError:
        raise ParseError(f"{what} nested too deeply") from None
    except ValueError:
        raise ParseError(f"{what} is not valid JSON: {first}") from None


@dataclass(slots=True)
class RecordBytes:
    """One element of the records array: its bytes (cut to the size limit), its index, whether it was cut."""

    index: int
    raw: bytes
    size: int
    truncated: bool = False


class _Splitter:
    """The state of :func:`split_records` between chunks."""

    def __init__(self, max_record: int) -> None:
        self.max_record = max_record
        self.depth = 0
        self.top: bytes | None = None  # b"[" or b"{"
        self.records_depth: int | None = None  # depth inside the records array, once found
        self.key = b""  # the latest string at depth 1 of a top-level object (its first bytes)
        self.in_string = False  # the previous chunk ended inside a string
        self.done = False
        self.pieces: list[bytes] = []
        self.kept = 0
        self.size = 0
        self.index = 0
        self.start: int | None = None  # where the current element starts in the current buffer

    def _take(self, buf: bytes, end: int) -> None:
        if self.start is None:
            return
        part = buf[self.start : end]
        self.size += len(part)
        room = self.max_record - self.kept
        if room > 0:
            self.pieces.append(part[:room])
            self.kept += min(room, len(part))

    def _element(self, buf: bytes, end: int) -> RecordBytes | None:
        self._take(buf, end)
        raw = b"".join(self.pieces).strip()
        size = self.size
        self.pieces, self.kept, self.size, self.start = [], 0, 0, end + 1
        if not raw:
            return None
        record = RecordBytes(self.index, raw, size, truncated=size > self.max_record)
        self.index += 1
        return record

    def _pause(self, buf: bytes, end: int) -> int:
        """The chunk ends inside a string at ``end`` (before a lone backslash, kept for the next chunk)."""
        self._take(buf, end)
        if self.start is not None:
            self.start = 0
        return end

    def _string(self, tok: bytes) -> None:
        if self.depth == 1 and self.top == b"{":
            self.key = (self.key + tok)[:64] if self.in_string else tok[:64]

    def feed(self, buf: bytes) -> tuple[list[RecordBytes], int]:
        """Records completed in ``buf``, and where its unread rest starts (a lone backslash ending the chunk)."""
        out: list[RecordBytes] = []
        pos = 0
        if self.in_string:
            rest = _REST.match(buf)  # never None: the pattern matches the empty string
            if rest is None or rest.group(1) is None:
                end = rest.end() if rest is not None else len(buf)
                self._string(buf[:end])
                return out, self._pause(buf, end)
            self._string(rest.group())
            self.in_string, pos = False, rest.end()
        for m in _TOKEN.finditer(buf, pos):
            tok = m.group()
            if tok[:1] == b'"':
                self._string(tok)
                if m.group(1) is None:  # the string goes on in the next chunk
                    self.in_string = True
                    return out, self._pause(buf, m.end())
                continue
            if self.top is None:
                self.top = tok
            if tok in (b"[", b"{"):
                self.depth += 1
                if self.records_depth is None and tok == b"[" and self._records_open():
                    self.records_depth, self.start = self.depth, m.end()
            elif tok in (b"]", b"}"):
                if self.depth == self.records_depth:
                    record = self._element(buf, m.start())
                    if record is not None:
                        out.append(record)
                    self.done, self.start = True, None
                    return out, len(buf)
                self.depth -= 1
            elif self.depth == self.records_depth:  # a comma between records
                record = self._element(buf, m.start())
                if record is not None:
                    out.append(record)
        return out, self._pause(buf, len(buf))

    def _records_open(self) -> bool:
        return (self.top == b"[" and self.depth == 1) or (
            self.top == b"{" and self.depth == 2 and self.key == b'"results"'
        )

    def finish(self, rest: bytes) -> RecordBytes | None:
        """At the end of the text: the element an unclosed array leaves open, as it stands."""
        if self.done or self.records_depth is None or self.start is None:
            return None
        self.start = 0
        return self._element(rest, len(rest))


def split_records(chunks: Iterable[bytes], *, max_record: int) -> Iterator[RecordBytes]:
    """The elements of the records array of a JSON text given in chunks: a top-level array's elements, or those
    of the ``results`` array of a top-level object, each cut to ``max_record`` bytes (``truncated`` says so).
    Nothing comes out of a text without such an array. Memory: one record and one chunk, whatever the text."""
    splitter = _Splitter(max_record)
    carry = b""
    for chunk in chunks:
        buf = carry + chunk if carry else chunk
        records, rest = splitter.feed(buf)
        yield from records
        if splitter.done:
            return
        carry = buf[rest:]
    last = splitter.finish(carry)
    if last is not None:
        yield last


def records_of_bytes(content: bytes, *, max_record: int) -> Iterator[RecordBytes]:
    """:func:`split_records` over bytes in memory."""
    step = 1 << 20
    return split_records((content[i : i + step] for i in range(0, len(content), step)), max_record=max_record)
