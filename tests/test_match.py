from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

import pytest

from tracker.events import ProcedureInfo, VersionEvent
from tracker.match import Facets, Match, Matcher, classify, is_critical, is_critical_change, naive_match
from tracker.subscribers import Subscriber
from tracker.vocabulary import CHANGE_NAMES

PROCEDURE = ProcedureInfo(
    id="20-157376",
    identifiers=["20-157376", "2020/S 230-566021", "6f0c3b9e-1c5e-4d55-9d43-4b9a36e7c1aa"],
    title="Travaux de voirie communale — ÉNERGIE et éclairage public",
    buyer="Commune de Vannes",
    description="Rénovation de l'éclairage public et des réseaux d'énergie.",
    cpv=["45233140-2", "45316110-9"],
    departments=["56"],
    nuts=["FRH04"],
    sources=["boamp"],
    family="FNS",
)

DEADLINE_V2 = {
    "field": "tender_deadline",
    "lot": None,
    "old": "2021-01-27",
    "new": "2021-02-03",
    "evidence": "La date limite est reportée au 3 février.",
    "section": "IV.2.2)",
}
OPENING_V3 = {
    "field": "opening_date",
    "lot": None,
    "old": "2021-02-04",
    "new": "2021-02-05",
    "evidence": None,
    "section": None,
}


def change(field: str, old: Any = None, new: Any = None, lot: str | None = None) -> dict[str, Any]:
    return {"field": field, "lot": lot, "old": old, "new": new, "evidence": None, "section": None}


def event(
    changes: list[dict[str, Any]],
    *,
    number: int = 2,
    kind: str = "rectificatif",
    procedure: ProcedureInfo = PROCEDURE,
    previous: ProcedureInfo | None = None,
) -> VersionEvent:
    return VersionEvent(
        version_id=number,
        procedure=procedure,
        number=number,
        notice_id=f"21-{number:05d}",
        source="boamp",
        kind=kind,
        published="2021-01-20",
        url="https://www.boamp.fr/avis/detail/21-00002",
        reason=None,
        changes=changes,
        previous=previous,
    )


def subscriber(name: str = "s", **fields: Any) -> Subscriber:
    return Subscriber.model_validate({"name": name, "urls": ["json://127.0.0.1/hook"], **fields})


def matched(subscribers: list[Subscriber], ev: VersionEvent) -> dict[str, Match]:
    return {m.subscriber.name: m for m in Matcher(subscribers).match(ev)}


# ---------------------------------------------------------------- classify


@pytest.mark.parametrize(
    ("c", "expected"),
    [
        (DEADLINE_V2, {"deadline_moved", "date_shift"}),
        (
            change("tender_deadline", "2021-02-03T12:00+01:00", "2021-01-27T12:00+01:00"),
            {"deadline_moved", "deadline_earlier", "date_shift"},
        ),
        (
            change("request_deadline", "2021-02-03T12:00+01:00", "2021-02-03T17:00+01:00"),
            {"deadline_moved", "date_shift"},
        ),
        (change("tender_deadline", "2021-02-03T12:00+01:00", "2021-02-03T11:00Z"), set()),  # the same instant
        (change("tender_deadline", None, "2021-02-03"), set()),  # set, not moved
        (OPENING_V3, {"date_shift"}),
        (change("end_date", "2022-12-31", "2023-06-30"), {"date_shift"}),
        (change("estimated_value", 100000, 120000), {"value_changed"}),
        (change("max_value", None, 5000000), {"value_changed"}),
        (change("lots", None, "LOT-0004"), {"lot_added"}),
        (change("lots", "LOT-0002", None), {"lot_removed"}),
        (change("status", "open", "cancelled"), {"cancelled"}),
        (change("status", "open", "awarded"), {"awarded"}),
        (change("documents_url", "https://a.example/dce", "https://b.example/dce"), {"documents_changed"}),
        (change("text", "ancien texte", "nouveau texte"), {"text"}),
        (change("title", "a", "b"), set()),
        (change("submission_url", "https://a.example", "https://b.example"), set()),
    ],
)
def test_classify(c, expected):
    assert classify(c) == expected


