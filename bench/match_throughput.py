"""Subscriber matching throughput: indexed ``Matcher`` against the naive scan, on the real corpus notices.

    .venv/bin/python bench/match_throughput.py [--sizes 10000 100000] [--min-seconds 2] [--naive-events 50]

Events are built from the real BOAMP corpus (``$TRACKER_SHARED_DIR/corpus/boamp_ods_api``: the 500 ODS records
plus the ``chains/`` files) the way the pipeline builds them: records parsed with ``tracker.reader``, grouped
into procedures by their identifiers and links, consolidated with ``tracker.consolidate``; each version becomes
one ``VersionEvent`` (its ``previous`` facets included, as ``tracker.outbox`` gives them).

Subscribers are generated with a fixed seed (a mix of followers, profile users and both; see
:func:`make_subscriber`). For each population size, in the same run, it measures:

* the build time of ``Matcher(subscribers)``;
* notices/s of ``Matcher.match`` over every event, repeated until at least ``--min-seconds``;
* notices/s of ``naive_match`` (every event once at the first size; an evenly spaced subset of
  ``--naive-events`` events at larger sizes, where a full scan is slow) and ``Matcher.match`` on the same
  events, whose ratio is the speed-up;
* the average number of matches per event, and whether both give identical matches on the naive events;
* the peak RSS of the process.

Targets (issue): >= 5,000 notices/s at 10,000 subscribers, >= 500/s at 100,000, and >= 10x the naive scan.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import os
import random
import re
import resource
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tracker.consolidate import consolidate, snapshot_record  # noqa: E402
from tracker.events import (  # noqa: E402
    ProcedureInfo,
    VersionEvent,
    procedure_info,
)
from tracker.match import Match, Matcher, naive_match, settle_long_lived  # noqa: E402
from tracker.notice import NoticeSnapshot  # noqa: E402
from tracker.parse import parse_item  # noqa: E402
from tracker.reader import documents_from_file  # noqa: E402
from tracker.subscribers import Subscriber  # noqa: E402
from tracker.vocabulary import _WORDS_CACHE  # noqa: E402

SHARED = Path(os.environ.get("TRACKER_SHARED_DIR") or ROOT.parent / "shared")
CORPUS = SHARED / "corpus" / "boamp_ods_api"
RESULTS = CORPUS / "gigalis_500_reconstructed_as_v21_results.json"
CHAINS = CORPUS / "chains"

SEED = 20240501
URLS = ["json://127.0.0.1:9/hook"]  # never contacted: nothing is sent
FILTERS = ["any", "deadline_moved", "deadline_earlier", "date_shift", "cancelled", "awarded", "text", "new_notice"]
DEPARTMENTS = [f"{n:02d}" for n in range(1, 96) if n != 20] + ["2A", "2B"]
TARGET_RATE = {10_000: 5_000.0, 100_000: 500.0}
TARGET_SPEEDUP = 10.0
CRITERIA = ("buyer", "keywords", "cpv", "nuts", "departments", "sources", "families")

# ---------------------------------------------------------------- events from the corpus


def load_snapshots() -> list[NoticeSnapshot]:
    """Every parsed snapshot of the corpus, each notice once (the chain files repeat some of the 500)."""
    seen: dict[tuple[str, str], NoticeSnapshot] = {}
    errors = 0
    for path in [RESULTS, *sorted(CHAINS.glob("*.json"))]:
        for doc in documents_from_file(path):
            item = parse_item(doc)
            errors += item.error is not None
            for snap in item.snapshots:
                seen.setdefault((snap.source, snap.notice_id), snap)
    if errors:
        print(f"  ({errors} corpus records did not parse; skipped)")
    return list(seen.values())


def group_procedures(snapshots: list[NoticeSnapshot]) -> list[list[NoticeSnapshot]]:
    """Snapshots sharing an identifier, directly or through a link, are one procedure (union-find)."""
    parent = list(range(len(snapshots)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    for i, snap in enumerate(snapshots):
        for _, value in [*snap.identifiers, *snap.links]:
            j = owner.setdefault(value, i)
            parent[root(i)] = root(j)
    groups: dict[int, list[NoticeSnapshot]] = {}
    for i, snap in enumerate(snapshots):
        groups.setdefault(root(i), []).append(snap)
    return list(groups.values())


def build_events(snapshots: list[NoticeSnapshot]) -> list[VersionEvent]:
    """One event per version of each procedure (``consolidate`` decides what a version is and its changes).

    A first version that is not an initial notice (a rectificatif or award whose original is not in the
    corpus) gets ``previous`` = its own facets: in production the original would be known, and the
    rectificatif restates its facets.
    """
    events: list[VersionEvent] = []
    for group in group_procedures(snapshots):
        identifiers = list(dict.fromkeys(v for s in group for _, v in [*s.identifiers, *s.links]))
        records = [snapshot_record(s) for s in group]
        applied: list[dict[str, Any]] = []
        previous: ProcedureInfo | None = None
        number = 0
        for record, version in consolidate(records):
            applied.append(record)
            if version is None:
                continue
            number += 1
            info = procedure_info(applied, version.state, identifiers, identifiers[0])
            before = previous if previous is not None else (info if version.kind != "initial" else None)
            events.append(
                VersionEvent(
                    version_id=len(events) + 1,
                    procedure=info,
                    number=number,
                    notice_id=version.notice_id,
                    source=version.source,
                    kind=version.kind,
                    published=version.published,
                    url=record.get("url"),
                    reason=record.get("reason"),
                    changes=version.changes,
                    previous=before,
                )
            )
            previous = info
    return events


# ---------------------------------------------------------------- generated subscribers


@dataclass(frozen=True)
class Vocabulary:
    """What generated subscribers draw from: the corpus' own values plus plausible values it lacks."""

    idwebs: list[str]
    cpv: list[str]  # 8-digit codes
    nuts: list[str]
    words: list[str]  # title words (accents kept)
    phrases: list[str]  # two consecutive title words
    buyer_parts: list[str]  # one or two words of a buyer name

    @classmethod
    def of(cls, snapshots: list[NoticeSnapshot]) -> Vocabulary:
        stop = {"pour", "dans", "avec", "des", "les", "aux", "une", "sur", "par", "marché", "marchés", "relatif"}
        words: set[str] = set()
        phrases: set[str] = set()
        parts: set[str] = set()
        for snap in snapshots:
            tokens = [t for t in re.findall(r"[^\W\d_]+", (snap.title or "").lower()) if len(t) >= 3]
            words.update(t for t in tokens if len(t) >= 5 and t not in stop)
            phrases.update(f"{a} {b}" for a, b in itertools.pairwise(tokens) if {a, b}.isdisjoint(stop))
            name = re.findall(r"[^\W\d_]+", (snap.buyer or "").lower())
            # users name a buyer ("nantes metropole"), not a word every buyer has ("commune")
            parts.update(
                f"{a} {b}" for a, b in itertools.pairwise(name) if len(a) >= 4 and len(b) >= 4 and not {a, b} & GENERIC
            )
        return cls(
            idwebs=sorted({v for s in snapshots for scheme, v in s.identifiers if scheme == "idweb"}),
            cpv=sorted({c.split("-")[0] for s in snapshots for c in s.cpv if c[:8].isdigit()}),
            nuts=sorted({n.upper() for s in snapshots for n in s.nuts}),
            words=sorted(words),
            phrases=sorted(phrases),
            buyer_parts=sorted(parts),
        )


