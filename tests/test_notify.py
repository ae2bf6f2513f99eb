"""Rendering (pure) and real deliveries: e-mail to a local SMTP server, webhooks to a local HTTP server,
Slack and Teams checked at apprise's HTTP layer (``requests``), since their URLs cannot point at localhost."""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import requests

from tests.hookserver import HookServer
from tests.mailserver import MailServer
from tracker.events import ProcedureInfo, VersionEvent
from tracker.match import Match
from tracker.notify import dispatch
from tracker.notify.render import FORMATS, Message, render_digest, render_message, render_messages
from tracker.subscribers import Subscriber

HOSTILE_TITLE = "<script>alert(1)</script> Travaux de *voirie* [cliquez](http://evil.example) & co"
DEADLINE_LINE = "Date limite de réception des offres (LOT-0001) : 27/01/2021 12:00 → 03/02/2021 12:00 (+7 jours)"
SAMPLE_LINE = "Date limite de réception des offres : 17/02/2026 12:00 → 24/02/2026 12:00 (+7 jours)"

SMTP_PASSWORD = "Smtp-Pa55word-xyz"  # noqa: S105 - a fake, checked never to leak
SLACK = ("T1JJ3T3L2", "A1BRTD4JD", "TIiajkdnlazkcOXrIdevi7FQ")
SLACK_URL = f"slack://{SLACK[0]}/{SLACK[1]}/{SLACK[2]}/#veille"
TEAMS_SIGNATURE = "SigNaTuRe-s3cret-0123"
TEAMS_HOST = "prod-01.westeurope.logic.azure.com"
TEAMS_URL = f"workflows://{TEAMS_HOST}/a1b2c3d4e5f6/{TEAMS_SIGNATURE}"

PROCEDURE = ProcedureInfo(
    id="20-157376",
    identifiers=["20-157376"],
    title="Travaux de voirie communale",
    buyer="Commune de Vannes",
    description="Réfection des chaussées.",
    cpv=["45233140-2"],
    departments=["56"],
    sources=["boamp"],
    family="FNS",
)
DEADLINE = {
    "field": "tender_deadline",
    "lot": "LOT-0001",
    "old": "2021-01-27T12:00+01:00",
    "new": "2021-02-03T12:00+01:00",
    "evidence": "La date limite de réception des offres est reportée au 3 février 2021.",
    "section": "IV.2.2)",
}


def change(field: str, old: Any = None, new: Any = None) -> dict[str, Any]:
    return {"field": field, "lot": None, "old": old, "new": new, "evidence": None, "section": None}


def make_event(
    *, title: str | None = PROCEDURE.title, changes: list[dict[str, Any]] | None = None, **fields: Any
) -> VersionEvent:
    values: dict[str, Any] = {
        "version_id": 42,
        "procedure": replace(PROCEDURE, title=title),
        "number": 2,
        "notice_id": "21-12345",
        "source": "boamp",
        "kind": "rectificatif",
        "published": "2021-01-20",
        "url": "https://www.boamp.fr/avis/detail/21-12345",
        "reason": "Report demandé par les candidats <b>nombreux</b>",
        "changes": [DEADLINE] if changes is None else changes,
    }
    return VersionEvent(**{**values, **fields})


def make_match(
    ev: VersionEvent, reasons: list[str] | None = None, urls: tuple[str, ...] = ("json://127.0.0.1/x",)
) -> Match:
    sub = Subscriber(name="equipe-ao", urls=urls, follow=("20-157376",))
    return Match(sub, list(ev.changes), reasons or ["follow:20-157376", "deadline_moved"], critical=False)


def messages(title: str | None = HOSTILE_TITLE, lang: str = "fr") -> dict[str, Message]:
    ev = make_event(title=title)
    return render_messages(ev, make_match(ev), lang=lang)  # type: ignore[arg-type]


# ---------------------------------------------------------------- rendering


