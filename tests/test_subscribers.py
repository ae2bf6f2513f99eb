from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tracker.exceptions import ConfigError
from tracker.subscribers import Delivery, Profile, Subscriber, load_file, load_subscribers, subscriber_files

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "config"

#: values for every ${VAR} the shipped files reference; shaped like the real thing so apprise accepts them
EXAMPLE_ENV = {
    "SMTP_USER": "tracker-bot",
    "SMTP_PASSWORD": "Smtp-Pa55word",
    "SLACK_TOKEN_A": "T1JJ3T3L2",
    "SLACK_TOKEN_B": "A1BRTD4JD",
    "SLACK_TOKEN_C": "TIiajkdnlazkcOXrIdevi7FQ",
    "TEAMS_HOST": "prod-01.westeurope.logic.azure.com",
    "TEAMS_WORKFLOW": "a1b2c3d4e5f6",
    "TEAMS_SIGNATURE": "SigNaTuRe-s3cret-0123",
    "HOOK_HOST": "127.0.0.1:8080",
}


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def subscriber(**fields: object) -> Subscriber:
    return Subscriber.model_validate({"name": "s", "urls": ["json://127.0.0.1/hook"], "follow": ["x"], **fields})


# ---------------------------------------------------------------- loading


def test_minimal_example_loads_as_written(tmp_path):
    write(
        tmp_path,
        "subscribers.yaml",
        """
        version: 1
        subscribers:
          - name: equipe-ao
            urls: ["json://127.0.0.1:8080/hook", "mailto://user:pass@127.0.0.1:2525?from=tracker@example.org&to=ao@example.org"]
            language: fr
            follow: ["20-157376"]        # procedures, by any identifier of any of their notices
            changes: [deadline_moved]     # optional; default: any change
        """,
    )
    [loaded] = load_subscribers(tmp_path)
    assert loaded.name == "equipe-ao"
    assert loaded.language == "fr"
    assert loaded.follow == ("20-157376",)
    assert loaded.changes == ("deadline_moved",)
    assert loaded.urls[1] == "mailto://user:pass@127.0.0.1:2525?from=tracker@example.org&to=ao@example.org"
    assert loaded.profiles == ()
    assert loaded.enabled is True
    assert loaded.delivery.mode == "immediate"
    assert loaded.thresholds.deadline_moved_min_days == 0


def test_no_subscriber_file_means_no_subscribers(tmp_path):
    assert load_subscribers(tmp_path) == []


def test_changes_default_to_any(tmp_path):
    write(
        tmp_path,
        "subscribers.yaml",
        'version: 1\nsubscribers: [{name: a, urls: ["json://h.example/x"], follow: [1]}]\n',
    )
    [loaded] = load_subscribers(tmp_path)
    assert loaded.changes == ("any",)
    assert loaded.follow == ("1",)  # YAML numbers are identifiers too


def test_unknown_key_names_file_and_line(tmp_path):
    path = write(
        tmp_path,
        "subscribers.yaml",
        """
        version: 1
        subscribers:
          - name: a
            urls: ["json://127.0.0.1/hook"]
            follow: ["x"]
            colour: blue
        """,
    )
    with pytest.raises(ConfigError, match=rf"^{path}:6: subscribers\.0\.colour: Extra inputs are not permitted"):
        load_subscribers(tmp_path)


def test_unknown_profile_key_and_change_name_are_errors(tmp_path):
    path = write(
        tmp_path,
        "subscribers.yaml",
        """
        version: 1
        subscribers:
          - name: a
            urls: ["json://127.0.0.1/hook"]
            profiles:
              - cpv: ["45"]
                region: Bretagne
            changes: [deadline_moved, deadline_postponed]
        """,
    )
    with pytest.raises(ConfigError) as caught:
        load_subscribers(tmp_path)
    message = str(caught.value)
    assert f"{path}:7: subscribers.0.profiles.0.region: Extra inputs are not permitted" in message
    assert f"{path}:8: subscribers.0.changes.1: Input should be 'deadline_moved'" in message


@pytest.mark.parametrize(
    ("version", "expected"),
    [("2", "version: Input should be 1"), ("'1'", "version: Input should be 1")],
)
def test_version_must_be_1(tmp_path, version, expected):
    write(tmp_path, "subscribers.yaml", f"version: {version}\nsubscribers: []\n")
    with pytest.raises(ConfigError, match=expected):
        load_subscribers(tmp_path)


def test_missing_environment_variable_is_an_error(tmp_path):
    path = write(
        tmp_path,
        "subscribers.yaml",
        """
        version: 1
        subscribers:
          - name: a
            urls: ["mailto://${SMTP_USER}:${SMTP_PASSWORD}@127.0.0.1:2525?from=a@example.org"]
            follow: ["x"]
        """,
    )
    with pytest.raises(ConfigError, match=rf"{path}:4: environment variable \$\{{SMTP_USER\}} is not set"):
        load_subscribers(tmp_path, env={})
    [loaded] = load_subscribers(tmp_path, env={"SMTP_USER": "bot", "SMTP_PASSWORD": "s3cret"})
    assert loaded.urls == ("mailto://bot:s3cret@127.0.0.1:2525?from=a@example.org",)