GENERIC = {
    "commune",
    "communes",
    "communaute",
    "ville",
    "departement",
    "centre",
    "hospitalier",
    "syndicat",
    "region",
    "conseil",
    "general",
    "direction",
    "service",
    "services",
    "public",
    "publique",
    "mairie",
}
EXTRA_WORDS = ["photovoltaïque", "désamiantage", "élagage", "voirie", "chauffage", "électricité", "toiture"]


#: the 45 CPV divisions: real users' trades spread over all of them, while the corpus is one sector (IT)
CPV_DIVISIONS = [
    "03",
    "09",
    "14",
    "15",
    "16",
    "18",
    "19",
    "22",
    "24",
    "30",
    "31",
    "32",
    "33",
    "34",
    "35",
    "37",
    "38",
    "39",
    "41",
    "42",
    "43",
    "44",
    "45",
    "48",
    "50",
    "51",
    "55",
    "60",
    "63",
    "64",
    "65",
    "66",
    "70",
    "71",
    "72",
    "73",
    "75",
    "76",
    "77",
    "79",
    "80",
    "85",
    "90",
    "92",
    "98",
]
SECTOR_WORDS = [
    "voirie",
    "assainissement",
    "toiture",
    "menuiserie",
    "restauration",
    "nettoyage",
    "gardiennage",
    "transport",
    "mobilier",
    "signalisation",
    "espaces verts",
    "chauffage",
    "ascenseurs",
    "désamiantage",
    "élagage",
    "photovoltaïque",
    "électricité",
    "plomberie",
    "peinture",
    "carrelage",
    "étanchéité",
    "démolition",
    "terrassement",
    "fournitures scolaires",
    "denrées alimentaires",
    "vêtements de travail",
    "carburant",
    "véhicules",
    "maîtrise d'œuvre",
    "géomètre",
    "assurances",
    "formation",
    "impression",
    "traiteur",
]