def test_text_message_in_french():
    message = messages(PROCEDURE.title)["text"]
    assert message.format == "text"
    assert message.title == "[tracker] Report de date limite — Travaux de voirie communale"
    assert message.body == "\n".join(
        [
            "Travaux de voirie communale",
            "Acheteur : Commune de Vannes",
            "Avis rectificatif 21-12345 (boamp), publié le 20/01/2021 — version 2",
            "",
            f"- {DEADLINE_LINE}",
            "  « La date limite de réception des offres est reportée au 3 février 2021. »",
            "",
            "Motif : Report demandé par les candidats <b>nombreux</b>",
            "",
            "Voir l'avis : https://www.boamp.fr/avis/detail/21-12345",
            "",
            "Vous suivez 20-157376.",
        ]
    )


def test_text_message_in_english():
    message = messages(PROCEDURE.title, lang="en")["text"]
    assert message.title == "[tracker] Deadline moved — Travaux de voirie communale"
    assert "Buyer: Commune de Vannes" in message.body
    assert "Correction notice 21-12345 (boamp), published 2021-01-20 — version 2" in message.body
    assert "- Tender submission deadline (LOT-0001): 2021-01-27 12:00 → 2021-02-03 12:00 (+7 days)" in message.body
    assert "View the notice: https://www.boamp.fr/avis/detail/21-12345" in message.body
    assert "You follow 20-157376." in message.body


@pytest.mark.parametrize(
    ("changes", "reasons", "headline"),
    [
        ([change("status", "open", "cancelled"), DEADLINE], ["follow:x"], "Procédure annulée"),
        ([change("tender_deadline", "2021-02-03", "2021-01-27")], ["follow:x"], "Date limite avancée"),
        ([change("lots", "LOT-0002", None)], ["follow:x"], "Lot supprimé"),
        (
            [change("submission_url", "https://a.example", "https://b.example")],
            ["follow:x"],
            "Adresse de dépôt modifiée",
        ),
        ([change("cpv", ["71000000"], ["45000000"])], ["profile_entered:0"], "Nouvelle procédure pour votre profil"),
        ([DEADLINE], ["follow:x"], "Report de date limite"),
        ([change("status", "open", "awarded")], ["follow:x"], "Procédure attribuée"),
        ([change("estimated_value", 100000, 120000)], ["follow:x"], "Montant modifié"),
        ([change("lots", None, "LOT-0004")], ["follow:x"], "Lot ajouté"),
        ([change("opening_date", "2021-02-04", "2021-02-05")], ["follow:x"], "Changement de date"),
        ([change("documents_url", "https://a.example", "https://b.example")], ["follow:x"], "Documents modifiés"),
        ([], ["profile:0", "new_notice"], "Nouvel avis"),
        ([change("title", "a", "b")], ["follow:x"], "Avis modifié"),
    ],
)
def test_title_names_the_most_important_change(changes, reasons, headline):
    ev = make_event(changes=changes)
    message = render_message(ev, make_match(ev, reasons), fmt="text")
    assert message.title == f"[tracker] {headline} — Travaux de voirie communale"


def test_title_is_one_short_line():
    ev = make_event(title="Marché\nde travaux\r\n" + "très " * 100)
    title = render_message(ev, make_match(ev), fmt="html").title
    assert "\n" not in title and "\r" not in title
    assert len(title) < 140
    untitled = make_event(title=None)
    assert render_message(untitled, make_match(untitled)).title.endswith(" — 20-157376")


def test_html_escapes_notice_content():
    ev = make_event(
        procedure=replace(PROCEDURE, title=HOSTILE_TITLE, buyer="Mairie <u>de</u> Vannes"),
        reason='<img src=x onerror="alert(2)">',
        changes=[{**DEADLINE, "evidence": "<iframe src=//evil.example>"}],
    )
    body = render_message(ev, make_match(ev), fmt="html").body
    assert "<script>" not in body and "<img" not in body and "<iframe" not in body and "<u>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Travaux de *voirie* [cliquez](http://evil.example) &amp; co" in body
    assert "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;" in body
    assert "Acheteur : Mairie &lt;u&gt;de&lt;/u&gt; Vannes" in body
    assert DEADLINE_LINE in body
    assert (
        'Voir l&#x27;avis : <a href="https://www.boamp.fr/avis/detail/21-12345">https://www.boamp.fr/avis/detail/21-12345</a>'
        in body
    )


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "https://evil.example/\nSet-Cookie: x", "//evil.example", None]
)
def test_only_http_links(url):
    ev = make_event(url=url)
    for fmt in ("html", "markdown", "text"):
        body = render_message(ev, make_match(ev), fmt=fmt).body
        assert "evil" not in body and "javascript" not in body
        assert "Voir l" not in body


