"""The one raw-document type every stage shares: sources fetch it, the reader cuts it from files, the parse
stage reads it, the store keeps it (the ``document`` table holds its bytes, compressed)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Document:
    """One raw payload as fetched or read: the unit the parse stage reads and storage deduplicates."""

    source: str  # the configured source name, e.g. "boamp"
    locator: str  # URL (or file path) it came from; a record cut from a page or file: "<where>#<idweb>"
    content: bytes  # raw bytes as fetched
    media_type: str  # see tracker.parse.base: ODS_RECORD, XML, FEED_ITEM, …
    published: str | None = None  # YYYY-MM-DD when the source says so (dateparution)
    #: the parser the source declares (a kind of tracker.parse.PARSERS); None: chosen by sniffing the content
    parser: str | None = None
    _sha: list[str] = field(default_factory=list, repr=False, compare=False)

    @property
    def sha256(self) -> str:
        if not self._sha:
            self._sha.append(hashlib.sha256(self.content).hexdigest())
        return self._sha[0]
