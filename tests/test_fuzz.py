"""The quick slice of the fuzzing (issue 10 point 10): hypothesis drives the structure-aware mutations of
tests/fuzzing.py over seeds of every format; no parser raises anything but a ParseError, none hangs, and what
they read can be stored. The nightly-size run is ``bench/fuzz.py --inputs 100000``."""

from __future__ import annotations

import random
from functools import lru_cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzzing import Seed, check, mutate, seeds
from tracker.parse import PARSERS

pytestmark = pytest.mark.corpus

#: parser bugs the fuzzing found in files of other work in progress, quarantined by ``parse_item`` meanwhile
#: (each a ParseError to be): a 5,000-digit integer in an eForms element (tracker/parse/eforms.py int());
#: a DILA API record whose block is a number (tracker/parse/boamp.py parse_dila_api_json)
KNOWN: tuple[str, ...] = ()  # every parser bug the fuzzing found is fixed: none is tolerated


@lru_cache(maxsize=1)
def _seeds() -> tuple[Seed, ...]:
    found = tuple(seeds())
    if not found:
        pytest.skip("no corpus")
    return found


def test_the_seeds_cover_every_parser_kind():
    from tracker.parse import parser_for

    kinds = {parser_for(seed.document).kind for seed in _seeds()}
    expected = {p.kind for p in PARSERS} - {"pdf", "platform_observation", "ted_legacy", "boamp_json", "rc_text"}
    assert expected <= kinds, expected - kinds


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(st.integers(min_value=0), st.randoms(use_true_random=False))
def test_mutants_never_raise_nor_hang(index: int, rng: random.Random) -> None:
    pool = _seeds()
    seed = pool[index % len(pool)]
    outcome = check(mutate(seed, rng), timeout=10)
    if outcome.error is not None and outcome.error.startswith(KNOWN):
        return
    assert outcome.error is None, f"{seed.name}: {outcome.error}"
    assert outcome.seconds < 10