def test_url_apprise_cannot_load_is_an_error_with_the_url_masked(tmp_path):
    path = write(
        tmp_path,
        "subscribers.yaml",
        """
        version: 1
        subscribers:
          - name: a
            follow: ["x"]
            urls:
              - "json://127.0.0.1/hook"
              - "nosuchservice://admin:Hunter2-secret@hooks.example.org/tok3n-abcdef-0123"
        """,
    )
    with pytest.raises(ConfigError) as caught:
        load_subscribers(tmp_path)
    message = str(caught.value)
    assert message.startswith(
        f"{path}:5: subscribers.0.urls.1: apprise cannot use nosuchservice://****@hooks.example.org"
    )
    assert "Hunter2" not in message
    assert "tok3n" not in message
    assert "admin" not in message


def test_url_with_bad_token_is_an_error(tmp_path):
    write(
        tmp_path,
        "subscribers.yaml",
        'version: 1\nsubscribers: [{name: a, follow: [x], urls: ["slack://T1JJ3T3L2"]}]\n',
    )
    with pytest.raises(ConfigError, match=r"subscribers\.0\.urls\.0: apprise cannot use slack://\*\*\*\*") as caught:
        load_subscribers(tmp_path)
    assert "T1JJ3T3L2" not in str(caught.value)


def test_duplicate_names_across_files_name_both_places(tmp_path):
    first = write(
        tmp_path,
        "subscribers.yaml",
        'version: 1\nsubscribers:\n  - {name: a, urls: ["json://h.example/x"], follow: [x]}\n',
    )
    second = write(
        tmp_path,
        "subscribers.d/team.yaml",
        'version: 1\nsubscribers:\n  - {name: b, urls: ["json://h.example/x"], follow: [x]}\n'
        '  - {name: a, urls: ["json://h.example/y"], follow: [y]}\n',
    )
    with pytest.raises(ConfigError) as caught:
        load_subscribers(tmp_path)
    assert str(caught.value) == f"{second}:4: subscriber 'a' is already defined at {first}:3"


def test_files_are_read_in_order_and_examples_are_skipped(tmp_path):
    entry = 'version: 1\nsubscribers: [{{name: {}, urls: ["json://h.example/x"], follow: [x]}}]\n'
    write(tmp_path, "subscribers.yaml", entry.format("main"))
    write(tmp_path, "subscribers-achats.yaml", entry.format("achats"))
    write(tmp_path, "subscribers.d/zeta.yaml", entry.format("zeta"))
    write(tmp_path, "subscribers.d/alpha.yaml", entry.format("alpha"))
    write(tmp_path, "subscribers.example.yaml", entry.format("example"))
    write(tmp_path, "sources.yaml", "version: 1\n")
    names = [s.name for s in load_subscribers(tmp_path)]
    assert names == ["achats", "main", "alpha", "zeta"]
    assert all(not f.name.endswith(".example.yaml") for f in subscriber_files(tmp_path))


def test_subscriber_needs_follow_or_profiles(tmp_path):
    write(tmp_path, "subscribers.yaml", 'version: 1\nsubscribers: [{name: a, urls: ["json://h.example/x"]}]\n')
    with pytest.raises(ConfigError, match="give 'follow' or 'profiles'"):
        load_subscribers(tmp_path)


def test_shipped_subscribers_yaml_loads():
    assert load_subscribers(CONFIG, env=EXAMPLE_ENV) == []  # ships empty; examples are not loaded


def test_shipped_example_loads_with_its_environment(monkeypatch):
    for name, value in EXAMPLE_ENV.items():
        monkeypatch.setenv(name, value)
    loaded = {s.name: s for s, _ in load_file(CONFIG / "subscribers.example.yaml")}
    assert list(loaded) == ["equipe-ao", "veille-voirie-bretagne", "energy-team", "entrepot-donnees"]
    assert loaded["equipe-ao"].thresholds.deadline_moved_min_days == 2
    assert loaded["veille-voirie-bretagne"].delivery.mode == "digest"
    assert loaded["energy-team"].profiles[0].keywords == ("energie", "photovolta*")
    assert loaded["entrepot-donnees"].profiles[0].is_catch_all()
    assert loaded["entrepot-donnees"].enabled is False


# ---------------------------------------------------------------- secrets


def test_masked_urls_hide_passwords_and_tokens():
    s = subscriber(
        urls=[
            "mailto://bot:Smtp-Pa55word@127.0.0.1:2525?from=tracker@example.org&to=ao@example.org",
            "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#veille",
            "workflows://prod-01.westeurope.logic.azure.com/a1b2c3d4e5f6/SigNaTuRe-s3cret-0123",
            "json://127.0.0.1:8080/hook?+Authorization=Bearer%20abcdef123456",
        ]
    )
    mail, slack, teams, hook = s.masked_urls()
    assert mail.startswith("mailto://***@127.0.0.1:2525")  # userinfo and every query value, by structure
    assert slack.startswith("slack://T...2/A...D/T...Q/")
    assert teams.startswith("workflow://prod-01.westeurope.logic.azure.com/")
    assert hook.startswith("json://127.0.0.1:8080/hook?")
    shown = " ".join(s.masked_urls())
    for secret in ("Smtp-Pa55word", "A1BRTD4JD", "TIiajkdnlazkcOXrIdevi7FQ", "SigNaTuRe-s3cret-0123", "abcdef123456"):
        assert secret not in shown
    assert "Pa55word" not in repr(s)  # URLs are left out of the repr (tracebacks, assertion messages)