@pytest.mark.parametrize(
    ("c", "critical"),
    [
        (change("tender_deadline", "2021-02-03", "2021-01-27"), True),
        (DEADLINE_V2, False),
        (change("status", "open", "cancelled"), True),
        (change("status", "open", "awarded"), False),
        (change("lots", "LOT-0002", None), True),
        (change("lots", None, "LOT-0002"), False),
        (change("submission_url", "https://a.example", "https://b.example"), True),
        (change("submission_url", None, "https://b.example"), False),
    ],
)
def test_is_critical_change(c, critical):
    assert is_critical_change(c) is critical
    assert is_critical(event([c])) is critical


def test_cancellation_notice_is_critical_even_without_a_status_change():
    ev = event([change("title", "a", "b")], kind="cancellation")
    assert is_critical(ev)
    assert matched([subscriber(follow=["20-157376"])], ev)["s"].critical


# ---------------------------------------------------------------- follow and change filters


@pytest.mark.parametrize("identifier", PROCEDURE.identifiers)
def test_follow_by_any_identifier(identifier):
    m = matched([subscriber(follow=[identifier])], event([DEADLINE_V2]))["s"]
    assert m.reasons == [f"follow:{identifier}", "date_shift", "deadline_moved"]
    assert m.changes == [DEADLINE_V2]


def test_unfollowed_procedure_does_not_match():
    assert matched([subscriber(follow=["21-999999"])], event([DEADLINE_V2])) == {}


def test_deadline_moved_filter_keeps_only_the_deadline_version():
    """v2 moves the deadline 2021-01-27 → 2021-02-03, v3 moves the opening date."""
    deadlines = subscriber("deadlines", follow=["20-157376"], changes=["deadline_moved"])
    everything = subscriber("everything", follow=["20-157376"])
    v2 = event([DEADLINE_V2], number=2)
    v3 = event([OPENING_V3], number=3)
    assert matched([deadlines, everything], v2).keys() == {"deadlines", "everything"}
    assert matched([deadlines, everything], v2)["deadlines"].changes == [DEADLINE_V2]
    assert matched([deadlines, everything], v3).keys() == {"everything"}
    assert matched([deadlines, everything], v3)["everything"].changes == [OPENING_V3]


def test_filter_keeps_the_relevant_subset_of_a_version():
    title = change("title", "Voirie", "Voirie et éclairage")
    cancelled = change("status", "open", "cancelled")
    m = matched(
        [subscriber(follow=["20-157376"], changes=["deadline_moved", "cancelled"])],
        event([title, DEADLINE_V2, cancelled]),
    )["s"]
    assert m.changes == [DEADLINE_V2, cancelled]
    assert m.reasons == ["follow:20-157376", "cancelled", "deadline_moved"]
    assert m.critical


def test_any_filter_names_unclassified_changes_any():
    m = matched([subscriber(follow=["20-157376"])], event([change("title", "a", "b")]))["s"]
    assert m.reasons == ["follow:20-157376", "any"]
    assert not m.critical


@pytest.mark.parametrize(
    ("old", "new", "kept"),
    [
        ("2021-01-27", "2021-01-30", False),  # +3 days < 7
        ("2021-01-27", "2021-02-03", True),  # +7 days
        ("2021-01-27T12:00+01:00", "2021-01-27T17:00+01:00", False),  # a few hours
        ("2021-01-27", "2021-01-26", True),  # earlier: always kept (critical)
    ],
)
def test_deadline_threshold(old, new, kept):
    s = subscriber(follow=["20-157376"], thresholds={"deadline_moved_min_days": 7})
    assert ("s" in matched([s], event([change("tender_deadline", old, new)]))) is kept


def test_threshold_applies_to_deadlines_only():
    s = subscriber(follow=["20-157376"], changes=["date_shift"], thresholds={"deadline_moved_min_days": 7})
    m = matched([s], event([change("tender_deadline", "2021-01-27", "2021-01-28"), OPENING_V3]))["s"]
    assert m.changes == [OPENING_V3]


def test_new_notice_is_an_initial_version_without_changes():
    v1 = event([], number=1, kind="initial")
    subs = [
        subscriber("any", follow=["20-157376"]),
        subscriber("new", follow=["20-157376"], changes=["new_notice"]),
        subscriber("deadlines", follow=["20-157376"], changes=["deadline_moved"]),
    ]
    result = matched(subs, v1)
    # who follows a procedure by identifier knows its notice: "any" means its changes, not the notice itself
    assert result.keys() == {"new"}
    assert result["new"].reasons == ["follow:20-157376", "new_notice"]
    assert result["new"].changes == []


