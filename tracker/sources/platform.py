"""Buyer platforms (PLACE and other Atexo MPE sites…): consultation pages and the files of their DCE.

A buyer often moves a deadline or replaces the règlement de consultation on its platform alone: the platform's
messaging informs only the firms that downloaded the DCE, and no rectificatif reaches BOAMP. This source
watches configured consultation pages (and the consultations a platform search page lists), with the
platform family's rules (``config/platforms/*.yaml``, read by :mod:`tracker.parse.platform`):

* each step fetches one consultation page, then the DCE's files the page lists, or the whole DCE archive when
  the platform offers it for anonymous download (its members listed with name, size, date and hash, under a
  member-count and uncompressed-size cap), and the règlement de consultation's bytes (re-read by the RC parser);
* an *observation* document (``application/vnd.tracker.platform-observation+json``: page, files, RC, the
  moment it was seen) is emitted only when what the page states or the files changed since the last one (the
  cursor keeps each consultation's fingerprint), so an unchanged consultation costs nothing downstream.

Every fetch goes through :class:`~tracker.sources.http.HttpSource`'s guard: the configured pages' origins are
the operator's; a link found in a page (a file on another host, a redirect) is fetched only when it leads to a
public address (or one ``outbound.allow`` names). Downloads are capped in size and time.
"""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from datetime import datetime
from typing import Any
from urllib.parse import urljoin

import orjson
from pydantic import Field

from tracker.exceptions import ParseError, PermanentError, TransientError
from tracker.parse.platform import OBSERVATION, consultation_key, page_facts, parse_page
from tracker.sources.base import Cursor, Document, FetchResult, paris_date
from tracker.sources.http import BlockedDestinationError, HttpOptions, HttpSource, HttpUrlStr, redact_url

__all__ = ["PlatformOptions", "PlatformSource"]


class PlatformOptions(HttpOptions):
    """Options of :class:`PlatformSource`."""

    consultations: list[HttpUrlStr] = Field(default_factory=list, description="consultation page URLs to watch")
    search_url: HttpUrlStr | None = Field(None, description="a platform search page whose consultations to watch")
    max_consultations: int = Field(200, ge=1, le=10_000, description="consultations watched at most")
    download: bool = Field(True, description="download the DCE's files (or its archive) to hash them")
    max_file_bytes: int = Field(50_000_000, ge=1024, description="largest DCE file or archive downloaded")
    max_members: int = Field(500, ge=1, description="archive members listed at most")
    max_unpacked_bytes: int = Field(500_000_000, ge=1024, description="archive members read at most, in total")