# ---------------------------------------------------------------- profiles and delivery


def test_profile_values_are_stored_canonical():
    profile = Profile.model_validate(
        {
            "buyer": ["Région Île-de-France"],
            "cpv": ["45000000-7", "4523", 45233140, "03100000"],
            "departments": [1, "2a", "56", "971"],
            "nuts": ["frh04"],
            "keywords": ["Énergie", "Photovoltaïque*", "voirie  communale"],
            "sources": ["BOAMP"],
            "families": ["joue"],
        }
    )
    assert profile.buyer == ("region ile de france",)
    assert profile.cpv == ("45", "4523", "4523314", "031")
    assert profile.departments == ("01", "2A", "56", "971")
    assert profile.nuts == ("FRH04",)
    assert profile.keywords == ("energie", "photovoltaique*", "voirie communale")
    assert profile.sources == ("boamp",)
    assert profile.families == ("JOUE",)
    assert not profile.is_catch_all()
    assert Profile().is_catch_all()


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("departments", ["20"], "not a French département code: 20"),
        ("nuts", ["F"], "not a NUTS code or prefix: F"),
        ("cpv", ["45x"], "a CPV code is made of digits"),
        ("keywords", ["***"], "keywords: an entry has no letter or digit"),
    ],
)
def test_profile_rejects_bad_values(field, value, expected):
    with pytest.raises(ValueError, match=expected):
        Profile.model_validate({field: value})


def test_delivery_next_digest_daily_and_weekly_in_local_time():
    daily = Delivery(mode="digest", hour=8)
    # 06:30 UTC in winter is 07:30 in Paris: today's 08:00 is still ahead
    assert daily.next_digest(datetime(2026, 1, 15, 6, 30, tzinfo=UTC)).isoformat() == "2026-01-15T08:00:00+01:00"
    assert daily.next_digest(datetime(2026, 1, 15, 7, 0, tzinfo=UTC)).isoformat() == "2026-01-16T08:00:00+01:00"
    # across the spring DST change the wall time stays 08:00
    assert daily.next_digest(datetime(2026, 3, 28, 12, 0, tzinfo=UTC)).isoformat() == "2026-03-29T08:00:00+02:00"
    weekly = Delivery(mode="digest", digest="weekly", weekday="fri", hour=17, timezone="America/New_York")
    assert weekly.next_digest(datetime(2026, 1, 14, 12, 0, tzinfo=UTC)).isoformat() == "2026-01-16T17:00:00-05:00"
    assert daily.is_immediate(critical=True)
    assert not daily.is_immediate(critical=False)
    assert Delivery().is_immediate(critical=False)


def test_delivery_rejects_unknown_time_zone():
    with pytest.raises(ValueError, match="unknown time zone 'Europe/Vannes'"):
        Delivery(timezone="Europe/Vannes")


def test_fast_text_folding_agrees_with_unicode_decomposition():
    import random

    from tracker.vocabulary import _normalize_slowly, normalize_text

    rng = random.Random(5)  # noqa: S311 - reproducible test data
    ranges = [(32, 126), (0x80, 0x24F), (0x80, 0x24F), (0x300, 0x36F), (0x370, 0x3FF), (0xFB00, 0xFB06)]
    ranges += [(0x1E00, 0x1EFF), (0x2000, 0x206F), (0x2070, 0x209F), (0x20A0, 0x20CF), (0x2100, 0x214F)]
    for _ in range(20000):
        text = "".join(chr(rng.randint(*rng.choice(ranges))) for _ in range(rng.randint(0, 14)))
        assert normalize_text(text) == _normalize_slowly(text), repr(text)
    assert normalize_text("Énergie-Bâtiment œuvre ŀ") == "energie batiment oeuvre l"


def test_word_by_word_folding_agrees_with_whole_text_folding():
    import random

    from tracker.vocabulary import normalize_text, normalized_words

    rng = random.Random(6)  # noqa: S311 - reproducible test data
    ranges = [(32, 126), (0x80, 0x24F), (0x300, 0x36F), (0x370, 0x3FF), (0x2000, 0x200B), (9, 13)]
    for _ in range(5000):
        text = "".join(chr(rng.randint(*rng.choice(ranges))) for _ in range(rng.randint(0, 30)))
        assert normalized_words(text) == normalize_text(text).split(), repr(text)
    assert normalized_words("Réfection\u00a0de l’école « Jean-Moulin »") == [
        "refection",
        "de",
        "l",
        "ecole",
        "jean",
        "moulin",
    ]