def test_disabled_subscribers_are_skipped():
    assert matched([subscriber(follow=["20-157376"], enabled=False)], event([DEADLINE_V2])) == {}


# ---------------------------------------------------------------- profiles


@pytest.mark.parametrize(
    ("profile", "matches"),
    [
        ({"cpv": ["4523"]}, True),
        ({"cpv": ["45000000-7"]}, True),  # the whole division 45
        ({"cpv": ["4524"]}, False),
        ({"cpv": ["71", "453"]}, True),  # one value is enough
        ({"departments": ["56"]}, True),
        ({"departments": ["35", "2A"]}, False),
        ({"nuts": ["FRH"]}, True),
        ({"nuts": ["FRH03"]}, False),
        ({"keywords": ["énergie"]}, True),
        ({"keywords": ["ECLAIRAGE PUBLIC"]}, True),
        ({"keywords": ["réseau*"]}, True),  # prefix: "reseaux"
        ({"keywords": ["reseau"]}, False),  # whole words only
        ({"keywords": ["public voirie"]}, False),  # words must follow each other
        ({"keywords": ["gaz", "voirie communale"]}, True),
        ({"keywords": ["de voirie communale"]}, True),  # three words, consecutive
        ({"keywords": ["travaux voirie communale"]}, False),  # "de" stands between
        ({"keywords": ["voirie comm*"]}, True),  # a phrase ending in a prefix
        ({"keywords": ["voirie c*"]}, True),
        ({"keywords": ["voirie e*"]}, False),
        ({"keywords": ["eclair*"]}, True),
        ({"keywords": ["eclairages*"]}, False),
        ({"keywords": ["renovation de l eclairage public"]}, True),  # punctuation folds to spaces
        ({"buyer": ["vannes"]}, True),
        ({"buyer": ["COMMUNE DE VANNES"]}, True),
        ({"buyer": ["Lorient"]}, False),
        ({"sources": ["ted"]}, False),
        ({"sources": ["BOAMP", "ted"]}, True),
        ({"families": ["fns"]}, True),
        ({"families": ["JOUE"]}, False),
        ({"cpv": ["4523"], "departments": ["56"], "keywords": ["voirie"]}, True),
        ({"cpv": ["4523"], "departments": ["35"]}, False),  # every criterion must match
        ({}, True),  # catch-all
    ],
)
def test_profile_criteria(profile, matches):
    s = subscriber(profiles=[profile])
    result = matched([s], event([DEADLINE_V2]))
    assert ("s" in result) is matches
    assert naive_match([s], event([DEADLINE_V2])) == list(result.values())
    if matches:
        assert result["s"].reasons[0] == "profile:0"


def test_keyword_matches_description_and_accents_both_ways():
    procedure = replace(PROCEDURE, title="ENERGIE", description="Fourniture d'électricité")
    s = subscriber(profiles=[{"keywords": ["energie"]}, {"keywords": ["électricité"]}])
    assert "s" in matched([s], event([DEADLINE_V2], procedure=procedure))
    s2 = subscriber(profiles=[{"keywords": ["electricite"]}])
    assert matched([s2], event([DEADLINE_V2], procedure=procedure))["s"].reasons[0] == "profile:0"


def test_any_profile_is_enough():
    s = subscriber(profiles=[{"departments": ["35"]}, {"cpv": ["45"]}])
    assert matched([s], event([DEADLINE_V2]))["s"].reasons[0] == "profile:1"


def test_follow_takes_precedence_over_profiles():
    s = subscriber(follow=["2020/S 230-566021"], profiles=[{"cpv": ["45"]}])
    assert matched([s], event([DEADLINE_V2]))["s"].reasons[0] == "follow:2020/S 230-566021"


def test_profile_entered_when_cpv_changes_into_the_profile():
    before = replace(PROCEDURE, cpv=["71000000-8"])
    cpv_change = change("cpv", ["71000000-8"], ["45233140-2"])
    title_change = change("title", "Études", "Travaux")
    ev = event([cpv_change, title_change], previous=before)
    s = subscriber(profiles=[{"departments": ["35"]}, {"cpv": ["4523"]}], changes=["deadline_moved"])
    m = matched([s], ev)["s"]
    assert m.reasons == ["profile_entered:1"]
    assert m.changes == [cpv_change, title_change]  # the whole version: the subscriber never saw it
    assert naive_match([s], ev) == [m]