def test_markdown_escapes_notice_content():
    message = messages()["markdown"]
    assert message.body.startswith(
        "**\\<script\\>alert(1)\\</script\\> Travaux de \\*voirie\\* \\[cliquez\\](http://evil.example) & co**\n"
    )
    assert f"- {DEADLINE_LINE}" in message.body
    assert "Motif : Report demandé par les candidats \\<b\\>nombreux\\</b\\>" in message.body
    assert "[Voir l'avis](https://www.boamp.fr/avis/detail/21-12345)" in message.body
    assert "](http://evil" not in message.title  # Teams renders markdown in the title block


def test_markdown_caps_long_change_lists():
    ev = make_event(changes=[change("text", f"a{i}", f"b{i}") for i in range(14)])
    body = render_message(ev, make_match(ev), fmt="markdown").body
    assert body.count("\n- ") == 11
    assert "- … et 4 autres modifications" in body
    assert render_message(ev, make_match(ev), fmt="text").body.count("\n- ") == 14


def test_json_message_is_machine_readable():
    message = messages()["json"]
    payload = json.loads(message.body)
    assert payload["procedure"]["id"] == "20-157376"
    assert payload["procedure"]["title"] == HOSTILE_TITLE  # JSON is data: the receiver escapes
    assert payload["version"] == {
        "id": 42,
        "n": 2,
        "notice_id": "21-12345",
        "source": "boamp",
        "kind": "rectificatif",
        "published": "2021-01-20",
        "url": "https://www.boamp.fr/avis/detail/21-12345",
        "reason": "Report demandé par les candidats <b>nombreux</b>",
        "reason_code": None,
        "reason_label": None,
        "descriptions": [],
        "announced": False,
    }
    assert payload["changes"] == [{**DEADLINE, "text": DEADLINE_LINE}]
    assert payload["subscriber"] == "equipe-ao"
    assert payload["reasons"] == ["follow:20-157376", "deadline_moved"]


def test_new_notice_message_shows_the_description():
    ev = make_event(changes=[], kind="initial", number=1)
    body = render_message(ev, make_match(ev, ["profile:1", "new_notice"]), fmt="text").body
    assert "Avis de marché 21-12345 (boamp), publié le 20/01/2021 — version 1" in body
    assert "- Nouvel avis publié.\n  « Réfection des chaussées. »" in body
    assert "Correspond à votre profil n°2." in body


def test_digest_in_every_format():
    first = make_event()
    second = make_event(procedure=replace(PROCEDURE, id="21-000001", title="Entretien des espaces verts"))
    items = [(first, make_match(first)), (second, make_match(second))]
    text = render_digest(items, "text", "fr")
    assert text.title == "[tracker] Récapitulatif — 2 procédures modifiées"
    assert "Travaux de voirie communale" in text.body and "Entretien des espaces verts" in text.body
    assert render_digest(items[:1], "html", "en").title == "[tracker] Digest — 1 procedure changed"
    assert render_digest(items, "html", "fr").body.count("<hr>") == 1
    assert render_digest(items, "markdown", "fr").body.count("\n---\n") == 1
    digest = json.loads(render_digest(items, "json", "fr").body)
    assert digest["digest"] is True
    assert [item["procedure"]["id"] for item in digest["items"]] == ["20-157376", "21-000001"]
    with pytest.raises(ValueError, match="at least one item"):
        render_digest([], "text", "fr")


def test_every_format_is_rendered():
    assert set(messages()) == set(FORMATS) == {"text", "html", "markdown", "json"}


# ---------------------------------------------------------------- channels and masking


