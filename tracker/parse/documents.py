"""The registry entries of documents: BOAMP notices and règlements de consultation as PDF or text, buyer-platform
pages and observations. One tuple, so the registry in :mod:`tracker.parse` names them in one line."""

from __future__ import annotations

from typing import Final

from tracker.parse.base import Parser
from tracker.parse.notice_text import BoampTextParser
from tracker.parse.pdf import PdfParser
from tracker.parse.platform import PlatformObservationParser, PlatformPageParser
from tracker.parse.rc import RcTextParser

DOCUMENT_PARSERS: Final[tuple[Parser, ...]] = (
    PdfParser(),
    BoampTextParser(),
    RcTextParser(),
    PlatformObservationParser(),
    PlatformPageParser(),
)