def test_profile_left_when_cpv_changes_out_of_the_profile():
    now = replace(PROCEDURE, cpv=["71000000-8"])
    ev = event([change("cpv", ["45233140-2"], ["71000000-8"])], procedure=now, previous=PROCEDURE)
    s = subscriber(profiles=[{"cpv": ["4523"]}], changes=["deadline_moved"])
    assert matched([s], ev)["s"].reasons == ["profile_left:0"]


def test_staying_in_the_profile_uses_the_change_filter():
    ev = event([change("title", "a", "b")], previous=PROCEDURE)
    s = subscriber(profiles=[{"cpv": ["4523"]}], changes=["deadline_moved"])
    assert matched([s], ev) == {}
    assert matched([s], event([DEADLINE_V2], previous=PROCEDURE))["s"].reasons[0] == "profile:0"


def test_first_version_is_not_profile_entered():
    s = subscriber(profiles=[{"cpv": ["4523"]}])
    m = matched([s], event([], number=1, kind="initial"))["s"]
    assert m.reasons == ["profile:0", "new_notice"]


def test_matches_come_in_subscriber_order():
    subs = [subscriber(f"s{i}", profiles=[{"cpv": ["45"]}] if i % 2 else [{}]) for i in range(6)]
    assert [m.subscriber.name for m in Matcher(subs).match(event([DEADLINE_V2]))] == [f"s{i}" for i in range(6)]


# ---------------------------------------------------------------- Matcher == naive_match

IDENTIFIERS = [f"20-{i:06d}" for i in range(40)]
BUYERS = [
    "Commune de Vannes",
    "Région Bretagne",
    "Département du Morbihan",
    "Ville de Rennes",
    "CHU de Brest",
    "SNCF Réseau",
]
BUYER_PATTERNS = ["vannes", "bretagne", "rennes", "ne", "chu", "de ", "réseau", "Région", "x"]
CPV_CODES = ["45233140-2", "45000000-7", "71000000-8", "09310000-5", "45210000-2", "79000000-4", "45316110-9"]
CPV_PREFIXES = ["45", "4523", "71", "0931", "452", "7", "45316"]
DEPARTMENTS = ["56", "35", "29", "22", "2A", "75"]
NUTS = ["FRH04", "FRH03", "FR101", "FRK26"]
NUTS_PREFIXES = ["FR", "FRH", "FRH04", "FRK", "FR1"]
WORDS = [
    "travaux",
    "voirie",
    "communale",
    "énergie",
    "ENERGIE",
    "photovoltaïque",
    "entretien",
    "bâtiments",
    "réseau",
    "eau",
]
KEYWORDS = ["energie", "voirie communale", "photovolta*", "eau", "batiment*", "entretien batiments", "e*"]
KEYWORDS += ["travaux voirie communale", "entretien bat*", "photovoltaique", "reseau eau*"]
SOURCES = ["boamp", "ted"]
FAMILIES = ["JOUE", "FNS", "MAPA"]
FIELDS = ["tender_deadline", "request_deadline", "opening_date", "estimated_value", "lots", "status"]
FIELDS += ["documents_url", "text", "title", "submission_url"]


def random_profile(rng: random.Random) -> dict[str, Any]:
    pools = {
        "buyer": BUYER_PATTERNS,
        "cpv": CPV_PREFIXES,
        "departments": DEPARTMENTS,
        "nuts": NUTS_PREFIXES,
        "keywords": KEYWORDS,
        "sources": SOURCES,
        "families": FAMILIES,
    }
    chosen = rng.sample(list(pools), rng.choice([0, 1, 1, 1, 2, 2, 3]))
    return {key: rng.sample(pools[key], rng.randint(1, 2)) for key in chosen}


def random_subscriber(rng: random.Random, i: int) -> Subscriber:
    fields: dict[str, Any] = {}
    if rng.random() < 0.4:
        fields["follow"] = rng.sample(IDENTIFIERS, rng.randint(1, 3))
    if rng.random() < 0.8 or not fields:
        fields["profiles"] = [random_profile(rng) for _ in range(rng.randint(1, 3))]
    if rng.random() < 0.6:
        fields["changes"] = rng.sample(CHANGE_NAMES, rng.randint(1, 4))
    if rng.random() < 0.3:
        fields["thresholds"] = {"deadline_moved_min_days": rng.choice([1, 3, 7])}
    fields["enabled"] = rng.random() < 0.9
    return subscriber(f"sub{i}", **fields)