#: share of subscriber interests drawn from the corpus itself (set by --population)
CORPUS_SHARE = {"spread": 0.15, "concentrated": 0.8}
corpus_share = CORPUS_SHARE["spread"]


def cpv_prefix(rng: random.Random, vocab: Vocabulary) -> str:
    if rng.random() < corpus_share:
        code = rng.choice(vocab.cpv)
    else:
        code = f"{rng.choice(CPV_DIVISIONS)}{rng.randint(0, 999999):06d}"
    lengths = [3, 4, 4, 5, 5, 6, 8] if corpus_share < 0.5 else [2, 3, 3, 4, 4, 5, 6, 8]
    return code[: rng.choice(lengths)]


def keyword(rng: random.Random, vocab: Vocabulary) -> str:
    if rng.random() >= corpus_share:
        return rng.choice(SECTOR_WORDS)
    roll = rng.random()
    if roll < 0.55:
        return rng.choice(vocab.words) if rng.random() < 0.9 else rng.choice(EXTRA_WORDS)
    if roll < 0.8:
        return rng.choice(vocab.phrases)
    word = rng.choice(vocab.words)
    return f"{word[: max(4, len(word) - 3)]}*"  # prefix: "réhabilit*"


def nuts_prefix(rng: random.Random, vocab: Vocabulary) -> str:
    code = rng.choice(vocab.nuts) if vocab.nuts and rng.random() < 0.8 else f"FR{rng.choice('BCDEFGHIJKLMY')}"
    return code[: rng.randint(2, len(code))]


def some(rng: random.Random, low: int, high: int, draw: Callable[[], str]) -> list[str]:
    return list(dict.fromkeys(draw() for _ in range(rng.randint(low, high))))


#: profile shapes and their weights: most users combine an activity (CPV or keywords) with a territory
PROFILE_SHAPES: list[tuple[tuple[str, ...], int]] = [
    (("cpv", "departments"), 30),
    (("cpv",), 10),
    (("keywords", "departments"), 20),
    (("keywords",), 10),
    (("cpv", "keywords"), 5),
    (("buyer",), 8),
    (("buyer", "cpv"), 3),
    (("nuts", "cpv"), 5),
    (("nuts", "keywords"), 4),
    (("departments",), 1),
    (("families", "cpv"), 2),
]


def make_profile(rng: random.Random, vocab: Vocabulary) -> dict[str, Any]:
    shape = rng.choices([s for s, _ in PROFILE_SHAPES], weights=[w for _, w in PROFILE_SHAPES])[0]
    draws: dict[str, Callable[[], list[str]]] = {
        "cpv": lambda: some(rng, 1, 5, lambda: cpv_prefix(rng, vocab)),
        "departments": lambda: rng.sample(DEPARTMENTS, rng.randint(1, 4)),
        "keywords": lambda: some(rng, 1, 5, lambda: keyword(rng, vocab)),
        "buyer": lambda: rng.sample(vocab.buyer_parts, rng.randint(1, 2)),
        "nuts": lambda: some(rng, 1, 2, lambda: nuts_prefix(rng, vocab)),
        "families": lambda: [rng.choice(["JOUE", "FNS", "MAPA"])],
    }
    return {criterion: draws[criterion]() for criterion in shape}


