"""TED: the Search API v3 (``POST /v3/notices/search``, ITERATION pagination), then each notice's eForms XML."""

from __future__ import annotations

import logging
import re
from datetime import date, datetime, timedelta
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

from tracker.exceptions import PermanentError
from tracker.sources.base import Cursor, Document, FetchResult, paris_date
from tracker.sources.http import HttpOptions, HttpSource, HttpStatusError, HttpUrlStr, redact_url

log = logging.getLogger(__name__)

#: media type of one TED search result (one notice's fields), read by the ``ted_search`` parser
TED_SEARCH_RESULT = "application/vnd.ted.search-result+json"

#: the fields asked for: enough for a lightweight version (identity, deadlines per lot, change section)
SEARCH_FIELDS = (
    "publication-number",
    "publication-date",
    "notice-identifier",
    "notice-version",
    "procedure-identifier",
    "notice-type",
    "notice-subtype",
    "notice-title",
    "buyer-name",
    "buyer-country",
    "classification-cpv",
    "identifier-lot",
    "deadline-receipt-tender-date-lot",
    "deadline-receipt-tender-time-lot",
    "deadline-receipt-request-date-lot",
    "deadline-receipt-request-time-lot",
    "change-notice-version-identifier",
    "change-reason-code",
    "change-reason-description",
    "change-description",
    "change-previous-notice-section-identifier",
    "change-procurement-documents",
    "change-procurement-documents-date",
    "links",
)
_PUBLICATION_NUMBER = re.compile(r"^0*(\d{1,8})-(\d{4})$")


class TedOptions(HttpOptions):
    """Options of :class:`TedSource`."""

    since: date = Field(description="first publication day to fetch")
    query: str = Field("buyer-country=FRA", min_length=1, max_length=2000, description="TED expert query")
    base_url: HttpUrlStr = Field("https://api.ted.europa.eu", description="TED API root")
    notice_url: str = Field(
        "https://ted.europa.eu/en/notice/{publication_number}/xml",
        pattern=r"^https?://[^\s]*\{publication_number\}[^\s]*$",
        description="where each notice's XML is, {publication_number} replaced",
    )
    page_size: int = Field(100, ge=1, le=250, description="notices per search request (TED: at most 250)")
    scope: Literal["ACTIVE", "LATEST", "ALL"] = Field("ALL", description="TED search scope")
    fetch_xml: bool = Field(True, description="fetch each notice's XML after its search result")
    xml_per_step: int = Field(20, ge=1, le=250, description="notice XML files fetched per step")
    overlap_days: int = Field(1, ge=0, le=31, description="days before the last one seen re-read on every poll")


class _TedCursor(BaseModel):
    model_config = ConfigDict(extra="ignore")

    since: date | None = None  # first publication day of the window being walked
    token: str | None = None  # iterationNextToken of the walk under way
    last_day: date | None = None  # latest publication day seen in this walk
    pending: list[str] = Field(default_factory=list)  # publication numbers whose XML is still to fetch
    fetched: list[str] = Field(default_factory=list)  # XML fetched for these (the overlap days): not re-emitted


def unpad(number: str) -> str | None:
    """``00041387-2024`` → ``41387-2024``; None when it is not a TED publication number."""
    m = _PUBLICATION_NUMBER.match(number.strip())
    return f"{int(m.group(1))}-{m.group(2)}" if m else None