def random_procedure(rng: random.Random, identifiers: list[str]) -> ProcedureInfo:
    return ProcedureInfo(
        id=identifiers[0],
        identifiers=identifiers,
        title=" ".join(rng.choices(WORDS, k=rng.randint(1, 5))),
        buyer=rng.choice([*BUYERS, None]),
        description=" ".join(rng.choices(WORDS, k=rng.randint(0, 6))) or None,
        cpv=rng.sample(CPV_CODES, rng.randint(0, 2)),
        departments=rng.sample(DEPARTMENTS, rng.randint(0, 2)),
        nuts=rng.sample(NUTS, rng.randint(0, 1)),
        sources=rng.sample(SOURCES, rng.randint(1, 2)),
        family=rng.choice([*FAMILIES, None]),
    )


def random_change(rng: random.Random) -> dict[str, Any]:
    field = rng.choice(FIELDS)

    def day() -> str:
        return f"2021-0{rng.randint(1, 3)}-{rng.randint(10, 28)}"

    values: dict[str, tuple[Any, Any]] = {
        "tender_deadline": (day(), day()),
        "request_deadline": (rng.choice([None, day()]), day()),
        "opening_date": (day(), day()),
        "estimated_value": (rng.randint(1, 9) * 10000, rng.randint(1, 9) * 10000),
        "lots": rng.choice([(None, "LOT-0002"), ("LOT-0003", None)]),
        "status": ("open", rng.choice(["cancelled", "awarded", "open"])),
        "documents_url": ("https://a.example", "https://b.example"),
        "text": ("a", "b"),
        "title": ("a", "b"),
        "submission_url": (rng.choice([None, "https://a.example"]), "https://b.example"),
    }
    old, new = values[field]
    return change(field, old, new)


def random_event(rng: random.Random, n: int) -> VersionEvent:
    identifiers = rng.sample(IDENTIFIERS, rng.randint(1, 3))
    procedure = random_procedure(rng, identifiers)
    if rng.random() < 0.2:
        return event([], number=1, kind="initial", procedure=procedure)
    previous = random_procedure(rng, identifiers) if rng.random() < 0.5 else procedure
    changes = [random_change(rng) for _ in range(rng.randint(0, 4))]
    return event(
        changes,
        number=n,
        kind=rng.choice(["rectificatif", "change", "cancellation"]),
        procedure=procedure,
        previous=previous,
    )


def test_matcher_agrees_with_naive_match_on_generated_data():
    rng = random.Random(20210127)  # noqa: S311 - reproducible test data, not secrets
    subscribers = [random_subscriber(rng, i) for i in range(200)]
    events = [random_event(rng, n) for n in range(2, 52)]
    matcher = Matcher(subscribers)
    total, scopes = 0, set()
    for ev in events:
        expected = naive_match(subscribers, ev)
        assert matcher.match(ev) == expected
        total += len(expected)
        scopes |= {m.reasons[0].split(":")[0] for m in expected}
    # the data exercises every path: not a vacuous comparison
    assert total > 500
    assert scopes == {"follow", "profile", "profile_entered", "profile_left"}


def test_matcher_evaluates_fewer_subscribers_than_naive():
    rng = random.Random(7)  # noqa: S311 - reproducible test data, not secrets
    subscribers = [
        subscriber(f"s{i}", profiles=[{"cpv": [f"{rng.randint(10, 99)}{rng.randint(0, 9)}"]}]) for i in range(500)
    ]
    matcher = Matcher(subscribers)
    candidates = matcher.candidates(Facets.of(PROCEDURE))  # profile ids: the index narrows 500 down to a few
    assert len(candidates) < 50
    assert {m.subscriber.name for m in matcher.match(event([DEADLINE_V2]))} <= {f"s{i}" for i in candidates}


def test_a_matcher_is_freed_without_the_cyclic_collector():
    """settle_long_lived() freezes the subscribers and their index: dropping them on a configuration reload
    must free them by reference counting alone."""
    import gc
    import weakref

    rng = random.Random(3)  # noqa: S311 - reproducible test data, not secrets
    subscribers = [random_subscriber(rng, i) for i in range(50)]
    gc.disable()
    try:
        matcher = Matcher(subscribers)
        list(matcher.decide(random_event(rng, 2)))
        ref = weakref.ref(matcher)
        del matcher
        assert ref() is None
    finally:
        gc.enable()
