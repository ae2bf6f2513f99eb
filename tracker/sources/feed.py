"""RSS and Atom feeds, fetched with a conditional GET; one document per entry."""

from __future__ import annotations

import io
import json
import time
from datetime import UTC, datetime
from typing import Any

import feedparser
import httpx
from pydantic import Field

from tracker.exceptions import ParseError, PermanentError
from tracker.parse.xmltree import check_xml
from tracker.sources.base import Cursor, Document, FetchResult
from tracker.sources.http import HttpOptions, HttpSource, HttpUrlStr, redact_url

MEDIA_TYPE = "application/x-feed-item+json"

_ENTRY_FIELDS = ("id", "link", "title", "summary", "published", "updated", "author")


class FeedOptions(HttpOptions):
    """Options of :class:`FeedSource`."""

    url: HttpUrlStr = Field(description="the feed's full URL")
    max_bytes: int = Field(10_000_000, ge=1024, description="largest feed accepted, in bytes")


class FeedSource(HttpSource[FeedOptions]):
    """
    Publisher
      Any RSS 0.9x/1.0/2.0 or Atom feed: buyer platforms, aggregators (marchesonline, francemarches),
      saved-search alerts.
    Options
      url         the feed's full URL (secrets in its query string are masked in logs and locators)
      max_bytes   largest feed accepted (default 10 MB); timeout: seconds per read;
                  deadline: seconds per request (connect, headers, body)
    API documentation
      RSS 2.0 https://www.rssboard.org/rss-specification · Atom RFC 4287 ·
      conditional GET RFC 9110 §13.1 (If-None-Match / If-Modified-Since)

    One step reads the whole feed: the cursor is ``{"etag": …, "modified": …}`` from the last
    response; a 304 Not Modified gives no documents. Each entry becomes one JSON document with
    sorted keys ``author, id, link, published, summary, tags, title, updated``.
    """

    kind = "feed"
    options_model = FeedOptions
    default_parser = "feed"

    def fetch(self, cursor: Cursor, *, now: datetime) -> FetchResult:
        response = self.get(self.options.url, headers=_conditional_headers(cursor))
        if response.status_code == 304:
            return FetchResult([], dict(cursor), done=True)
        shown = redact_url(self.options.url)
        try:  # feedparser parses the XML itself: it gets only bytes checked first (bounds, no DTD subset, no entity)
            check_xml(response.content, "feed", external_dtd=True)
        except ParseError as exc:
            raise PermanentError(f"{shown}: {exc}") from exc
        parsed = feedparser.parse(
            io.BytesIO(response.content),  # a stream: feedparser must never treat bytes as a path or URL
            response_headers={
                "content-type": response.headers.get("content-type", "application/xml"),
                "content-location": str(response.url),
            },
        )
        if not parsed.get("version") and not parsed.get("entries"):
            raise PermanentError(f"{shown}: not an RSS or Atom feed ({parsed.get('bozo_exception')})")
        documents = [self._document(entry, shown, index) for index, entry in enumerate(parsed.get("entries", []))]
        return FetchResult(documents, _validators(response.headers), done=True)

    def _document(self, entry: dict[str, Any], shown: str, index: int) -> Document:
        # dict.get, not entry.get: FeedParserDict maps a missing "updated" to "published" with a warning
        item = {name: dict.get(entry, name) for name in _ENTRY_FIELDS}
        item["tags"] = [tag.get("term") for tag in dict.get(entry, "tags", []) if tag.get("term")]
        return Document(
            source=self.name,
            locator=item["link"] or item["id"] or f"{shown}#{index}",
            content=json.dumps(item, ensure_ascii=False, sort_keys=True).encode(),
            media_type=MEDIA_TYPE,
            published=_day(dict.get(entry, "published_parsed") or dict.get(entry, "updated_parsed")),
        )


def _conditional_headers(cursor: Cursor) -> dict[str, str]:
    headers = {}
    if isinstance(cursor.get("etag"), str):
        headers["If-None-Match"] = cursor["etag"]
    if isinstance(cursor.get("modified"), str):
        headers["If-Modified-Since"] = cursor["modified"]
    return headers


def _validators(headers: httpx.Headers) -> Cursor:
    validators = {"etag": headers.get("etag"), "modified": headers.get("last-modified")}
    return {key: value for key, value in validators.items() if value}


def _day(parsed: time.struct_time | None) -> str | None:
    """feedparser normalises dates to UTC ``struct_time``."""
    if parsed is None:
        return None
    return datetime(*parsed[:6], tzinfo=UTC).date().isoformat()
