"""Every corpus chain, flux, DILA and eForms file gives the reviewed history (``tests/golden/histories``).

A difference is either a regression or an improvement: regenerate with ``.venv/bin/python -m
tests.golden_histories`` and review the diff in the commit.
"""

from __future__ import annotations

import json

import pytest

from tests import need, shared_dir
from tests.golden_histories import GOLDEN, cases, dumps, render_case

pytestmark = pytest.mark.corpus

CASES = cases() if (shared_dir() / "corpus").exists() else {}


@pytest.mark.parametrize("name", sorted(CASES))
def test_history_matches_the_golden_file(name: str) -> None:
    path = GOLDEN / f"{name}.json"
    assert path.exists(), f"no golden file for {name}: run .venv/bin/python -m tests.golden_histories"
    got = dumps(render_case(CASES[name]))
    expected = path.read_text(encoding="utf-8")
    assert json.loads(got) == json.loads(expected), f"{name} differs from {path}: regenerate and review the diff"


def test_every_golden_file_has_its_case() -> None:
    if not CASES:
        need("corpus missing: no golden history case")
    orphans = sorted(p.stem for p in GOLDEN.glob("*.json") if p.stem not in CASES)
    assert orphans == []
