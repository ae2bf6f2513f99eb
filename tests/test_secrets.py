"""Secrets: no URL credential, token or password in a log line at any level (httpx's included), an error
message, CLI output or a validation error; masking goes by structure, not by parameter names."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.httpfake import FakeResponse, FakeServer
from tracker.config import load_sources
from tracker.exceptions import ConfigError
from tracker.logs import MaskingFilter, level_of, mask_text, mask_url

RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'
SECRETS = ("pa55word", "s3cretT0ken", "0a1b2c3d4e5f6a7b8c9d0e1f", "xyzzy-value")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://robot:pa55word@example.org/rss", "https://***@example.org/rss"),
        ("https://TOKEN123@example.org/", "https://***@example.org/"),
        ("https://example.org/rss?apitoken=s3cretT0ken", "https://example.org/rss?apitoken=***"),
        ("https://example.org/rss?x=xyzzy-value&lang=fr", "https://example.org/rss?x=***&lang=***"),
        ("https://example.org/rss?xyzzy-value", "https://example.org/rss?***"),
        ("https://example.org/alerts/0a1b2c3d4e5f6a7b8c9d0e1f/feed.xml", "https://example.org/alerts/***/feed.xml"),
        ("https://hooks.example.org/services/T0AB/B0CD/abcdefghijklmnopqrstuvwxyzABCDEF", None),
        ("https://www.boamp.fr/pages/avis/?q=idweb:21-6545", "https://www.boamp.fr/pages/avis/?q=***"),
        (
            "https://example.org/OPENDATA/BOAMP/2021/01/17/21-6545.xml",
            "https://example.org/OPENDATA/BOAMP/2021/01/17/21-6545.xml",
        ),
    ],
)
def test_mask_url_by_structure(url, shown):
    masked = mask_url(url)
    if shown is not None:
        assert masked == shown
    assert "abcdefghijklmnopqrstuvwxyzABCDEF" not in masked


def test_mask_text_finds_urls_and_credentials_in_free_text():
    text = (
        "GET http://robot:pa55word@127.0.0.1:8080/rss?apitoken=s3cretT0ken failed, "
        "Authorization: Bearer abcdef123456 and password=hunter22."
    )
    masked = mask_text(text)
    for secret in ("pa55word", "s3cretT0ken", "abcdef123456", "hunter22"):
        assert secret not in masked
    assert "http://***@127.0.0.1:8080/rss?apitoken=***" in masked


def test_the_filter_masks_arguments_and_tracebacks():
    record = logging.LogRecord(
        "httpx",
        logging.INFO,
        __file__,
        1,
        'HTTP Request: GET %s "%s"',
        ("http://u:pa55word@h/?k=s3cretT0ken", "HTTP/1.1 200 OK"),
        None,
    )
    try:
        raise RuntimeError("while fetching https://h/?token=xyzzy-value")
    except RuntimeError:
        import sys

        record.exc_info = sys.exc_info()
    MaskingFilter().filter(record)
    shown = logging.Formatter().format(record)
    assert all(secret not in shown for secret in SECRETS)
    assert "http://***@h/?k=***" in shown


def test_log_level_names():
    assert level_of("debug") == logging.DEBUG
    assert level_of(" INFO ") == logging.INFO
    assert level_of("15") == 15
    assert level_of("nonsense") == logging.WARNING


def write_feed_config(config: Path, url: str) -> None:
    config.mkdir(exist_ok=True)
    (config / "sources.yaml").write_text(
        f"version: 1\nsources:\n  - name: alerts\n    kind: feed\n    every: 30m\n    options: {{url: '{url}'}}\n"
    )


def test_verbose_poll_leaves_no_secret_in_its_output(tmp_path, tracker_cli, caplog):
    with FakeServer() as server:
        server.route("/0a1b2c3d4e5f6a7b8c9d0e1f/rss.xml", FakeResponse(200, RSS))
        server.route("/gone", FakeResponse(403, b'{"message": "token s3cretT0ken refused"}'))
        base = server.base_url.replace("http://", "http://robot:pa55word@")
        write_feed_config(
            tmp_path / "config", f"{base}/0a1b2c3d4e5f6a7b8c9d0e1f/rss.xml?apitoken=s3cretT0ken&x=xyzzy-value"
        )
        with caplog.at_level(logging.DEBUG):
            ok = tracker_cli("-v", "poll", "alerts")
        assert ok.exit_code == 0, ok.output
        write_feed_config(tmp_path / "config", f"{base}/gone?apitoken=s3cretT0ken")
        failed = tracker_cli("-v", "poll", "alerts")
        status = tracker_cli("status")
    assert failed.exit_code == 1
    assert "HTTP Request" in ok.output  # httpx's own log line is there, masked
    for output in (ok.output, failed.output, status.output, caplog.text):
        for secret in SECRETS:
            assert secret not in output, output


def test_tracker_log_level_is_honoured(tmp_path, tracker_cli, monkeypatch):
    from tracker.settings import get_settings

    monkeypatch.setenv("TRACKER_LOG_LEVEL", "DEBUG")
    get_settings.cache_clear()
    try:
        tracker_cli("status")
        assert logging.getLogger().level == logging.DEBUG
        monkeypatch.setenv("TRACKER_LOG_LEVEL", "ERROR")
        get_settings.cache_clear()
        tracker_cli("status")
        assert logging.getLogger().level == logging.ERROR
    finally:
        get_settings.cache_clear()
        logging.getLogger().setLevel(logging.WARNING)


@pytest.mark.parametrize(
    "entry",
    [
        "every: ${SECRET}",  # parse_every repeats the value it refuses
        "every: 30m\n    budget: ${SECRET}",
        "every: 30m\n    options: {url: 'ftp://host/${SECRET}'}",
        "every: 30m\n    allow: ['${SECRET}']",
    ],
)
def test_a_validation_error_shows_the_variable_never_its_value(tmp_path, entry):
    (tmp_path / "sources.yaml").write_text(f"version: 1\nsources:\n  - name: alerts\n    kind: feed\n    {entry}\n")
    with pytest.raises(ConfigError) as caught:
        load_sources(tmp_path, env={"SECRET": "s3cretT0ken!"})
    assert "s3cretT0ken" not in str(caught.value)
    assert "sources.yaml" in str(caught.value)