def followed_id(rng: random.Random, vocab: Vocabulary) -> str:
    if rng.random() < 0.4:
        return rng.choice(vocab.idwebs)
    return f"{rng.randint(15, 25)}-{rng.randint(1, 199_999)}"  # a procedure not in the corpus


def make_subscriber(rng: random.Random, vocab: Vocabulary, i: int) -> dict[str, Any]:
    """~30% follow 1-20 procedures, ~50% have 1-3 profiles, ~20% both; half narrow the change filter."""
    data: dict[str, Any] = {"name": f"sub{i:06d}", "urls": URLS}
    kind = rng.random()
    if kind < 0.3 or kind >= 0.8:
        count = min(20, 1 + int(rng.expovariate(1 / 4)))
        data["follow"] = list(dict.fromkeys(followed_id(rng, vocab) for _ in range(count)))
    if kind >= 0.3:
        data["profiles"] = [make_profile(rng, vocab) for _ in range(rng.choice([1, 1, 1, 2, 2, 3]))]
    if rng.random() < 0.5:
        data["changes"] = rng.sample(FILTERS, rng.randint(1, 3))
    if rng.random() < 0.1:
        data["thresholds"] = {"deadline_moved_min_days": rng.choice([1, 3, 7])}
    if rng.random() < 0.3:
        data["delivery"] = {"mode": "digest", "digest": rng.choice(["daily", "daily", "weekly"])}
    data["enabled"] = rng.random() >= 0.01
    return data


def make_subscribers(count: int, vocab: Vocabulary, seed: int) -> list[Subscriber]:
    """Validated through the pydantic model (``Subscriber.model_validate``): every normaliser runs. No apprise
    URL check: ``tracker.subscribers`` does that only when loading a file, and these URLs are never used."""
    rng = random.Random(seed)
    return [Subscriber.model_validate(make_subscriber(rng, vocab, i)) for i in range(count)]


def describe(subscribers: Sequence[Subscriber]) -> str:
    follow = sum(1 for s in subscribers if s.follow and not s.profiles)
    profiles = sum(1 for s in subscribers if s.profiles and not s.follow)
    both = sum(1 for s in subscribers if s.follow and s.profiles)
    n_profiles = sum(len(s.profiles) for s in subscribers)
    narrowed = sum(1 for s in subscribers if "any" not in s.changes)
    disabled = sum(1 for s in subscribers if not s.enabled)
    return (
        f"follow only {follow}, profiles only {profiles}, both {both}; {n_profiles} profiles; "
        f"{sum(len(s.follow) for s in subscribers)} followed ids; "
        f"change filter without 'any' {narrowed}; disabled {disabled}"
    )


# ---------------------------------------------------------------- measurement


def timed(match: Callable[[VersionEvent], list[Match]], events: Sequence[VersionEvent], min_seconds: float) -> float:
    """Notices/s over whole passes on ``events`` until at least ``min_seconds`` have passed (``0``: exactly one
    pass). The matches are dropped as they come, as a consumer that delivers them does."""
    start = time.perf_counter()
    passes, elapsed = 0, 0.0
    while passes == 0 or elapsed < min_seconds:
        for e in events:
            match(e)
        passes, elapsed = passes + 1, time.perf_counter() - start
    return passes * len(events) / elapsed


def key(matches: list[Match]) -> list[tuple[str, list[dict[str, Any]], list[str], bool]]:
    return [(m.subscriber.name, m.changes, m.reasons, m.critical) for m in matches]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


@dataclass
class Result:
    size: int
    build_s: float
    matcher_rate: float
    decide_rate: float
    naive_events: int
    matcher_rate_subset: float
    naive_rate: float
    matches_per_event: float
    identical: bool
    rss_mb: float

    @property
    def speedup(self) -> float:
        return self.matcher_rate_subset / self.naive_rate


