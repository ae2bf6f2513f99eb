"""Buyer-platform consultation pages, read with per-platform rules kept as data. Pure.

A platform family (Atexo MPE: PLACE and the many other Atexo sites…) is one YAML file of
``config/platforms/`` (and ``$TRACKER_CONFIG_DIR/platforms/``): how to recognise its pages, where each value is
(an element id suffix or an XPath expression), what its deadline closes, how a consultation is identified in its
links, where the DCE's files, archive and règlement de consultation are. Pages are parsed with ``lxml.html``
(no network, no entity expansion, size-capped); values are read from the tree, never by regular expressions
over HTML.

Two registry entries:

* :class:`PlatformPageParser` reads a saved or fetched consultation page alone;
* :class:`PlatformObservationParser` reads what the platform source (``tracker.sources.platform``) saw at one
  moment: the page, the DCE's file list (name, size, date, hash; the archive's members when the platform
  offers the DCE for anonymous download) and the règlement de consultation's bytes, re-read by the RC parser.

A consultation's snapshot restates what its platform shows: ``title``, ``buyer`` (the public entity), CPV, the
deadline (``tender_deadline``, or ``request_deadline`` for a procedure with a selection stage), the RC's facts
(offer validity, site visit, start, maximum value…) where the page does not state them, and ``documents``: the
DCE's file list, so a file added, replaced or removed is a change of that field. Its identifier
``consultation`` (``host|organisation|consultation id``) is the one :func:`consultation_key` derives
from any URL of that consultation, as BOAMP and TED notices give in their documents address: one timeline.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import os
import re
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any, ClassVar, Final
from urllib.parse import parse_qs, urljoin, urlsplit
from zoneinfo import ZoneInfo

import lxml.etree
import lxml.html
import orjson
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tracker.documents import Document
from tracker.exceptions import ParseError
from tracker.notice import NoticeKind, NoticeSnapshot
from tracker.parse import frtext
from tracker.parse.base import UNKNOWN, XML, xml_root
from tracker.parse.notice_text import published_of
from tracker.parse.xmltree import check_markup
from tracker.values import parse_iso

__all__ = [
    "OBSERVATION",
    "PlatformObservationParser",
    "PlatformPageParser",
    "PlatformRules",
    "consultation_key",
    "load_rules",
    "page_facts",
    "parse_page",
]

#: media type of what the platform source saw at one moment (JSON: page, files, RC)
OBSERVATION: Final = "application/vnd.tracker.platform-observation+json"
HTML: Final = "text/html"
MAX_PAGE_BYTES: Final = 8 * 1024 * 1024
RULES_DIR: Final = Path(__file__).resolve().parents[2] / "config" / "platforms"
_SPACES: Final = re.compile(r"\s+")


# ---------------------------------------------------------------- rules


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id_endswith: str | None = None
    xpath: str | None = None

    def expression(self) -> str:
        if self.id_endswith:
            suffix = self.id_endswith.replace("'", "")
            return f"//*[substring(@id, string-length(@id) - {len(suffix) - 1}) = '{suffix}']"
        if self.xpath:
            return self.xpath
        raise ValueError("a rule needs id_endswith or xpath")


class _SourceRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    title_contains: str | None = None
    host_contains: str | None = None
    name: str
    host: str | None = None


class _DeadlineRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    default: str = "tender_deadline"
    request_deadline_when: str | None = None


class _ConsultationRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    links: str | list[str]
    id_params: list[str]
    org_params: list[str]
    path: str | None = None


class _FilesRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rows: str
    name: str
    size: str | None = None
    date: str | None = None
    url: str | None = None


class _ArchiveRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str


class _RcRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str


class RulesFile(BaseModel):
    """One ``config/platforms/*.yaml`` file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    platform: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str = ""
    detect: list[_Rule]
    sources: list[_SourceRule] = []
    zone: str = "Europe/Paris"
    fields: dict[str, _Rule]
    deadline_field: _DeadlineRule = _DeadlineRule()
    consultation: _ConsultationRule
    files: _FilesRule | None = None
    archive: _ArchiveRule | None = None
    rc: _RcRule | None = None


class PlatformRules:
    """A rules file, compiled."""

    def __init__(self, spec: RulesFile) -> None:
        self.spec = spec
        self.platform = spec.platform
        self.zone = ZoneInfo(spec.zone)
        self.detect = [lxml.etree.XPath(rule.expression()) for rule in spec.detect if not rule.id_endswith]
        self.detect_suffixes = tuple(rule.id_endswith for rule in spec.detect if rule.id_endswith)
        self.fields = {
            name: lxml.etree.XPath(rule.expression()) for name, rule in spec.fields.items() if not rule.id_endswith
        }
        self.suffixes = {name: rule.id_endswith for name, rule in spec.fields.items() if rule.id_endswith}
        links = spec.consultation.links
        self.links = [lxml.etree.XPath(xp) for xp in ([links] if isinstance(links, str) else links)]
        self.path = re.compile(spec.consultation.path) if spec.consultation.path else None
        when = spec.deadline_field.request_deadline_when
        self.request_when = re.compile(when) if when else None
        files = spec.files
        self.rows = lxml.etree.XPath(files.rows) if files else None
        self.row_values = (
            {k: lxml.etree.XPath(v) for k, v in files.model_dump().items() if k != "rows" and v} if files else {}
        )
        self.archive = lxml.etree.XPath(spec.archive.url) if spec.archive else None
        self.rc_name = re.compile(spec.rc.name) if spec.rc else None

    def matches(self, tree: Any) -> bool:
        if self.detect_suffixes and any(ident.endswith(self.detect_suffixes) for ident in _ids(tree)):
            return True
        return any(_found(xp(tree)) for xp in self.detect)

    def source_for(self, title: str, host: str | None) -> tuple[str, str | None]:
        for rule in self.spec.sources:
            if rule.title_contains and rule.title_contains in title:
                return rule.name, rule.host
            if rule.host_contains and host and rule.host_contains in host:
                return rule.name, rule.host
        return self.platform, None


def _found(result: Any) -> bool:
    return bool(result) if not isinstance(result, str) else bool(result.strip())


def _rules_dirs() -> list[Path]:
    dirs = [RULES_DIR]
    configured = os.environ.get("TRACKER_CONFIG_DIR")
    if configured:
        dirs.append(Path(configured) / "platforms")
    return dirs


@functools.cache
def load_rules(dirs: tuple[Path, ...] | None = None) -> tuple[PlatformRules, ...]:
    """Every platform family's rules (a later directory's file of the same platform replaces an earlier one)."""
    found: dict[str, PlatformRules] = {}
    for folder in dirs or tuple(_rules_dirs()):
        for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
            try:
                spec = RulesFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
                found[spec.platform] = PlatformRules(spec)
            except (ValidationError, yaml.YAMLError, lxml.etree.XPathError, re.error, ValueError) as exc:
                raise ParseError(f"{path}: invalid platform rules: {exc}") from exc
    return tuple(found.values())


def rules_named(platform: str) -> PlatformRules:
    for rules in load_rules():
        if rules.platform == platform:
            return rules
    raise ParseError(f"no rules for platform {platform!r} (config/platforms/{platform}.yaml)")


# ---------------------------------------------------------------- pages


_LAST: list[tuple[bytes, Any]] = []


def parse_page(content: bytes) -> Any:
    """The HTML tree of a page (no network, no entities, comments dropped), size-capped. The last page parsed is
    kept, so the registry's ``accepts`` and ``parse`` of one document parse it once."""
    if _LAST and _LAST[0][0] is content:
        return _LAST[0][1]
    tree = _parse_page(content)
    _LAST[:] = [(content, tree)]
    return tree


def _parse_page(content: bytes) -> Any:
    check_markup(content, "platform page", MAX_PAGE_BYTES)  # size, element and attribute counts bounded
    parser = lxml.html.HTMLParser(no_network=True, remove_comments=True, remove_pis=True, encoding="utf-8")
    try:
        return lxml.html.document_fromstring(content, parser=parser)
    except (lxml.etree.ParserError, ValueError) as exc:
        raise ParseError(f"platform page: {exc}") from exc


def _text(result: Any) -> str | None:
    if isinstance(result, list):
        parts = [_text(item) for item in result]
        text = " ".join(p for p in parts if p)
    elif isinstance(result, str):
        text = result
    elif hasattr(result, "text_content"):
        text = result.text_content()
    else:
        text = str(result) if result is not None else ""
    text = _SPACES.sub(" ", text).strip()
    return None if text in ("", "-") else text


_ID_VALUES = lxml.etree.XPath("//@id", smart_strings=False)
_BY_IDS = lxml.etree.XPath("id($ids)")  # libxml2's index of the document's ids: the first element of each
_BY_ID = lxml.etree.XPath("(//*[@id = $id])[1]")
_IDS: list[tuple[Any, list[str]]] = []


def _ids(tree: Any) -> list[str]:
    """The page's ``id`` values, read by libxml2 once per page (detection and fields share them)."""
    if not _IDS or _IDS[0][0] is not tree:
        _IDS[:] = [(tree, [value for value in _ID_VALUES(tree) if value])]
    return _IDS[0][1]


def _by_id_suffix(tree: Any, suffixes: dict[str, str]) -> dict[str, str | None]:
    """The text of the first element whose id ends with each suffix. The ids are searched as strings; the
    elements of those found are then taken from libxml2's id index in one call."""
    every = tuple(suffixes.values())
    wanted: dict[str, str] = {}
    for ident in _ids(tree) if every else ():
        if ident.endswith(every):
            for name, suffix in suffixes.items():
                if name not in wanted and ident.endswith(suffix):
                    wanted[name] = ident
    plain = {i for i in wanted.values() if i.split() == [i]}
    elements = {el.get("id"): el for el in _BY_IDS(tree, ids=" ".join(sorted(plain)))} if plain else {}
    found: dict[str, str | None] = dict.fromkeys(suffixes)
    for name, ident in wanted.items():
        element = elements.get(ident)
        if element is None:  # an id with spaces, or one libxml2 did not index
            element = next(iter(_BY_ID(tree, id=ident)), None)
        found[name] = _text(element) if element is not None else None
    return found


def rules_for(tree: Any) -> PlatformRules | None:
    for rules in load_rules():
        if rules.matches(tree):
            return rules
    return None


def consultation_key(url: str | None, base: str | None = None) -> str | None:
    """``host|organisation|consultation id`` of a platform consultation URL, in any form the rules know
    (``?refConsultation=…&orgAcronyme=…``, ``?id=…&orgAcronyme=…``, ``/entreprise/consultation/…?orgAcronyme=…``);
    None for other URLs."""
    if not url:
        return None
    for rules in load_rules():
        key = _key_by(rules, urljoin(base, url) if base else url)
        if key:
            return key
    return None


def _key_by(rules: PlatformRules, url: str) -> str | None:
    parts = urlsplit(url.strip())
    query = parse_qs(parts.query, keep_blank_values=True)
    org = next((query[p][0] for p in rules.spec.consultation.org_params if query.get(p) and query[p][0]), None)
    if not org or not parts.hostname:
        return None
    ident = next((query[p][0] for p in rules.spec.consultation.id_params if query.get(p) and query[p][0]), None)
    if not ident and rules.path:
        found = rules.path.search(parts.path)
        ident = found.group(1) if found else None
    if not ident or not ident.strip().isalnum():
        return None
    host = parts.hostname.lower().removeprefix("www.")
    return f"{host}|{org.strip().lower()}|{ident.strip()}"


_TITLE = lxml.etree.XPath("string(/html/head/title)")
_ANY_TITLE = lxml.etree.XPath("string(//title)")


def page_facts(content: bytes, *, url: str | None = None, files: bool = True, archive: bool = True) -> dict[str, Any]:
    """What a consultation page shows, by its platform's rules: values, identity, and unless told not to (a
    parser that has them already, or has no use for them), the DCE's listed files and its archive's URL."""
    tree = parse_page(content)
    rules = rules_for(tree)
    if rules is None:
        raise ParseError("not a consultation page of a known platform (config/platforms/*.yaml)")
    values = {name: _text(xp(tree)) for name, xp in rules.fields.items()} | _by_id_suffix(tree, rules.suffixes)
    title = _text(_TITLE(tree)) or _text(_ANY_TITLE(tree)) or ""
    host = urlsplit(url).hostname if url and url.startswith("http") else None
    source, default_host = rules.source_for(title, host)
    base = url if host else (f"https://{default_host}/" if default_host else None)
    return {
        "rules": rules,
        "values": {k: v for k, v in values.items() if v},
        "source": source,
        "key": _page_key(rules, tree, base),
        "files": _listed_files(rules, tree, base) if files else [],
        "archive": _archive_url(rules, tree, base) if archive else None,
    }


def _page_key(rules: PlatformRules, tree: Any, base: str | None) -> str | None:
    """The consultation's key, from the first link of the first ``links`` expression that names one."""
    for links in rules.links:
        for link in links(tree):
            text = link if isinstance(link, str) else (link.text_content() if hasattr(link, "text_content") else "")
            for candidate in _urls_in(str(text)):
                key = _key_by(rules, urljoin(base, candidate) if base else candidate)
                if key:
                    return key
    return None


def _urls_in(text: str) -> Iterable[str]:
    """A link value, or the quoted URLs of a script (``var url = "/?page=…&refConsultation=…"``)."""
    if '"' not in text and "'" not in text:
        return [text]
    return [part for part in re.split(r"[\"']", text) if "=" in part and " " not in part.strip()]


def _listed_files(rules: PlatformRules, tree: Any, base: str | None) -> list[dict[str, Any]]:
    if rules.rows is None:
        return []
    files = []
    for row in rules.rows(tree):
        entry = {k: _text(xp(row)) for k, xp in rules.row_values.items()}
        if not entry.get("name"):
            continue
        if entry.get("url") and base:
            entry["url"] = urljoin(base, str(entry["url"]))
        files.append(entry)
    return files


def _archive_url(rules: PlatformRules, tree: Any, base: str | None) -> str | None:
    if rules.archive is None:
        return None
    link = _text(rules.archive(tree))
    return urljoin(base, link) if link and base else link


# ---------------------------------------------------------------- snapshots


def snapshot_of(
    facts: dict[str, Any],
    *,
    observed: datetime | None = None,
    published: date | None = None,
    files: list[dict[str, Any]] | None = None,
    rc: dict[str, Any] | None = None,
    url: str | None = None,
    digest: str = "",
) -> NoticeSnapshot:
    """The snapshot of one observation of a consultation (its page, its DCE's files, its RC's facts)."""
    rules: PlatformRules = facts["rules"]
    values: dict[str, str] = facts["values"]
    key = facts["key"]
    reference = values.get("reference")
    if not key and not reference:
        raise ParseError("platform page: no consultation identifier and no reference")
    fields: dict[str, Any] = {}
    lots: dict[str, dict[str, Any]] = {}
    # overlay: the page states what it shows; consolidation keeps what the notices said of the rest
    extra: dict[str, Any] = {"platform": rules.platform, "overlay": True}
    if rc:
        fields.update(rc.get("fields") or {})
        lots = dict(rc.get("lots") or {})
        extra["rc"] = {k: v for k, v in rc.items() if k not in ("fields", "lots", "number")}
    deadline = _moment(values.get("deadline"), rules.zone)
    if deadline is not None:
        fields[_deadline_field(rules, values.get("procedure"))] = deadline
    visit = _moment(values.get("site_visit"), rules.zone)
    if visit is not None:
        fields["site_visit"] = visit
    if files is not None:
        fields["documents"] = sorted(files, key=lambda f: (str(f.get("name")), str(f.get("url") or "")))
    for name in ("reference", "procedure", "category", "location", "purchasing_entity", "notice_type"):
        if values.get(name):
            extra[name] = values[name]
    ident = key or f"{facts['source']}|{reference}"
    stamp = observed.strftime("%Y%m%dT%H%M%SZ") if observed else digest[:12]
    snap = NoticeSnapshot(
        source=facts["source"],
        notice_id=f"{ident.split('|', 1)[-1].replace('|', '-')}@{stamp}",
        kind=NoticeKind.OTHER.value,
        published=published or (observed.date() if observed else None),
        identifiers=[("consultation", key)] if key else [],
        title=values.get("title") or (rc or {}).get("title"),
        buyer=values.get("public_entity") or (rc or {}).get("buyer"),
        description=values.get("description"),
        cpv=re.findall(r"\b\d{8}\b", values.get("cpv") or "")[:5],
        url=url,
        fields=fields,
        lots=lots,
        restatement=True,
        extra=extra,
    )
    if reference:
        snap.identifiers.append(("buyer_ref", reference))
    return snap


def _moment(text: str | None, zone: ZoneInfo) -> Any:
    if not text:
        return None
    moments = frtext.find_moments(text, zone=zone)
    return moments[0].value if len(moments) == 1 or len({m.value for m in moments}) == 1 else None


def _deadline_field(rules: PlatformRules, procedure: str | None) -> str:
    words = frtext.fold(procedure or "").lower()
    if rules.request_when is not None and rules.request_when.search(words):
        return "request_deadline"
    return rules.spec.deadline_field.default


def _rc_facts(rc: dict[str, Any] | None) -> dict[str, Any] | None:
    """The facts of the observation's RC, re-read from its bytes (PDF or text); None when it cannot be read."""
    if not rc or not rc.get("content"):
        return None
    from tracker.parse.pdf import extract_text
    from tracker.parse.rc import rc_facts

    content = base64.b64decode(rc["content"])
    try:
        text = extract_text(content) if content.lstrip()[:5] == b"%PDF-" else content.decode("utf-8", "replace")
    except ParseError as exc:
        return {"fields": {}, "lots": {}, "error": str(exc), "name": rc.get("name")}
    facts = rc_facts(text)
    facts["name"] = rc.get("name")
    facts["hash"] = hashlib.sha256(content).hexdigest()
    return facts


class PlatformPageParser:
    """A consultation page of a buyer platform (saved or fetched), by its family's rules."""

    kind: ClassVar[str] = "platform_page"

    def accepts(self, document: Document) -> bool:
        if document.media_type not in (HTML, XML, UNKNOWN, "application/xhtml+xml", ""):
            return False
        if (xml_root(document) or "").lower() != "html":
            return False
        try:
            return rules_for(parse_page(document.content)) is not None
        except ParseError:
            return False

    def parse(self, document: Document) -> list[NoticeSnapshot]:
        url = document.locator if document.locator.startswith(("http://", "https://")) else None
        facts = page_facts(document.content, url=url, archive=False)  # the archive is the source's to fetch
        files = facts["files"] or None
        return [snapshot_of(facts, published=published_of(document), files=files, url=url, digest=document.sha256)]


class PlatformObservationParser:
    """What the platform source saw of one consultation at one moment (see ``tracker.sources.platform``)."""

    kind: ClassVar[str] = "platform_observation"

    def accepts(self, document: Document) -> bool:
        return document.media_type == OBSERVATION

    def parse(self, document: Document) -> list[NoticeSnapshot]:
        try:
            seen = orjson.loads(document.content)
        except orjson.JSONDecodeError as exc:
            raise ParseError(f"platform observation: invalid JSON: {exc}") from exc
        if not isinstance(seen, dict) or not isinstance(seen.get("page"), str):
            raise ParseError("platform observation: no page")
        observed = parse_iso(str(seen.get("observed") or ""), naive_zone=None)
        # the files are the observation's (what the source listed and hashed), not the page's listing
        facts = page_facts(seen["page"].encode(), url=seen.get("url"), files=False, archive=False)
        facts["source"] = document.source or facts["source"]  # the configured source that watched the page
        files = seen.get("files")
        return [
            snapshot_of(
                facts,
                observed=observed if isinstance(observed, datetime) else None,
                files=files if isinstance(files, list) else None,
                rc=_rc_facts(seen.get("rc")),
                url=seen.get("url"),
                digest=document.sha256,
            )
        ]