@pytest.mark.parametrize(
    ("url", "fmt"),
    [
        ("mailto://127.0.0.1:2525?from=a@example.org", "html"),
        ("mailtos://bot:pw@smtp.example.org?to=a@example.org", "html"),
        (SLACK_URL, "markdown"),
        (TEAMS_URL, "markdown"),
        ("json://127.0.0.1/hook", "json"),
        ("xmls://hooks.example.org/tracker", "json"),
        ("form://hooks.example.org/tracker", "json"),
        ("ntfy://ntfy.example.org/topic", "text"),
        ("nosuchservice://x", "text"),
    ],
)
def test_channel_format(url, fmt):
    assert dispatch.channel_format(url) == fmt


def test_check_url():
    assert dispatch.check_url("json://127.0.0.1:8080/hook") is None
    problem = dispatch.check_url("mailto://admin:Hunter2-secret@")
    assert problem is not None and problem.startswith("apprise cannot use mailto://")
    assert "Hunter2" not in problem


# ---------------------------------------------------------------- real deliveries


@pytest.fixture
def mail() -> Iterator[MailServer]:
    with MailServer() as server:
        yield server


@pytest.fixture
def hooks() -> Iterator[HookServer]:
    with HookServer() as server:
        yield server


@pytest.fixture
def apprise_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Everything apprise logs, down to DEBUG (where it prints request URLs and payloads)."""
    caplog.set_level(logging.DEBUG, logger="apprise")
    return caplog


def assert_no_secret(texts: list[str | None], *secrets: str) -> None:
    for text in texts:
        for secret in secrets:
            assert secret not in (text or ""), f"{secret!r} leaked into {text!r}"


def test_email_is_html_with_a_plain_text_alternative(mail):
    sent = messages()
    result = dispatch.send(mail.url(), sent, timeout=5)
    assert result == dispatch.SendResult(ok=True)
    [received] = mail.wait_for(1)
    assert received["Subject"] == sent["html"].title
    assert received["From"] == "tracker@example.org"
    assert received["To"] == "ao@example.org"
    assert received.get_content_type() == "multipart/alternative"
    html_part = received.get_body(preferencelist=("html",))
    text_part = received.get_body(preferencelist=("plain",))
    assert html_part is not None and text_part is not None
    html_body, text_body = (part.get_content().replace("\r\n", "\n") for part in (html_part, text_part))
    assert html_body == sent["html"].body  # as rendered, but for SMTP's CRLF line ends
    assert DEADLINE_LINE in html_body
    assert "<script>" not in html_body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html_body
    # apprise derives the plain part from the HTML: entities decoded, tags gone
    assert DEADLINE_LINE in text_body
    assert "<script>alert(1)</script>" in text_body  # literal text in a text/plain part is inert
    assert "Voir l'avis : https://www.boamp.fr/avis/detail/21-12345" in text_body


def test_email_with_login(apprise_logs):
    with MailServer(auth=("bot", SMTP_PASSWORD)) as server:
        assert dispatch.send(server.url(auth=f"bot:{SMTP_PASSWORD}"), messages(), timeout=5).ok
        assert len(server.wait_for(1)) == 1
        refused = dispatch.send(server.url(auth="bot:Wrong-Pa55word-abc"), messages(), timeout=5)
    assert not refused.ok
    assert refused.error == 'Connection error while submitting email to "127.0.0.1"'
    assert_no_secret([refused.error, apprise_logs.text], SMTP_PASSWORD, "Wrong-Pa55word-abc")


def test_email_to_a_server_without_auth_fails_without_leaking_the_password(mail, apprise_logs):
    result = dispatch.send(mail.url(auth=f"bot:{SMTP_PASSWORD}"), messages(), timeout=5)
    assert not result.ok
    assert_no_secret([result.error, apprise_logs.text], SMTP_PASSWORD)
    assert mail.messages == []


def test_json_webhook_gets_the_json_message(hooks):
    sent = messages()
    assert dispatch.send(f"json://{hooks.address}/hook", sent, timeout=5).ok
    [request] = hooks.wait_for(1)
    assert (request.method, request.path) == ("POST", "/hook")
    assert request.headers["Content-Type"] == "application/json"
    envelope = request.json
    # apprise's envelope around our message; the JSON message is its "message" string
    assert envelope.keys() == {"version", "title", "message", "attachments", "type"}
    assert envelope["title"] == sent["json"].title
    payload = json.loads(envelope["message"])
    assert payload == json.loads(sent["json"].body)
    assert payload["changes"][0]["text"] == DEADLINE_LINE
    assert payload["changes"][0]["new"] == "2021-02-03T12:00+01:00"


def test_failing_webhook_reports_a_masked_error(hooks, apprise_logs):
    hooks.set_status("/broken", 500)
    url = f"json://hookuser:Hook-Secr3t-pw@{hooks.address}/broken"
    result = dispatch.send(url, messages(), timeout=5)
    expected = "Failed to send JSON POST notification: Internal server error., error=500."
    assert result == dispatch.SendResult(False, expected)
    assert len(hooks.requests) == 1  # no retry here: the worker decides when to retry
    assert_no_secret([result.error, apprise_logs.text], "Hook-Secr3t-pw")


def test_dead_channel_cannot_hang():
    with socket.socket() as silent:  # accepts connections (backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        started = time.monotonic()
        result = dispatch.send(f"json://127.0.0.1:{port}/hook", messages(), timeout=0.5)
    assert not result.ok
    assert time.monotonic() - started < 5
    assert result.error is not None and "Connection error" in result.error


def test_unusable_url_is_a_failed_result_not_an_exception():
    result = dispatch.send("nosuchservice://admin:Hunter2-secret@hooks.example.org/tok3n-abcdef", messages())
    assert not result.ok
    assert result.error is not None and result.error.startswith(
        "apprise cannot use nosuchservice://****@hooks.example.org"
    )
    assert_no_secret([result.error], "Hunter2", "tok3n")


def test_send_sample(hooks):
    sub = Subscriber(name="essai", urls=(f"json://{hooks.address}/hook",), follow=("x",))
    [(masked, result)] = dispatch.send_sample(sub, timeout=5)
    assert masked.startswith(f"json://{hooks.address}/hook")
    assert result.ok
    payload = json.loads(hooks.wait_for(1)[0].json["message"])
    assert payload["changes"][0]["text"] == SAMPLE_LINE
    assert payload["procedure"]["title"].startswith("[TEST]")


# ---------------------------------------------------------------- Slack and Teams at the HTTP layer


class FakeResponse:
    def __init__(self, status_code: int, content: bytes) -> None:
        self.status_code, self.content, self.text = status_code, content, content.decode()


class FakeHTTP:
    """Stands in for requests.request / requests.post, which apprise's Slack and Workflows plugins call."""

    def __init__(self, status_code: int = 200, content: bytes = b"ok") -> None:
        self.status_code, self.content = status_code, content
        self.calls: list[dict[str, Any]] = []

    def request(self, method: str, url: str, **kwargs: Any) -> FakeResponse:
        self.calls.append({"method": method.upper(), "url": url, **kwargs, "json": json.loads(kwargs["data"])})
        return FakeResponse(self.status_code, self.content)

    def post(self, url: str, **kwargs: Any) -> FakeResponse:
        return self.request("POST", url, **kwargs)


