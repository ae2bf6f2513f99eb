"""Sources configuration: shipped files are valid, and every mistake is reported with file:line."""

from __future__ import annotations

import textwrap
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests import ROOT
from tracker.config import (
    SourcesConfig,
    check_cron,
    config_dir,
    load_sources,
    load_sources_file,
    parse_every,
)
from tracker.exceptions import ConfigError
from tracker.sources.boamp import BoampSource
from tracker.sources.feed import FeedSource
from tracker.sources.http import make_client

SHIPPED = sorted((ROOT / "config").glob("sources*.yaml"))


def write(tmp_path: Path, text: str, name: str = "sources.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def error_of(path: Path, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load_sources_file(path, env=env or {})
    return str(caught.value)


# ------------------------------------------------------------------ shipped files


def test_config_folder_ships_sources_files():
    assert {path.name for path in SHIPPED} >= {"sources.yaml", "sources.example.yaml"}


@pytest.mark.parametrize("path", SHIPPED, ids=[path.name for path in SHIPPED])
def test_shipped_sources_file_is_valid(path):
    config = load_sources_file(path, env={})
    assert config.sources
    with make_client() as client:
        for source in config.sources:
            assert source.build(client).name == source.name


def test_shipped_example_has_one_entry_of_each_builtin_kind():
    config = load_sources_file(ROOT / "config" / "sources.example.yaml", env={})
    assert {source.kind for source in config.sources} == {"boamp", "feed", "folder"}


def test_shipped_sources_yaml_is_the_minimal_boamp_poll():
    config = load_sources(ROOT / "config", env={})
    (boamp,) = config.sources
    assert (boamp.name, boamp.kind, boamp.every, boamp.cron, boamp.enabled) == (
        "boamp",
        "boamp",
        timedelta(minutes=30),
        None,
        True,
    )
    assert boamp.options.model_dump()["since"] == date(2026, 11, 1)


# ------------------------------------------------------------------ loading


def test_missing_sources_file_is_an_empty_configuration(tmp_path):
    assert load_sources(tmp_path) == SourcesConfig(version=1, sources=())


def test_empty_sources_file_is_an_empty_configuration(tmp_path):
    write(tmp_path, "# nothing yet\n")
    assert load_sources(tmp_path).sources == ()


def test_config_dir_prefers_explicit_then_environment_then_local(monkeypatch, tmp_path):
    monkeypatch.setenv("TRACKER_CONFIG_DIR", str(tmp_path / "env"))
    assert config_dir(tmp_path / "explicit") == tmp_path / "explicit"
    assert config_dir() == tmp_path / "env"
    monkeypatch.delenv("TRACKER_CONFIG_DIR")
    assert config_dir() == Path("config")


def test_entries_build_their_source_with_validated_options(tmp_path):
    path = write(
        tmp_path,
        """
        version: 1
        sources:
          - name: boamp
            kind: boamp
            cron: "*/30 6-22 * * mon-sat"
            options:
              since: 2026-11-01
              page_size: 50
          - name: alerts
            kind: feed
            every: 2h
            enabled: false
            options:
              url: https://example.org/rss.xml
        """,
    )
    config = load_sources_file(path)
    assert [source.name for source in config.enabled] == ["boamp"]
    with make_client() as client:
        boamp = config.get("boamp").build(client)
        feed = config.get("alerts").build(client)
    assert isinstance(boamp, BoampSource)
    assert boamp.options.page_size == 50
    assert isinstance(feed, FeedSource)
    assert config.get("boamp").cron == "*/30 6-22 * * mon-sat"
    with pytest.raises(ConfigError, match="no source named 'nope'"):
        config.get("nope")


def test_environment_variables_are_interpolated(tmp_path):
    path = write(
        tmp_path,
        """
        version: 1
        sources:
          - name: alerts
            kind: feed
            every: 1h
            options:
              url: "https://example.org/alerts.rss?token=${ALERT_TOKEN}"
        """,
    )
    config = load_sources_file(path, env={"ALERT_TOKEN": "abc123"})
    assert config.sources[0].options.model_dump()["url"] == "https://example.org/alerts.rss?token=abc123"


def test_missing_environment_variable_is_an_error_with_file_and_line(tmp_path):
    path = write(
        tmp_path,
        """
        version: 1
        sources:
          - name: alerts
            kind: feed
            every: 1h
            options:
              url: "https://example.org/alerts.rss?token=${ALERT_TOKEN}"
        """,
    )
    message = error_of(path)
    assert message.startswith(f"{path}:")
    assert message.endswith(":7: environment variable ${ALERT_TOKEN} is not set")
    assert "abc123" not in message


# ------------------------------------------------------------------ errors carry file:line

BASE = """
version: 1
sources:
  - name: boamp
    kind: boamp
    every: 30m
    options:
      since: 2026-11-01
"""


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("      since: 2026-11-01", "      since: 2026-11-01\n      bogus: 1"),
            ":8: sources.0.options.bogus: Extra inputs",
        ),
        (
            ("kind: boamp", "kind: nosuchkind"),
            ":4: sources.0.kind: Value error, unknown source kind 'nosuchkind'; known kinds: boamp",
        ),
        (("every: 30m", "every: 5s"), ":5: sources.0.every: Value error, must be at least 10s"),
        (("every: 30m", "every: 30"), ":5: sources.0.every: Value error, expected a duration such as 30s"),
        (("every: 30m", "every: soon"), ":5: sources.0.every: Value error, expected a duration"),
        (("every: 30m", 'every: 30m\n    cron: "0 * * * *"'), ":3: sources.0: Value error, give exactly one of"),
        (("    every: 30m\n", ""), ":3: sources.0: Value error, give exactly one of 'every' and 'cron'"),
        (("every: 30m", 'cron: "61 * * * *"'), ":5: sources.0.cron: Value error, minute field '61': '61' is not in"),
        (("every: 30m", 'cron: "* * *"'), ":5: sources.0.cron: Value error, expected 5 fields"),
        (("since: 2026-11-01", "since: someday"), ":7: sources.0.options.since: Input should be a valid date"),
        (("since: 2026-11-01", "since: 2026-11-01\n      page_size: 500"), ":8: sources.0.options.page_size"),
        (("name: boamp", "name: BOAMP feed"), ":3: sources.0.name: String should match pattern"),
        (("version: 1", "version: 2"), ":1: version: Input should be 1"),
    ],
    ids=[
        "unknown-option",
        "unknown-kind",
        "every-too-short",
        "every-without-unit",
        "every-nonsense",
        "every-and-cron",
        "no-schedule",
        "cron-out-of-range",
        "cron-too-few-fields",
        "bad-option-value",
        "option-out-of-range",
        "bad-name",
        "bad-version",
    ],
)
def test_mistakes_are_reported_with_file_and_line(tmp_path, change, expected):
    old, new = change
    assert old in BASE
    path = write(tmp_path, BASE.replace(old, new, 1))
    message = error_of(path)
    assert f"{path}{expected}" in message, message