class TedSource(HttpSource[TedOptions]):
    """
    Publisher
      Publications Office of the EU: TED, every EU-threshold notice (eForms XML since late 2023).
    Options
      since           first publication day to fetch (YYYY-MM-DD)
      query           TED expert query, e.g. "buyer-country=FRA" (the source adds the publication-date window)
      base_url        API root (default https://api.ted.europa.eu)
      notice_url      XML address, {publication_number} replaced (default https://ted.europa.eu/en/notice/…/xml)
      page_size       notices per search request, 1..250; scope: ACTIVE, LATEST or ALL (default ALL)
      fetch_xml       fetch each notice's XML (default true); xml_per_step: XML files per step (default 20)
      overlap_days    days before the last one seen re-read on every poll (default 1)
      max_bytes       largest response accepted; timeout: seconds per read; deadline: seconds per request
    API documentation
      POST {base_url}/v3/notices/search  {"query", "fields", "limit", "scope", "paginationMode": "ITERATION",
      "iterationNextToken"}  ·  https://docs.ted.europa.eu/api/latest/search.html

    One step is one search page (its notices become lightweight documents, one search result each, read by the
    ``ted_search`` parser) or up to ``xml_per_step`` notice XML files (the full versions, read by ``eforms``):
    the XML of a notice replaces its lightweight version. The cursor is ``{"since", "token", "last_day",
    "pending", "fetched"}``; when the walk ends the next one starts ``overlap_days`` before the last day seen,
    and the notices whose XML was fetched are not emitted again as search results.
    """

    kind = "ted"
    options_model = TedOptions
    default_parser = "eforms"

    def fetch(self, cursor: Cursor, *, now: datetime) -> FetchResult:
        state = self._cursor(cursor)
        if state.pending:
            return self._fetch_xml(state)
        return self._search(state, paris_date(now))

    def _cursor(self, cursor: Cursor) -> _TedCursor:
        try:
            return _TedCursor.model_validate(cursor or {})
        except ValueError as exc:
            raise PermanentError(f"{self.name}: unreadable cursor {cursor!r}: {exc}") from exc

    @property
    def search_url(self) -> str:
        return f"{self.options.base_url.rstrip('/')}/v3/notices/search"

    def _query(self, since: date) -> str:
        return f"({self.options.query}) AND publication-date>={since:%Y%m%d} SORT BY publication-date ASC"

    def _search(self, state: _TedCursor, today: date) -> FetchResult:
        since = state.since or self.options.since
        body: dict[str, Any] = {
            "query": self._query(since),
            "fields": list(SEARCH_FIELDS),
            "limit": self.options.page_size,
            "scope": self.options.scope,
            "paginationMode": "ITERATION",
        }
        if state.token:
            body["iterationNextToken"] = state.token
        page = self._post(body)
        notices = [n for n in page.get("notices") or [] if isinstance(n, dict) and _number(n)]
        skip = set(state.fetched)
        documents = [self._result_document(n, since) for n in notices if _number(n) not in skip]
        days = [d for d in (_day(n.get("publication-date")) for n in notices) if d is not None]
        last_day = max([*days, *([state.last_day] if state.last_day else [])], default=None)
        pending = [_number(n) for n in notices if _number(n) not in skip] if self.options.fetch_xml else []
        token = page.get("iterationNextToken")
        if isinstance(token, str) and token and notices:
            cursor = state.model_copy(
                update={"since": since, "token": token, "last_day": last_day, "pending": pending}
            )
            return FetchResult(documents, _dump(cursor), done=False)
        restart = min((last_day or since) - timedelta(days=self.options.overlap_days), today)
        restart = max(restart, since)
        fetched = [n for n in state.fetched if n not in pending] if restart == since else []
        cursor = _TedCursor(since=restart, token=None, last_day=None, pending=pending, fetched=fetched)
        return FetchResult(documents, _dump(cursor), done=not pending)

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        response = self.get(
            self.search_url,
            method="POST",
            content=orjson.dumps(body),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        try:
            page = orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise PermanentError(f"{redact_url(self.search_url)}: invalid JSON: {exc}") from exc
        if not isinstance(page, dict) or not isinstance(page.get("notices", []), list):
            raise PermanentError(f"{redact_url(self.search_url)}: not a TED search response")
        return page

    def _result_document(self, notice: dict[str, Any], since: date) -> Document:
        number = _number(notice)
        day = _day(notice.get("publication-date"))
        return Document(
            source=self.name,
            locator=f"{redact_url(self.search_url)}?since={since.isoformat()}#{number}",
            content=orjson.dumps(notice, option=orjson.OPT_SORT_KEYS),
            media_type=TED_SEARCH_RESULT,
            published=day.isoformat() if day else None,
            parser="ted_search",
        )

    def _fetch_xml(self, state: _TedCursor) -> FetchResult:
        batch, rest = state.pending[: self.options.xml_per_step], state.pending[self.options.xml_per_step :]
        documents = []
        for number in batch:
            url = self.options.notice_url.replace("{publication_number}", number)
            try:
                response = self.get(url, headers={"Accept": "application/xml"})
            except HttpStatusError as exc:
                if exc.status_code not in (404, 410):
                    raise
                log.warning(
                    "%s: no XML for notice %s (%s); its search result stays its version", self.name, number, exc
                )
                continue
            documents.append(
                Document(
                    source=self.name,
                    locator=redact_url(url),
                    content=response.content,
                    media_type="application/xml",
                    parser="eforms",
                )
            )
        fetched = list(dict.fromkeys([*state.fetched, *batch]))[-5000:]
        cursor = state.model_copy(update={"pending": rest, "fetched": fetched})
        return FetchResult(documents, _dump(cursor), done=not rest and state.token is None)


def _number(notice: dict[str, Any]) -> str:
    raw = notice.get("publication-number")
    return (unpad(raw) or "") if isinstance(raw, str) else ""


def _day(value: Any) -> date | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _dump(cursor: _TedCursor) -> Cursor:
    return cursor.model_dump(mode="json")