def breakdown(matches: list[list[Match]]) -> str:
    """Matches per event by scope, and the shapes of the profiles behind profile matches (most common first)."""
    scopes: dict[str, int] = {}
    shapes: dict[str, int] = {}
    for m in itertools.chain.from_iterable(matches):
        scope, _, position = m.reasons[0].partition(":")
        scopes[scope] = scopes.get(scope, 0) + 1
        if scope != "follow":
            profile = m.subscriber.profiles[int(position)]
            shape = "+".join(c for c in CRITERIA if getattr(profile, c)) or "catch-all"
            shapes[shape] = shapes.get(shape, 0) + 1
    n, total = len(matches), sum(shapes.values()) or 1
    by_scope = ", ".join(f"{k} {v / n:.1f}" for k, v in sorted(scopes.items(), key=lambda kv: -kv[1]))
    by_shape = ", ".join(f"{k} {v / total:.0%}" for k, v in sorted(shapes.items(), key=lambda kv: -kv[1])[:6])
    return f"matches/event by scope: {by_scope}\n  profile matches by profile shape: {by_shape}"


def measure(
    subscribers: list[Subscriber], events: list[VersionEvent], naive_events: int, min_seconds: float
) -> Result:
    start = time.perf_counter()
    matcher = Matcher(subscribers)
    build_s = time.perf_counter() - start
    print(f"  Matcher build: {build_s:.2f} s")

    _WORDS_CACHE.clear()  # the first pass starts cold, as after a worker restart: every word is new
    cold = timed(matcher.match, events, 0)
    print(f"  Matcher.match, first pass over all {len(events)} events, word caches cold: {cold:,.0f} notices/s")
    matches = [matcher.match(e) for e in events]  # untimed: what the matches are
    per_event = sum(map(len, matches)) / len(events)
    print(f"  {per_event:.1f} matches/event; {breakdown(matches)}")
    del matches
    matcher_rate = timed(matcher.match, events, min_seconds)
    print(f"  Matcher.match, all {len(events)} events: {matcher_rate:,.0f} notices/s (Match objects built)")
    decide_rate = timed(matcher.decide, events, min_seconds)
    print(f"  Matcher.decide, all {len(events)} events: {decide_rate:,.0f} notices/s (decisions as arrays)")
    settle_long_lived()  # what workers and `tracker run` do once the subscribers are loaded
    settled = timed(matcher.match, events, min_seconds)
    gc.unfreeze()
    print(f"  Matcher.match after settle_long_lived() (gc.freeze, as workers run it): {settled:,.0f} notices/s")

    if naive_events >= len(events):
        subset, what = events, "every event"
    else:
        subset = events[:: len(events) // naive_events][:naive_events]
        what = f"{len(subset)} evenly spaced events (rate per notice extrapolated from them)"
    naive_rate = timed(lambda e: naive_match(subscribers, e), subset, 0)
    print(f"  naive_match, one pass over {what}: {naive_rate:,.1f} notices/s")
    subset_rate = timed(matcher.match, subset, min_seconds)
    print(f"  Matcher.match on the same {len(subset)} events: {subset_rate:,.0f} notices/s")
    naive = [naive_match(subscribers, e) for e in subset]  # untimed: the comparison
    indexed = [matcher.match(e) for e in subset]

    differing = [e.notice_id for e, a, b in zip(subset, indexed, naive, strict=True) if key(a) != key(b)]
    if differing:
        print(f"  CHECK FAILED: Matcher and naive_match differ on {len(differing)} events: {differing[:10]}")
    else:
        compared = sum(map(len, naive))
        print(
            f"  check: Matcher == naive_match on all {len(subset)} naive events "
            f"({compared:,} matches; names, changes, reasons, critical)"
        )
    rss = peak_rss_mb()
    print(f"  peak RSS so far: {rss:,.0f} MB")
    return Result(
        len(subscribers),
        build_s,
        matcher_rate,
        decide_rate,
        len(subset),
        subset_rate,
        naive_rate,
        per_event,
        not differing,
        rss,
    )


def verdict(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


def summary(results: list[Result]) -> None:
    print("\nSummary")
    header = (
        f"{'subscribers':>11} {'build s':>8} {'match/s':>9} {'decide/s':>9} {'naive ev':>8} "
        f"{'match/s*':>9} {'naive/s*':>9} {'ratio':>7} {'matches/ev':>10} {'identical':>9} {'RSS MB':>7}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.size:>11,} {r.build_s:>8.2f} {r.matcher_rate:>9,.0f} {r.decide_rate:>9,.0f} {r.naive_events:>8} "
            f"{r.matcher_rate_subset:>9,.0f} {r.naive_rate:>9,.1f} {r.speedup:>6.1f}x {r.matches_per_event:>10.1f} "
            f"{'yes' if r.identical else 'NO':>9} {r.rss_mb:>7,.0f}"
        )
    print("match/s: Matcher.match, Match objects built; decide/s: Matcher.decide, the same decisions as arrays.")
    print("* on the naive events: the ratio compares Matcher.match and naive_match on the same events.\n")
    print("Targets")
    for r in results:
        target = TARGET_RATE.get(r.size)
        if target is not None:
            ok = verdict(r.matcher_rate >= target)
            print(f"  >= {target:,.0f} notices/s at {r.size:,} subscribers: {r.matcher_rate:,.0f}/s -> {ok}")
        ok = verdict(r.speedup >= TARGET_SPEEDUP)
        print(f"  >= {TARGET_SPEEDUP:.0f}x the naive scan at {r.size:,} subscribers: {r.speedup:.1f}x -> {ok}")
    if not all(r.identical for r in results):
        print("  Matcher and naive_match DISAGREE (see above)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--min-seconds", type=float, default=2.0, help="minimum timed duration of a Matcher rate")
    parser.add_argument("--naive-events", type=int, default=50, help="events of the naive scan beyond the first size")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument(
        "--population",
        choices=sorted(CORPUS_SHARE),
        default="spread",
        help="spread: interests over every trade, 15%% drawn from the corpus (realistic); "
        "concentrated: 80%% drawn from the corpus's own CPV codes and words (a stress case)",
    )
    args = parser.parse_args()
    global corpus_share
    corpus_share = CORPUS_SHARE[args.population]
    print(f"population: {args.population} ({corpus_share:.0%} of interests drawn from the corpus)")

    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start")
    print(f"Corpus: {CORPUS}")
    start = time.perf_counter()
    snapshots = load_snapshots()
    events = build_events(snapshots)
    kinds: dict[str, int] = {}
    for e in events:
        kinds[e.kind] = kinds.get(e.kind, 0) + 1
    with_changes = sum(1 for e in events if e.changes)
    with_previous = sum(1 for e in events if e.previous is not None)
    print(
        f"  {len(snapshots)} notices -> {len(events)} events in {time.perf_counter() - start:.1f} s; "
        f"kinds {dict(sorted(kinds.items()))}; {with_changes} with changes; {with_previous} with previous facets"
    )
    vocab = Vocabulary.of(snapshots)
    print(
        f"  vocabulary: {len(vocab.idwebs)} idwebs, {len(vocab.cpv)} CPV codes, {len(vocab.nuts)} NUTS, "
        f"{len(vocab.words)} title words, {len(vocab.phrases)} title phrases, {len(vocab.buyer_parts)} buyer parts"
    )

    results = []
    for n, size in enumerate(args.sizes):
        print(f"\n{size:,} subscribers (seed {args.seed})")
        start = time.perf_counter()
        subscribers = make_subscribers(size, vocab, args.seed)
        print(f"  generated with Subscriber.model_validate in {time.perf_counter() - start:.1f} s")
        print(f"  {describe(subscribers)}")
        naive_events = len(events) if n == 0 else args.naive_events
        results.append(measure(subscribers, events, naive_events, args.min_seconds))
        del subscribers
    summary(results)
    print(f"Peak RSS: {peak_rss_mb():,.0f} MB; load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