def test_duplicate_names_point_at_the_second_entry(tmp_path):
    path = write(
        tmp_path,
        """
        version: 1
        sources:
          - name: boamp
            kind: boamp
            every: 30m
            options: {since: 2026-11-01}
          - name: boamp
            kind: boamp
            every: 1h
            options: {since: 2026-11-01, mode: flux}
        """,
    )
    assert error_of(path) == f"{path}:7: sources.1.name: duplicate source name 'boamp' (first used by entry 0)"


def test_missing_required_option_points_at_the_options(tmp_path):
    path = write(
        tmp_path,
        """
        version: 1
        sources:
          - name: inbox
            kind: folder
            every: 5m
            options:
              pattern: "*.xml"
        """,
    )
    assert error_of(path) == f"{path}:6: sources.0.options.path: Field required"


# ------------------------------------------------------------------ schedules


@pytest.mark.parametrize(
    ("text", "expected"),
    [("10s", timedelta(seconds=10)), ("30m", timedelta(minutes=30)), ("2h", timedelta(hours=2)), ("1d", timedelta(1))],
)
def test_every_accepts_seconds_minutes_hours_days(text, expected):
    assert parse_every(text) == expected


@pytest.mark.parametrize("text", ["0m", "9s", "-1h", "1w", "", "m"])
def test_every_rejects_zero_short_or_unknown_durations(text):
    with pytest.raises(ValueError):
        parse_every(text)


@pytest.mark.parametrize("text", ["*/30 * * * *", "0 6-22/2 * jan-jun mon-fri", "15 8 1,15 * 0", "0 0 * * 7"])
def test_cron_accepts_standard_five_field_expressions(text):
    assert check_cron(text) == text


@pytest.mark.parametrize("text", ["* * * * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *", "*/0 * * * *"])
def test_cron_rejects_invalid_expressions(text):
    with pytest.raises(ValueError):
        check_cron(text)
