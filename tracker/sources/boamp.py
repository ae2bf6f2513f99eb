"""BOAMP: the OpenDataSoft Explore v2.1 records API, its JSON Lines export, and the DILA XML flux."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any, Literal, TypeVar
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tracker.exceptions import PermanentError
from tracker.sources.base import Cursor, Document, FetchResult, next_day, paris_date
from tracker.sources.http import HttpOptions, HttpSource, HttpStatusError, HttpUrlStr, redact_url, stream_lines

log = logging.getLogger(__name__)

#: /records refuses offset + limit beyond this (Explore v2.1 ``limit`` parameter).
ODS_WINDOW = 10_000

#: A notice file in a DILA day folder: a plain name, never a path or a query.
_FLUX_FILE = re.compile(rb"""href\s*=\s*["']?([A-Za-z0-9][A-Za-z0-9._-]{0,99}\.xml)["'\s>]""", re.IGNORECASE)


class BoampOptions(HttpOptions):
    """Options of :class:`BoampSource`."""

    since: date = Field(description="first publication day (dateparution) to fetch")
    base_url: HttpUrlStr = Field("https://boamp-datadila.opendatasoft.com", description="OpenDataSoft domain")
    dataset: str = Field("boamp", pattern=r"^[a-z0-9_-]+$", description="OpenDataSoft dataset id")
    page_size: int = Field(100, ge=1, le=100, description="records per request, or XML files per step (flux)")
    mode: Literal["records", "flux"] = Field("records", description="records: ODS API; flux: DILA XML files")
    flux_base_url: HttpUrlStr = Field(
        "https://echanges.dila.gouv.fr/OPENDATA/BOAMP", description="root of the DILA year/month/day folders"
    )
    overlap_days: int = Field(1, ge=0, le=31, description="days before today re-read on every poll")


_CursorT = TypeVar("_CursorT", bound=BaseModel)


class _RecordsCursor(BaseModel):
    model_config = ConfigDict(extra="ignore")

    day: date | None = None
    offset: int = Field(0, ge=0)


class _FluxCursor(BaseModel):
    model_config = ConfigDict(extra="ignore")

    day: date | None = None
    seen: dict[str, list[str]] = Field(default_factory=dict)  # "YYYY-MM-DD" -> file names already fetched


class BoampSource(HttpSource[BoampOptions]):
    """
    Publisher
      DILA (Direction de l'information légale et administrative): BOAMP, the French official journal
      of public procurement notices, republished on OpenDataSoft.
    Options
      since           first dateparution to fetch (YYYY-MM-DD)
      base_url        OpenDataSoft domain (default https://boamp-datadila.opendatasoft.com)
      dataset         dataset id (default "boamp")
      page_size       records per request, 1..100; in flux mode, XML files fetched per step
      mode            "records" (one JSON record per notice) or "flux" (DILA's XML files)
      flux_base_url   root of the DILA folders (default https://echanges.dila.gouv.fr/OPENDATA/BOAMP)
      overlap_days    days before today re-read on every poll (default 1)
      max_bytes       largest response accepted; timeout: seconds per read; deadline: seconds per request
    API documentation
      GET {base_url}/api/explore/v2.1/catalog/datasets/{dataset}/records  (limit <= 100, offset + limit < 10000)
      GET {base_url}/api/explore/v2.1/catalog/datasets/{dataset}/exports/jsonl  (no limit; used by backfill_range)
      https://help.opendatasoft.com/apis/ods-explore-v2/  ·  DILA flux: {flux_base_url}/YYYY/MM/DD/<idweb>.xml

    Both modes walk publication days. The cursor is ``{"day": "YYYY-MM-DD", "offset": n}`` (records)
    or ``{"day": …, "seen": {day: [file, …]}}`` (flux). A day is read page by page (records) or
    listing by listing (flux); finished days are followed by the next one until today. Notices keep
    arriving during the day, so after today the cursor moves back to ``today - overlap_days``: every
    poll re-reads yesterday and today, and the settled part of the cursor never passes yesterday.
    Records re-read this way are re-emitted (storage dedupes them by content hash); flux files are
    not, because the cursor remembers the names fetched for the days it will revisit.

    Records within a day are ordered by ``idweb`` only so that offset pages are stable; the cursor
    never compares idwebs (they do not sort numerically). A record inserted mid-walk before the
    current offset is caught by the next poll's re-read.
    """

    kind = "boamp"
    options_model = BoampOptions
    default_parser = "boamp"

    def fetch(self, cursor: Cursor, *, now: datetime) -> FetchResult:
        today = paris_date(now)
        if self.options.mode == "flux":
            return self._fetch_flux(self._cursor(_FluxCursor, cursor), today)
        return self._fetch_records(self._cursor(_RecordsCursor, cursor), today)

    # -------------------------------------------------------------- records mode

    @property
    def records_url(self) -> str:
        return f"{self.options.base_url}/api/explore/v2.1/catalog/datasets/{self.options.dataset}/records"

    @property
    def export_url(self) -> str:
        return f"{self.options.base_url}/api/explore/v2.1/catalog/datasets/{self.options.dataset}/exports/jsonl"

    def _fetch_records(self, cursor: _RecordsCursor, today: date) -> FetchResult:
        day = cursor.day or self.options.since
        if day > today:
            return FetchResult([], {"day": day.isoformat(), "offset": 0}, done=True)
        where = f"dateparution=date'{day.isoformat()}'"
        total, records = self._records_page(where, cursor.offset)
        documents = [self._record_document(record, where) for record in records]
        end = cursor.offset + len(records)
        if records and end < total:
            return FetchResult(documents, {"day": day.isoformat(), "offset": end}, done=False)
        following, done = next_day(day, today=today, overlap_days=self.options.overlap_days)
        return FetchResult(documents, {"day": following.isoformat(), "offset": 0}, done=done)

    def _records_page(self, where: str, offset: int) -> tuple[int, list[dict[str, Any]]]:
        limit = min(self.options.page_size, ODS_WINDOW - 1 - offset)
        if limit <= 0:
            raise PermanentError(f"{self.name}: more than {ODS_WINDOW} records for {where}; use backfill_range")
        params: dict[str, str | int] = {
            "where": where,
            "order_by": "idweb",  # only to keep offset pages stable; never compared (see the class docstring)
            "limit": limit,
            "offset": offset,
            "timezone": "Europe/Paris",  # dateparution is a Paris date
        }
        response = self.get(self.records_url, params=params)
        return _json_page(response.content, redact_url(response.request.url))

    def _record_document(self, record: dict[str, Any], where: str) -> Document:
        locator = f"{redact_url(self.records_url)}?{urlencode({'where': where})}#{record.get('idweb', '')}"
        published = record.get("dateparution")
        return Document(
            source=self.name,
            locator=locator,
            content=json.dumps(record, ensure_ascii=False, sort_keys=True).encode(),
            media_type="application/json",
            published=published[:10] if isinstance(published, str) else None,
        )

    def backfill_range(self, since: date, until: date, *, chunk_size: int = 500) -> Iterator[list[Document]]:
        """Every record published from ``since`` to ``until`` (inclusive), streamed from the JSON Lines export.

        For history beyond what day-by-day paging should fetch. Yields lists of up to ``chunk_size``
        documents; an interruption restarts the export (storage dedupes what was already stored).
        """
        where = f"dateparution>=date'{since.isoformat()}' AND dateparution<=date'{until.isoformat()}'"
        params = {"where": where, "timezone": "Europe/Paris"}
        lines = stream_lines(
            self.client,
            self.export_url,
            params=params,
            max_line_bytes=self.options.max_bytes,
            policy=self.policy,
            timeout=self.options.timeout,
            destination=self.destination,
            sleep=self.sleep,
            rng=self.rng,
        )
        chunk: list[Document] = []
        for line in lines:
            chunk.append(self._record_document(_json_record(line, self.export_url), where))
            if len(chunk) >= chunk_size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    # -------------------------------------------------------------- flux mode

    def _fetch_flux(self, cursor: _FluxCursor, today: date) -> FetchResult:
        day = cursor.day or self.options.since
        if day > today:
            return FetchResult([], {"day": day.isoformat(), "seen": cursor.seen}, done=True)
        folder = f"{self.options.flux_base_url}/{day:%Y/%m/%d}/"
        seen = set(cursor.seen.get(day.isoformat(), []))
        new = [name for name in self._list_folder(folder) if name not in seen]
        batch = new[: self.options.page_size]
        documents = [doc for name in batch if (doc := self._flux_document(folder, name, day)) is not None]
        remembered = _keep_recent(cursor.seen, since=today - timedelta(days=self.options.overlap_days))
        if seen or batch:
            remembered[day.isoformat()] = sorted(seen.union(batch))
        if len(new) > len(batch):
            return FetchResult(documents, {"day": day.isoformat(), "seen": remembered}, done=False)
        following, done = next_day(day, today=today, overlap_days=self.options.overlap_days)
        return FetchResult(documents, {"day": following.isoformat(), "seen": remembered}, done=done)

    def _list_folder(self, folder: str) -> list[str]:
        """File names of a DILA day folder (an Apache index page); a missing folder is empty."""
        try:
            response = self.get(folder)
        except HttpStatusError as exc:
            if exc.status_code == 404:
                return []
            raise
        return sorted({match.decode("ascii") for match in _FLUX_FILE.findall(response.content)})

    def _flux_document(self, folder: str, name: str, day: date) -> Document | None:
        url = folder + name
        try:
            response = self.get(url)
        except HttpStatusError as exc:
            if exc.status_code not in (404, 410):
                raise
            log.warning("%s: %s listed but gone (HTTP %d), skipped", self.name, redact_url(url), exc.status_code)
            return None
        return Document(self.name, redact_url(url), response.content, "application/xml", day.isoformat())

    # -------------------------------------------------------------- helpers

    def _cursor(self, model: type[_CursorT], cursor: Cursor) -> _CursorT:
        try:
            return model.model_validate(cursor)
        except ValidationError as exc:
            raise PermanentError(f"{self.name}: invalid cursor {cursor!r}: {exc.errors()[0]['msg']}") from None


def _keep_recent(seen: dict[str, list[str]], *, since: date) -> dict[str, list[str]]:
    """The per-day file lists of the days a later poll may still revisit."""
    return {day: names for day, names in seen.items() if day >= since.isoformat()}


def _json_page(content: bytes, shown: str) -> tuple[int, list[dict[str, Any]]]:
    """``(total_count, results)`` of an Explore v2.1 records page, or PermanentError naming the URL."""
    try:
        page = json.loads(content)
    except ValueError as exc:
        raise PermanentError(f"{shown}: response is not valid JSON ({exc})") from None
    results = page.get("results") if isinstance(page, dict) else None
    total = page.get("total_count") if isinstance(page, dict) else None
    if not isinstance(results, list) or not isinstance(total, int):
        raise PermanentError(f"{shown}: not an OpenDataSoft records page (no total_count/results)")
    if not all(isinstance(record, dict) for record in results):
        raise PermanentError(f"{shown}: records page holds a result that is not an object")
    return total, results


def _json_record(line: bytes, url: str) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except ValueError as exc:
        raise PermanentError(f"{redact_url(url)}: export line is not valid JSON ({exc})") from None
    if not isinstance(record, dict):
        raise PermanentError(f"{redact_url(url)}: export line is not a JSON object")
    return record
