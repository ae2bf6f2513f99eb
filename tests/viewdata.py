"""Corpus chains with their dates shifted into the coming days, for the views' tests (upcoming, calendars).

Every corpus deadline is past. :func:`shifted_records` rewrites every date inside a chain's records (ISO days
and ``DD/MM/YYYY`` alike, inside the ``gestion``/``donnees`` JSON strings too) by one whole number of days, so
the chain's first deadline falls ``ahead`` days from today and every interval between its dates is kept.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from tests import corpus_path

CHAINS = {
    "20-157376": ("chain_20-157376_rectif_21-6545_rectif_21-8404.json", date(2021, 1, 27)),
    "17-31381": ("chain_17-31381_rectif_17-46785.json", date(2017, 4, 13)),
}
_ISO = re.compile(r"(?<!\d)(20\d\d)-(\d\d)-(\d\d)(?!\d)")
_FR = re.compile(r"(?<!\d)(\d\d)/(\d\d)/(20\d\d)(?!\d)")


def _shift_text(text: str, days: timedelta) -> str:
    def iso(m: re.Match[str]) -> str:
        return (date(int(m[1]), int(m[2]), int(m[3])) + days).isoformat()

    def fr(m: re.Match[str]) -> str:
        return (date(int(m[3]), int(m[2]), int(m[1])) + days).strftime("%d/%m/%Y")

    return _FR.sub(fr, _ISO.sub(iso, text))


def shifted_records(chain: str, *, ahead: int = 3, today: date | None = None) -> list[dict[str, Any]]:
    """The chain's records, in order, with its first deadline ``ahead`` days from ``today``."""
    name, first_deadline = CHAINS[chain]
    data = json.loads(corpus_path("boamp_ods_api", "chains", name).read_text(encoding="utf-8"))
    days = (today or datetime.now(UTC).date()) + timedelta(days=ahead) - first_deadline
    return [json.loads(_shift_text(json.dumps(r, ensure_ascii=False), days)) for r in data["results"]]


def cancellation_of(initial: dict[str, Any], *, idweb: str, reason: str = "Procédure déclarée sans suite") -> dict:
    """A BOAMP cancellation notice of ``initial`` (built from it: the corpus has none with its initial)."""
    donnees = json.loads(initial["donnees"])
    record = dict(initial)
    record.update(
        idweb=idweb,
        id=idweb.replace("-", "_"),
        etat="ANNULATION",
        nature="ANNULATION",
        annonce_lie=[initial["idweb"]],
        annonces_anterieures=None,
        url_avis=f"https://www.boamp.fr/pages/avis/?q=idweb:{idweb}",
        donnees=json.dumps({"IDENTITE": donnees.get("IDENTITE"), "ANNULATION": {"MOTIF": reason}}),
        gestion=initial["gestion"].replace(initial["idweb"], idweb),
    )
    return record


def write_records(folder: Path, records: list[dict[str, Any]], stem: str) -> list[Path]:
    """One file per record (to ingest a chain one notice at a time)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n, record in enumerate(records):
        path = folder / f"{stem}_{n}_{record['idweb']}.json"
        path.write_text(json.dumps({"total_count": 1, "results": [record]}, ensure_ascii=False), encoding="utf-8")
        paths.append(path)
    return paths
