"""Corpus chains moved in time: every date of the records (ISO ``2021-01-27`` and French ``27/01/2021``, in the
flat fields and inside ``gestion``/``donnees``) shifted by whole weeks, so a chain of 2021 is this week's news
for a test whose clock is today or any fixed day (``tracker.news``: old versions are history, never sent)."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from tests import corpus_path

CHAIN = "chain_20-157376_rectif_21-6545_rectif_21-8404.json"
#: the last publication of the 20-157376 chain
CHAIN_LAST = date(2021, 1, 21)

_ISO = re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)")
_FR = re.compile(r"(?<!\d)(\d{2})/(\d{2})/(\d{4})(?!\d)")


def shift_text(text: str, days: int) -> str:
    """Every date of ``text`` moved by ``days``."""

    def iso(m: re.Match[str]) -> str:
        try:
            return (date(int(m[1]), int(m[2]), int(m[3])) + timedelta(days=days)).isoformat()
        except ValueError:
            return m[0]

    def fr(m: re.Match[str]) -> str:
        try:
            return (date(int(m[3]), int(m[2]), int(m[1])) + timedelta(days=days)).strftime("%d/%m/%Y")
        except ValueError:
            return m[0]

    return _FR.sub(fr, _ISO.sub(iso, text))


def weeks_to(last: date, target: date) -> int:
    """Days, a whole number of weeks, that bring ``last`` to the week ending on ``target`` (weekdays kept)."""
    return (target - last).days // 7 * 7


def shifted_records(days: int, chain: str = CHAIN) -> list[dict[str, Any]]:
    text = corpus_path("boamp_ods_api", "chains", chain).read_text()
    return json.loads(shift_text(text, days))["results"]


def shifted_chain(folder: Path, *, last_published: date | datetime, chain: str = CHAIN) -> Path:
    """The chain as a file in ``folder``, its last notice published in the week ending on ``last_published``."""
    target = last_published.date() if isinstance(last_published, datetime) else last_published
    days = weeks_to(CHAIN_LAST, target)
    path = folder / f"shifted_{chain}"
    path.write_text(json.dumps({"total_count": 3, "results": shifted_records(days, chain)}))
    return path
