"""Terminal and message safety: whatever notice content holds, what tracker prints or puts in a header is inert."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from tracker.history import render_text, safe
from tracker.terminal import inert, inert_block

HOSTILE = [
    "\x1b[2J\x1b[H",  # clear screen, cursor home
    "\x1b]0;owned\x07",  # window title (OSC … BEL)
    "\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\",  # hyperlink (OSC 8 … ST)
    "\x9b31m",  # 8-bit CSI
    "\x9d0;title\x9c",  # 8-bit OSC … ST
    "\u202eevil\u202c",  # right-to-left override
    "\u2066x\u2069",  # isolates
    "a\nv9  2099-01-01  forged line",  # newline inside a field
    "a\u2028b\u2029c\x85d\re\x0bf\x0cg",  # every other line break
    "\x00\x07\x08\x7f\x1f",  # C0 and DEL
]


@pytest.mark.parametrize("text", HOSTILE)
def test_inert_leaves_no_control_escape_bidi_or_break(text):
    shown = inert(text)
    assert not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F for c in shown), repr(shown)
    assert not any(c in shown for c in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u2028\u2029")
    assert "\n" not in shown


def test_inert_keeps_ordinary_text_and_what_a_hyperlink_showed():
    assert inert("Morbihan Énergies — lot n°2 : 27/01/2021 → 03/02/2021") == (
        "Morbihan Énergies — lot n°2 : 27/01/2021 → 03/02/2021"
    )
    assert inert(HOSTILE[2]) == "click"
    assert inert("a\tb\nc") == "a b c"
    assert inert(None) == ""


def test_inert_block_keeps_the_lines_of_a_body_and_cleans_each():
    assert inert_block("line 1\x1b[2J\nline\u2028two\r\n\x9b31mthree") == "line 1\nline\ntwo\nthree"


def test_history_cannot_forge_lines():
    data = {
        "procedure": {"id": "20-157376", "buyer": "A\x9b2J", "title": "T&#10;itle\nv9  2099  forged"},
        "versions": [
            {
                "n": 1,
                "published": "2021-01-17",
                "kind": "rectificatif",
                "source": "boamp",
                "notice_id": "21-6545\u202e",
                "changes": [{"text": "Date\n    v8 forged\x1b]0;x\x07"}],
            }
        ],
    }
    lines = render_text(data).split("\n")
    assert len(lines) == 3
    assert all(not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F for c in line) for line in lines)
    assert safe("x\x1b[31my") == "xy"


def test_message_titles_are_one_inert_line():
    from tracker.match import Match
    from tracker.notify.dispatch import sample_event
    from tracker.notify.render import render_messages
    from tracker.subscribers import Subscriber

    event = sample_event()
    hostile = dataclasses.replace(event.procedure, title="Travaux\r\nBcc: x@evil.example\u202e\x1b[2J")
    event = dataclasses.replace(event, procedure=hostile)
    subscriber = Subscriber.model_validate({"name": "ops", "urls": ["json://127.0.0.1:9/"], "follow": ["00-000000"]})
    match = Match(subscriber, event.changes, ["follow:00-000000"], critical=False)
    for message in render_messages(event, match).values():
        assert "\r" not in message.title and "\n" not in message.title and "\u202e" not in message.title
        assert "\x1b" not in message.title


def test_quarantine_prints_inert_text(tracker_cli, tmp_path):
    from sqlalchemy import create_engine
    from sqlmodel import Session

    from tracker.models import Quarantine

    tracker_cli("db", "upgrade")
    engine = create_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    with Session(engine) as session:
        session.add(
            Quarantine(
                sha256="0" * 64,
                source="boamp",
                locator="file.json#\x1b]0;owned\x07x",
                reason="bad value '\x1b[2J\x9b31m'\nforged line",
                excerpt="",
                created_at=datetime.now(UTC),
            )
        )
        session.commit()
    engine.dispose()
    result = tracker_cli("quarantine")
    assert "\x1b" not in result.output and "\x9b" not in result.output
    assert "forged line" in result.output and "\nforged line" not in result.output
