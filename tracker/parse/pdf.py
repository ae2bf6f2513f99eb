"""Text of PDF documents, extracted in bounded time and memory; the PDF entry of the parser registry.

A PDF from a buyer platform or a notice feed is untrusted: a hostile one (deep object nesting, a page tree of
millions of pages, a decompression bomb) must be quarantined, never hang or exhaust a worker. Extraction
(PDFium, through pypdfium2) therefore runs in a child process that this module starts once and reuses (one
per parsing process):

* the child lives under an address-space limit (``RLIMIT_AS``, :data:`MEMORY_BYTES`) and a CPU-time limit;
* each document has a wall-clock budget (:data:`TIMEOUT_SECONDS`): past it the child is killed (a new one is
  started for the next document) and the document is refused with the reason;
* documents above :data:`MAX_BYTES`, with more than :data:`MAX_PAGES` pages, are refused before extraction;
  the text kept is capped at :data:`MAX_CHARS`.

Every refusal is a :class:`~tracker.exceptions.ParseError`, so the parse stage quarantines the document.
:class:`PdfParser` reads the text as a BOAMP notice (:mod:`tracker.parse.notice_text`) or a règlement de
consultation (:mod:`tracker.parse.rc`).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import select
import struct
import subprocess
import sys
import threading
import time
from typing import IO, ClassVar, Final

from tracker.documents import Document
from tracker.exceptions import ParseError
from tracker.notice import NoticeSnapshot
from tracker.parse.notice_text import looks_like_boamp_notice, parse_notice_text, published_of
from tracker.parse.rc import looks_like_rc, parse_rc_text

__all__ = ["MAX_BYTES", "MAX_PAGES", "PDF", "TIMEOUT_SECONDS", "PdfExtractor", "PdfParser", "extract_text"]

PDF: Final = "application/pdf"
MAX_BYTES: Final = 50 * 1024 * 1024
MAX_PAGES: Final = 2000
MAX_CHARS: Final = 4_000_000
TIMEOUT_SECONDS: Final = 20.0
MEMORY_BYTES: Final = 1024 * 1024 * 1024
_HEADER: Final = struct.Struct("!IIQ")  # max pages, max chars, payload length
_REPLY: Final = struct.Struct("!BQ")  # status (0 ok, 1 refused), payload length


class PdfExtractor:
    """One reusable extraction child process, with the limits of one document."""

    def __init__(
        self,
        *,
        timeout: float = TIMEOUT_SECONDS,
        max_pages: int = MAX_PAGES,
        max_chars: int = MAX_CHARS,
        memory: int = MEMORY_BYTES,
    ) -> None:
        self.timeout = timeout
        self.max_pages = max_pages
        self.max_chars = max_chars
        self.memory = memory
        self._child: subprocess.Popen[bytes] | None = None
        self._pid = 0
        self._lock = threading.Lock()

    def extract(self, content: bytes) -> str:
        """The PDF's text; ParseError (with the reason) when it is refused or cannot be read in time."""
        if len(content) > MAX_BYTES:
            raise ParseError(f"PDF too large ({len(content)} bytes, limit {MAX_BYTES})")
        if not content.lstrip()[:5] == b"%PDF-":
            raise ParseError("not a PDF (no %PDF- header)")
        with self._lock:
            child = self._ensure()
            try:
                return self._ask(child, content)
            except ParseError:
                raise
            except (OSError, ValueError, struct.error) as exc:
                self.close()
                raise ParseError(f"PDF extraction failed: {exc}") from exc

    def _ensure(self) -> subprocess.Popen[bytes]:
        if self._child is None or self._child.poll() is not None or self._pid != os.getpid():
            self._child = subprocess.Popen(  # noqa: S603 - our own interpreter and module, no shell
                [sys.executable, "-m", "tracker.parse.pdf", str(self.memory), str(int(self.timeout * 4) + 1)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
            self._pid = os.getpid()
        return self._child

    def _ask(self, child: subprocess.Popen[bytes], content: bytes) -> str:
        if child.stdin is None or child.stdout is None:
            raise ParseError("PDF extraction worker has no pipes")
        deadline = time.monotonic() + self.timeout
        child.stdin.write(_HEADER.pack(self.max_pages, self.max_chars, len(content)) + content)
        child.stdin.flush()
        head = self._read(child.stdout, _REPLY.size, deadline)
        status, size = _REPLY.unpack(head)
        payload = self._read(child.stdout, size, deadline).decode("utf-8", "replace")
        if status:
            raise ParseError(f"PDF refused: {payload}")
        return payload

    def _read(self, stream: IO[bytes], size: int, deadline: float) -> bytes:
        chunks: list[bytes] = []
        left = size
        fd = stream.fileno()
        while left:
            wait = deadline - time.monotonic()
            ready, _, _ = select.select([fd], [], [], max(wait, 0))
            if not ready:
                self.close()
                raise ParseError(f"PDF text extraction took more than {self.timeout:g} s: quarantined")
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                self.close()
                raise ParseError("PDF extraction stopped (memory or time limit reached): quarantined")
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        child, self._child = self._child, None
        if child is not None and child.poll() is None:
            child.kill()
        if child is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=5)
            for stream in (child.stdin, child.stdout):
                with contextlib.suppress(OSError):
                    if stream is not None:
                        stream.close()


_DEFAULT: PdfExtractor | None = None


def extract_text(content: bytes) -> str:
    """The text of a PDF, by this process's shared extractor (see :class:`PdfExtractor`)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = PdfExtractor()
        atexit.register(_DEFAULT.close)
    return _DEFAULT.extract(content)


class PdfParser:
    """A PDF: a BOAMP notice extract or a règlement de consultation, read from its text layer."""

    kind: ClassVar[str] = "pdf"

    def accepts(self, document: Document) -> bool:
        return document.media_type == PDF or document.content[:1024].lstrip().startswith(b"%PDF-")

    def parse(self, document: Document) -> list[NoticeSnapshot]:
        text = extract_text(document.content)
        published = published_of(document)
        if looks_like_boamp_notice(text):
            return [parse_notice_text(text, published=published, locator=document.locator)]
        if looks_like_rc(text):
            return [parse_rc_text(text, published=published, digest=document.sha256)]
        if not text.strip():
            raise ParseError("PDF without a text layer (scanned?): nothing to read")
        raise ParseError("PDF is neither a BOAMP notice nor a règlement de consultation")


# ---------------------------------------------------------------- the child process


def _limit(memory: int, cpu_seconds: int) -> None:
    import resource

    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))


def _extract_in_child(data: bytes, max_pages: int, max_chars: int) -> str:
    import pypdfium2 as pdfium  # PDFium (C, shipped in the wheel): several times pypdf's speed on notices

    document = pdfium.PdfDocument(data)
    try:
        count = len(document)
        if count > max_pages:
            raise ValueError(f"too many pages ({count}, limit {max_pages})")
        parts: list[str] = []
        size = 0
        for index in range(count):
            page = document[index]
            textpage = page.get_textpage()
            text = textpage.get_text_range().replace("\r\n", "\n").replace("\r", "\n")
            textpage.close()
            page.close()
            parts.append(text)
            size += len(text)
            if size >= max_chars:
                break
    finally:
        document.close()
    return "\n".join(parts)[:max_chars]


def _serve(memory: int, cpu_seconds: int) -> None:
    """Read requests on stdin, answer on stdout, until stdin closes."""
    _limit(memory, cpu_seconds)
    sys.setrecursionlimit(2000)
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        head = stdin.read(_HEADER.size)
        if len(head) < _HEADER.size:
            return
        max_pages, max_chars, size = _HEADER.unpack(head)
        data = stdin.read(size)
        try:
            status, text = 0, _extract_in_child(data, max_pages, max_chars)
        except RecursionError:
            status, text = 1, "objects nested too deeply"
        except MemoryError:
            status, text = 1, "memory limit reached"
        except Exception as exc:  # any reader failure is a refusal with its reason
            status, text = 1, f"{type(exc).__name__}: {exc}"[:500]
        payload = text.encode("utf-8", "replace")
        stdout.write(_REPLY.pack(status, len(payload)) + payload)
        stdout.flush()


if __name__ == "__main__":
    _serve(int(sys.argv[1]), int(sys.argv[2]))