@pytest.fixture
def http(monkeypatch: pytest.MonkeyPatch) -> FakeHTTP:
    fake = FakeHTTP()
    monkeypatch.setattr(requests, "request", fake.request)
    monkeypatch.setattr(requests, "post", fake.post)
    return fake


def test_slack_gets_mrkdwn_with_content_escaped(http):
    sent = messages()
    assert dispatch.send(SLACK_URL, sent, timeout=5).ok
    [call] = http.calls
    assert call["url"] == "https://hooks.slack.com/services/" + "/".join(SLACK)
    assert call["timeout"] == (5, 5)
    payload = call["json"]
    assert payload["channel"] == "#veille"
    assert payload["mrkdwn"] is True
    [attachment] = payload["attachments"]
    text = attachment["text"]
    assert f"- {DEADLINE_LINE}" in text
    assert "<script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    # CommonMark bold and links became Slack's *bold* and <url|label>
    assert text.startswith("*&lt;script&gt;")
    assert "<https://www.boamp.fr/avis/detail/21-12345|Voir l'avis>" in text
    assert "<script>" not in attachment["title"]  # apprise escapes the plain-text title for Slack


def test_teams_workflow_gets_markdown_in_an_adaptive_card(http):
    sent = messages()
    assert dispatch.send(TEAMS_URL, sent, timeout=5).ok
    [call] = http.calls
    assert call["url"] == f"https://{TEAMS_HOST}/workflows/a1b2c3d4e5f6/triggers/manual/paths/invoke"
    assert call["params"]["sig"] == TEAMS_SIGNATURE
    card = call["json"]["attachments"][0]["content"]
    blocks = {block.get("id"): block["text"] for block in card["body"] if block["type"] == "TextBlock"}
    assert blocks["title"] == sent["markdown"].title
    assert blocks["body"] == sent["markdown"].body
    assert f"- {DEADLINE_LINE}" in blocks["body"]
    assert "\\<script\\>alert(1)\\</script\\>" in blocks["body"]


