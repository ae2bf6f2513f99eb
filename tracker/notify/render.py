"""Messages for one matched version, or a digest of several, in four formats. Pure.

Notice content (titles, buyer names, reasons, change values, URLs) is hostile input: every piece of it goes
through the format's escaping, and links are only made from http(s) URLs.

========  ===============================================================================================
text      plain text (e-mail alternative part, SMS-like channels); no markup
html      e-mail; every piece of content ``html.escape``-d
markdown  CommonMark for Slack / Teams; markup characters and ``<``, ``>`` backslash-escaped (apprise turns
          them into Slack's ``&lt;`` / ``&gt;``), ``&`` escaped where it would start an entity
json      webhooks: ``{"procedure", "version", "changes", "subscriber", "reasons", "critical"}``
========  ===============================================================================================

The title is plain text in every format: one short line, ``[tracker] <headline> — <procedure title>``.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal, get_args
from urllib.parse import urlsplit

from tracker.match import classify
from tracker.render import change_text, kind_label, reason_label, reason_text
from tracker.terminal import inert
from tracker.values import render_value

if TYPE_CHECKING:
    from tracker.events import VersionEvent
    from tracker.match import Match

Format = Literal["text", "html", "markdown", "json"]
FORMATS: Final[tuple[Format, ...]] = get_args(Format)
Lang = Literal["fr", "en"]

#: markdown channels (Teams cuts bodies around 1000 characters): at most this many change lines
MARKDOWN_MAX_LINES: Final = 10


@dataclass(frozen=True, slots=True)
class Message:
    title: str
    body: str
    format: str  # one of FORMATS


# ---------------------------------------------------------------- words

_WORDS: Final[dict[str, tuple[str, str]]] = {
    "buyer": ("Acheteur", "Buyer"),
    "published": ("publié le {}", "published {}"),
    "version": ("version {}", "version {}"),
    "reason": ("Motif", "Reason"),
    "described": ("Modifications décrites par l'avis", "Changes the notice describes"),
    "see": ("Voir l'avis", "View the notice"),
    "new_notice": ("Nouvel avis publié.", "New notice published."),
    "more": ("… et {} autres modifications", "… and {} more changes"),
    "follow": ("Vous suivez {}.", "You follow {}."),
    "profile": ("Correspond à votre profil n°{}.", "Matches your profile #{}."),
    "profile_entered": ("Correspond désormais à votre profil n°{}.", "Now matches your profile #{}."),
    "profile_left": ("Ne correspond plus à votre profil n°{}.", "No longer matches your profile #{}."),
    "digest": ("Récapitulatif — {} procédures modifiées", "Digest — {} procedures changed"),
    "digest_one": ("Récapitulatif — 1 procédure modifiée", "Digest — 1 procedure changed"),
}

#: the headline names the most important thing that happened, first match wins
_HEADLINES: Final[tuple[tuple[str, str, str], ...]] = (
    ("cancelled", "Procédure annulée", "Procedure cancelled"),
    ("deadline_earlier", "Date limite avancée", "Deadline brought forward"),
    ("lot_removed", "Lot supprimé", "Lot removed"),
    ("submission_url", "Adresse de dépôt modifiée", "Submission address changed"),
    ("profile_entered", "Nouvelle procédure pour votre profil", "New procedure for your profile"),
    ("profile_left", "Procédure sortie de votre profil", "Procedure left your profile"),
    ("deadline_moved", "Report de date limite", "Deadline moved"),
    ("awarded", "Procédure attribuée", "Contract awarded"),
    ("value_changed", "Montant modifié", "Value changed"),
    ("lot_added", "Lot ajouté", "Lot added"),
    ("date_shift", "Changement de date", "Date changed"),
    ("documents_changed", "Documents modifiés", "Documents changed"),
    ("new_notice", "Nouvel avis", "New notice"),
)
_DEFAULT_HEADLINE: Final = ("Avis modifié", "Notice amended")


def _word(key: str, lang: str, *args: object) -> str:
    fr, en = _WORDS[key]
    return (fr if lang == "fr" else en).format(*args)


def _colon(lang: str) -> str:
    return " : " if lang == "fr" else ": "


def _one_line(value: object, limit: int = 300) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------- what to say (format-free)


@dataclass(slots=True)
class _Section:
    """One version for one subscriber; every string is content to escape."""

    heading: str
    facts: list[str]
    lines: list[str]
    evidence: list[str | None]  # parallel to lines
    reason: str | None
    url: str | None
    why: str
    descriptions: list[str] = field(default_factory=list)
    payload: dict[str, Any] = field(default_factory=dict)


def _headline(match: Match, lang: str) -> str:
    names: set[str] = {r.split(":", 1)[0] for r in match.reasons}
    for change in match.changes:
        names |= classify(change)
        if change.get("field") == "submission_url":
            names.add("submission_url")
    for name, fr, en in _HEADLINES:
        if name in names:
            return fr if lang == "fr" else en
    return _DEFAULT_HEADLINE[0] if lang == "fr" else _DEFAULT_HEADLINE[1]


def _why(match: Match, lang: str) -> str:
    scope, _, value = match.reasons[0].partition(":") if match.reasons else ("", "", "")
    if scope == "follow":
        return _word("follow", lang, value)
    if scope in ("profile", "profile_entered", "profile_left") and value.isdigit():
        return _word(scope, lang, int(value) + 1)
    return ""


def _safe_url(url: str | None) -> str | None:
    """Only absolute http(s) URLs without spaces or control characters become links."""
    if not url or any(c.isspace() or ord(c) < 32 for c in url):
        return None
    parts = urlsplit(url)
    return url if parts.scheme in ("http", "https") and parts.netloc else None


def _procedure_title(event: VersionEvent) -> str:
    return _one_line(event.procedure.title or event.procedure.id or event.notice_id, 200)


def _section(event: VersionEvent, match: Match, lang: str) -> _Section:
    proc = event.procedure
    notice = f"{kind_label(event.kind, lang)} {event.notice_id} ({event.source})"
    notice = notice[:1].upper() + notice[1:]
    if event.published:
        notice += ", " + _word("published", lang, render_value(event.published, lang))
    notice += " — " + _word("version", lang, event.number)
    facts = [f"{_word('buyer', lang)}{_colon(lang)}{proc.buyer}"] if proc.buyer else []
    facts.append(notice)
    lines = [change_text(c, lang) for c in match.changes]
    evidence = [_one_line(c["evidence"], 240) if c.get("evidence") else None for c in match.changes]
    if not lines:
        lines = [_word("new_notice", lang)]
        evidence = [_one_line(proc.description, 300) if proc.description else None]
    return _Section(
        heading=_procedure_title(event),
        facts=[_one_line(f) for f in facts],
        lines=[_one_line(line, 400) for line in lines],
        evidence=evidence,
        reason=_reason(event, lang),
        url=_safe_url(event.url),
        why=_why(match, lang),
        payload=_payload(event, match, lang),
        descriptions=[_one_line(_description(d), 300) for d in event.descriptions if d.get("text")],
    )


def _reason(event: VersionEvent, lang: str) -> str | None:
    text = reason_text({"code": event.reason_code, "text": event.reason}, lang)
    return _one_line(text, 400) if text else None


def _description(entry: dict[str, str]) -> str:
    return f"{entry['section']}: {entry['text']}" if entry.get("section") else entry["text"]


def _payload(event: VersionEvent, match: Match, lang: str) -> dict[str, Any]:
    return {
        "subscriber": match.subscriber.name,
        "reasons": list(match.reasons),
        "critical": match.critical,
        "procedure": asdict(event.procedure),
        "version": {
            "id": event.version_id,
            "n": event.number,
            "notice_id": event.notice_id,
            "source": event.source,
            "kind": event.kind,
            "published": event.published,
            "url": event.url,
            "reason": event.reason,
            "reason_code": event.reason_code,
            "reason_label": reason_label(event.reason_code, lang),
            "descriptions": list(event.descriptions),
            "announced": any(change.get("announced") for change in match.changes),
        },
        "changes": [{**change, "text": change_text(change, lang)} for change in match.changes],
    }


# ---------------------------------------------------------------- how to say it, per format

_MD_SPECIAL: Final = re.compile(r"([\\`*_\[\]<>~|])")
_MD_ENTITY: Final = re.compile(r"&(?=#?[0-9A-Za-z]+;)")
_MD_BLOCK_MARK: Final = re.compile(r"^(?=[#+=-])")  # heading, list, setext underline at the start
_MD_ORDERED: Final = re.compile(r"^(\d+)(?=[.)])")  # "1." / "1)" at the start: an ordered list


def md_escape(text: str) -> str:
    """CommonMark-escape notice content: markup characters, ``<`` ``>``, an ``&`` that starts an entity."""
    escaped = _MD_ENTITY.sub(r"\\&", _MD_SPECIAL.sub(r"\\\1", text))
    return _MD_ORDERED.sub(r"\1\\", _MD_BLOCK_MARK.sub("\\\\", escaped))


def _md_url(url: str) -> str:
    return re.sub(r"[()<>| \"]", lambda m: f"%{ord(m.group()):02X}", url)


def _text(section: _Section, lang: str) -> str:
    out = [section.heading, *section.facts, ""]
    for line, quote in zip(section.lines, section.evidence, strict=True):
        out.append(f"- {line}")
        if quote:
            out.append(f"  « {quote} »" if lang == "fr" else f"  “{quote}”")
    if section.descriptions:
        out += ["", f"{_word('described', lang)}{_colon(lang)}", *(f"- {d}" for d in section.descriptions)]
    if section.reason:
        out += ["", f"{_word('reason', lang)}{_colon(lang)}{section.reason}"]
    if section.url:
        out += ["", f"{_word('see', lang)}{_colon(lang)}{section.url}"]
    if section.why:
        out += ["", section.why]
    return "\n".join(out)


def _html(section: _Section, lang: str) -> str:
    e = html.escape
    items = []
    for line, quote in zip(section.lines, section.evidence, strict=True):
        small = f'<br><small style="color:#6b7280">« {e(quote)} »</small>' if quote else ""
        items.append(f"<li>{e(line)}{small}</li>")
    out = [f"<h3>{e(section.heading)}</h3>", f"<p>{'<br>'.join(e(f) for f in section.facts)}</p>"]
    out.append(f"<ul>{''.join(items)}</ul>")
    if section.descriptions:
        label = e(_word("described", lang) + _colon(lang).rstrip())
        out.append(
            f"<p><strong>{label}</strong></p><ul>{''.join(f'<li>{e(d)}</li>' for d in section.descriptions)}</ul>"
        )
    if section.reason:
        label = _word("reason", lang) + _colon(lang).rstrip()
        out.append(f"<p><strong>{e(label)}</strong> {e(section.reason)}</p>")
    if section.url:
        # the address is shown, not only linked: apprise derives the e-mail's text part from this HTML
        label, href = e(_word("see", lang) + _colon(lang)), e(section.url, quote=True)
        out.append(f'<p>{label}<a href="{href}">{e(section.url)}</a></p>')
    if section.why:
        out.append(f'<p style="color:#6b7280;font-size:12px">{e(section.why)}</p>')
    return "\n".join(out)


def _markdown(section: _Section, lang: str) -> str:
    # "… and 1 more change" would take the place of that change: cut only when at least 2 are left out
    lines = section.lines if len(section.lines) <= MARKDOWN_MAX_LINES + 1 else section.lines[:MARKDOWN_MAX_LINES]
    out = [f"**{md_escape(section.heading)}**", "", " · ".join(md_escape(f) for f in section.facts), ""]
    out += [f"- {md_escape(line)}" for line in lines]
    if len(section.lines) > len(lines):
        out.append(f"- {md_escape(_word('more', lang, len(section.lines) - len(lines)))}")
    if section.descriptions:
        out += ["", f"{md_escape(_word('described', lang))}{_colon(lang)}"]
        out += [f"- {md_escape(d)}" for d in section.descriptions[:MARKDOWN_MAX_LINES]]
    if section.reason:
        out += ["", f"{md_escape(_word('reason', lang))}{_colon(lang)}{md_escape(section.reason)}"]
    if section.url:
        out += ["", f"[{md_escape(_word('see', lang))}]({_md_url(section.url)})"]
    if section.why:
        out += ["", f"_{md_escape(section.why)}_"]
    return "\n".join(out)


_BODIES: Final = {"text": _text, "html": _html, "markdown": _markdown}
_SEPARATORS: Final = {"text": "\n\n" + "—" * 24 + "\n\n", "html": "\n<hr>\n", "markdown": "\n\n---\n\n"}


def _body(sections: list[_Section], fmt: str, lang: str, *, digest: bool) -> str:
    if fmt == "json":
        payloads = [s.payload for s in sections]
        document = {"digest": True, "items": payloads} if digest else payloads[0]
        return json.dumps(document, ensure_ascii=False, default=str)
    if fmt not in _BODIES:
        raise ValueError(f"unknown message format {fmt!r}; expected one of {', '.join(FORMATS)}")
    return _SEPARATORS[fmt].join(_BODIES[fmt](s, lang) for s in sections)


# ---------------------------------------------------------------- API


def message_title(event: VersionEvent, match: Match, lang: Lang = "fr") -> str:
    """``[tracker] Report de date limite — <title>``: one line, at most about 130 characters."""
    return inert(f"[tracker] {_headline(match, lang)} — {_one_line(_procedure_title(event), 90)}")


def _inert_title(title: str) -> str:
    """Teams renders markdown in the title block: break ``[text](url)`` links without visible escapes."""
    return title.replace("](", "] (")


def render_message(event: VersionEvent, match: Match, *, fmt: Format = "text", lang: Lang = "fr") -> Message:
    """One version, as one subscriber sees it (``match.changes``), in one format."""
    body = _body([_section(event, match, lang)], fmt, lang, digest=False)
    title = message_title(event, match, lang)
    return Message(title=_inert_title(title) if fmt == "markdown" else title, body=body, format=fmt)


def render_messages(event: VersionEvent, match: Match, *, lang: Lang = "fr") -> dict[str, Message]:
    """The message in every format, for ``dispatch.send`` to pick from per channel."""
    return {fmt: render_message(event, match, fmt=fmt, lang=lang) for fmt in FORMATS}


def render_digest(items: list[tuple[VersionEvent, Match]], fmt: Format = "text", lang: Lang = "fr") -> Message:
    """Several versions in one message; JSON: ``{"digest": true, "items": [<one message's JSON>, …]}``."""
    if not items:
        raise ValueError("a digest needs at least one item")
    procedures = {event.procedure.id for event, _ in items}
    count = len(procedures)
    title = inert(f"[tracker] {_word('digest' if count > 1 else 'digest_one', lang, count)}")
    body = _body([_section(event, match, lang) for event, match in items], fmt, lang, digest=True)
    return Message(title=title, body=body, format=fmt)


def render_digests(items: list[tuple[VersionEvent, Match]], *, lang: Lang = "fr") -> dict[str, Message]:
    return {fmt: render_digest(items, fmt, lang) for fmt in FORMATS}