class PlatformSource(HttpSource[PlatformOptions]):
    """
    Publisher
      Buyer platforms of the Atexo MPE family (PLACE www.marches-publics.gouv.fr, marchespublics.ampmetropole.fr,
      …); another family is another rules file in config/platforms/.
    Options
      consultations       consultation page URLs to watch
      search_url          a search page whose consultation links are watched too
      max_consultations   consultations watched at most
      download            hash the DCE's files or its anonymous archive (default true)
      max_file_bytes      largest DCE file or archive downloaded; max_members, max_unpacked_bytes cap an archive
      timeout, deadline   per read, and per request in total; max_bytes the largest page accepted
    API documentation
      none: the consultation pages as the platform renders them for anonymous visitors, read with the rules
      of config/platforms/<family>.yaml
    Cursor
      ``{"next": i, "queue": [...], "seen": {url: fingerprint}}``: one consultation per step.
    """

    kind = "platform"
    options_model = PlatformOptions
    default_parser = "platform_observation"

    def fetch(self, cursor: Cursor, *, now: datetime) -> FetchResult:
        queue = cursor.get("queue") if isinstance(cursor.get("queue"), list) else None
        if queue is None or not cursor.get("next"):
            queue = self._queue()
        index = int(cursor.get("next") or 0)
        seen = dict(cursor.get("seen") or {})
        if index >= len(queue):
            return FetchResult([], {"next": 0, "seen": seen}, done=True)
        url = str(queue[index])
        documents = self._observe(url, seen, now)
        following = index + 1
        done = following >= len(queue)
        state: Cursor = {"next": 0 if done else following, "seen": seen}
        if not done:
            state["queue"] = queue
        return FetchResult(documents, state, done=done)

    # ------------------------------------------------------------ consultations

    def _queue(self) -> list[str]:
        urls = list(self.options.consultations)
        if self.options.search_url:
            urls += self._listed(self.options.search_url)
        return list(dict.fromkeys(urls))[: self.options.max_consultations]

    def _listed(self, search_url: str) -> list[str]:
        """The consultation links of a search page (those a platform's rules identify)."""
        page = self.get(search_url).content
        try:
            tree = parse_page(page)
        except ParseError as exc:
            raise PermanentError(f"{redact_url(search_url)}: {exc}") from exc
        found = []
        for href in tree.xpath("//a/@href"):
            absolute = urljoin(search_url, str(href))
            if consultation_key(absolute):
                found.append(absolute)
        return found

    def _observe(self, url: str, seen: dict[str, str], now: datetime) -> list[Document]:
        page = self.get(url).content
        try:
            facts = page_facts(page, url=url)
        except ParseError:
            fingerprint = hashlib.sha256(page).hexdigest()
            if seen.get(url) == fingerprint:
                return []
            seen[url] = fingerprint
            return [Document(self.name, url, page, "text/html", published=paris_date(now).isoformat())]
        files, rc = self._dce(facts) if self.options.download else (_listed_only(facts["files"]), None)
        fingerprint = _fingerprint(facts, files, rc)
        if seen.get(url) == fingerprint:
            return []
        seen[url] = fingerprint
        observation = {
            "platform": facts["rules"].platform,
            "url": url,
            "observed": now.isoformat(),
            "page": page.decode("utf-8", "replace"),
            "files": files,
            "rc": rc,
        }
        return [
            Document(
                source=self.name,
                locator=url,
                content=orjson.dumps(observation, option=orjson.OPT_SORT_KEYS),
                media_type=OBSERVATION,
                published=paris_date(now).isoformat(),
                parser="platform_observation",
            )
        ]

    # ------------------------------------------------------------ the DCE

    def _download(self, url: str) -> bytes:
        return self.get(url, max_bytes=self.options.max_file_bytes).content

    def _dce(self, facts: dict[str, Any]) -> tuple[list[dict[str, Any]] | None, dict[str, Any] | None]:
        """The DCE's files (listed ones downloaded and hashed, else the archive's members) and the RC."""
        rules = facts["rules"]
        files: list[dict[str, Any]] = []
        rc: dict[str, Any] | None = None
        for entry in facts["files"]:
            item = {k: entry.get(k) for k in ("name", "size", "date", "url")}
            if entry.get("url"):
                try:
                    content = self._download(str(entry["url"]))
                except BlockedDestinationError as exc:  # a link of the page leads to a private address
                    files.append(item | {"refused": str(exc)})
                    continue
                item |= {"size": len(content), "hash": _sha(content)}
                if rc is None and rules.rc_name is not None and rules.rc_name.search(str(entry["name"])):
                    rc = {"name": entry["name"], "content": base64.b64encode(content).decode()}
            files.append(item)
        if not files and facts.get("archive"):
            try:
                archive = self._download(str(facts["archive"]))
            except BlockedDestinationError as exc:
                return [{"name": "(archive)", "url": facts["archive"], "refused": str(exc)}], None
            files, rc = self._members(archive, rules)
            files.append({"name": "(archive)", "size": len(archive), "hash": _sha(archive), "url": facts["archive"]})
        return (files or None), rc

    def _members(self, archive: bytes, rules: Any) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        try:
            zipped = zipfile.ZipFile(io.BytesIO(archive))
        except zipfile.BadZipFile as exc:
            raise TransientError(f"DCE archive is not a ZIP file: {exc}") from exc
        files: list[dict[str, Any]] = []
        rc: dict[str, Any] | None = None
        budget = self.options.max_unpacked_bytes
        for info in zipped.infolist()[: self.options.max_members]:
            if info.is_dir():
                continue
            content = _read_member(zipped, info, min(budget, self.options.max_file_bytes))
            budget -= len(content)
            day = "{:04d}-{:02d}-{:02d}".format(*info.date_time[:3])
            files.append({"name": info.filename, "size": info.file_size, "date": day, "hash": _sha(content)})
            if rc is None and rules.rc_name is not None and rules.rc_name.search(info.filename.rsplit("/", 1)[-1]):
                rc = {"name": info.filename, "content": base64.b64encode(content).decode()}
            if budget <= 0:
                break
        return files, rc


def _read_member(zipped: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    """A member's bytes, never more than ``limit`` (a member claiming a small size may inflate far beyond it)."""
    with zipped.open(info) as member:
        content = member.read(limit + 1)
    if len(content) > limit:
        raise TransientError(f"DCE archive member {info.filename!r} is larger than {limit} bytes once unpacked")
    return content


def _listed_only(entries: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    return [{k: e.get(k) for k in ("name", "size", "date", "url")} for e in entries] or None


def _fingerprint(facts: dict[str, Any], files: list[dict[str, Any]] | None, rc: dict[str, Any] | None) -> str:
    stated = {
        "values": facts["values"],
        "key": facts["key"],
        "files": files,
        "rc": _sha(base64.b64decode(rc["content"])) if rc else None,
    }
    return _sha(orjson.dumps(stated, option=orjson.OPT_SORT_KEYS))


def _sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()