@pytest.mark.parametrize(("url", "secrets"), [(SLACK_URL, SLACK), (TEAMS_URL, (TEAMS_SIGNATURE, "a1b2c3d4e5f6"))])
def test_slack_and_teams_failures_are_masked(http, apprise_logs, url, secrets):
    http.status_code, http.content = 500, b"internal_error"
    result = dispatch.send(url, messages(), timeout=5)
    assert not result.ok
    assert result.error is not None and "error=500" in result.error
    assert_no_secret([result.error, apprise_logs.text], *secrets)
    # the filter must not hide what apprise logs at DEBUG, only the secrets in it
    assert "Payload" in apprise_logs.text or "Response Details" in apprise_logs.text


# ---------------------------------------------------------------- eForms change notices: reason, descriptions, …

ANNOUNCED = {
    "field": "tender_deadline",
    "lot": "LOT-0001",
    "old": "2023-12-08T12:30+01:00",
    "new": "2023-12-12T12:30+01:00",
    "evidence": "Termin składania ofert: 2023-12-12 12:30:00",
    "announced": True,
}
DOCUMENTS = {
    "field": "documents",
    "lot": None,
    "old": None,
    "new": {"date": "2020-04-14", "url": "https://x.example/d"},
}
AWARD = {"field": "award_winner", "lot": "LOT-0000", "old": None, "new": ["Espaces <Verts> Lemire"]}


def eforms_event() -> VersionEvent:
    return make_event(
        kind="change",
        source="ted",
        notice_id="740039-2023",
        reason="Covid <i>lockdown</i>",
        reason_code="update-add",
        descriptions=[{"section": "LOT-0000", "text": "Time limit for *receipt* of tenders"}],
        changes=[ANNOUNCED, DOCUMENTS, AWARD],
    )


@pytest.mark.parametrize("fmt", ["text", "html", "markdown", "json"])
@pytest.mark.parametrize("lang", ["fr", "en"])
def test_eforms_reason_descriptions_and_announced_in_every_format(fmt: str, lang: str) -> None:
    ev = eforms_event()
    body = render_message(ev, make_match(ev), fmt=fmt, lang=lang).body  # type: ignore[arg-type]
    label = "Mise à jour d’informations" if lang == "fr" else "Information updated"
    announced = "annoncé dans le texte" if lang == "fr" else "announced in the text only"
    documents = "Documents de la consultation modifiés" if lang == "fr" else "Procurement documents changed"
    winner = "Attributaire" if lang == "fr" else "Winner"
    for expected in (label, "update-add", announced, documents, winner):
        assert expected in body, (expected, body)
    if fmt in ("html", "markdown"):  # escaped like the rest (text has no markup, JSON is data)
        assert "<i>" not in body
        assert "<Verts>" not in body
    if fmt == "html":
        assert "Covid &lt;i&gt;lockdown&lt;/i&gt;" in body
        assert "Time limit for *receipt* of tenders" in body
    if fmt == "markdown":
        assert r"Time limit for \*receipt\* of tenders" in body
    if fmt == "text":
        assert "- LOT-0000: Time limit for *receipt* of tenders" in body
    if fmt == "json":
        version = json.loads(body)["version"]
        assert version["reason_code"] == "update-add"
        assert version["reason_label"] == label
        assert version["descriptions"] == [{"section": "LOT-0000", "text": "Time limit for *receipt* of tenders"}]
        assert version["announced"] is True
        assert json.loads(body)["changes"][0]["announced"] is True
