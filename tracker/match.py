"""Which subscribers care about which changes of a new version. Pure: no I/O, no clock.

A subscriber is in scope for a procedure when it follows one of the procedure's identifiers, or when one
of its profiles matches the procedure's facets. In scope, it gets the subset of the version's changes its
``changes`` filter and ``thresholds`` keep; nothing kept, no match. Two cases bypass the filter, because the
subscriber has not seen the procedure before (or will not see it again), so it gets the whole version:

* ``profile_entered``: the procedure did not match any profile before this version and does now
  (its CPV codes, buyer, title… were corrected into the profile);
* ``profile_left``: the reverse.

A version of kind ``initial`` without changes is the change ``new_notice`` (kept by ``any``).

:class:`Matcher` indexes the subscribers once and, for each event, only evaluates those an index points at;
:func:`naive_match` evaluates every subscriber. Both end in the same per-subscriber evaluation
(:func:`_evaluate`), and a test checks they agree on generated data.

Change names (see ``tracker.subscribers.ChangeName``), from :func:`classify`:

=================  ===============================================================
deadline_moved     tender_deadline / request_deadline changed, old and new present
deadline_earlier   … and moved earlier (critical)
date_shift         any date field moved
value_changed      estimated_value / max_value
lot_added          field ``lots``, old None
lot_removed        field ``lots``, new None (critical)
cancelled          status → cancelled (critical)
awarded            status → awarded
documents_changed  documents_url
text               field ``text``
=================  ===============================================================
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from tracker.subscribers import normalize_department, normalize_text
from tracker.values import delta, delta_days, from_json

if TYPE_CHECKING:
    from tracker.events import ProcedureInfo, VersionEvent
    from tracker.subscribers import Profile, Subscriber, Thresholds

DEADLINE_FIELDS: Final = frozenset({"tender_deadline", "request_deadline"})
DATE_FIELDS: Final = DEADLINE_FIELDS | {"questions_deadline", "opening_date", "start_date", "end_date"}
VALUE_FIELDS: Final = frozenset({"estimated_value", "max_value"})
CRITICAL_NAMES: Final = frozenset({"deadline_earlier", "cancelled", "lot_removed"})

# ---------------------------------------------------------------- changes


def _moved(old: Any, new: Any) -> bool:
    if old is None or new is None:
        return False
    shift = delta(from_json(old), from_json(new))
    return bool(shift) if shift is not None else old != new


def _earlier(old: Any, new: Any) -> bool:
    shift = delta(from_json(old), from_json(new))
    return shift is not None and shift.total_seconds() < 0


def classify(change: dict[str, Any]) -> set[str]:
    """The change names one change belongs to (empty for changes only ``any`` covers: title, buyer, …)."""
    field, old, new = change.get("field"), change.get("old"), change.get("new")
    names: set[str] = set()
    if field in DATE_FIELDS:
        if _moved(old, new):
            names.add("date_shift")
            if field in DEADLINE_FIELDS:
                names.add("deadline_moved")
                if _earlier(old, new):
                    names.add("deadline_earlier")
    elif field in VALUE_FIELDS:
        names.add("value_changed")
    elif field == "lots":
        if old is None and new is not None:
            names.add("lot_added")
        elif new is None and old is not None:
            names.add("lot_removed")
    elif field == "status":
        if new in ("cancelled", "awarded"):
            names.add(str(new))
    elif field == "documents_url":
        names.add("documents_changed")
    elif field == "text":
        names.add("text")
    return names


def is_critical_change(change: dict[str, Any]) -> bool:
    """Deadline moved earlier, cancellation, lot removed, submission address changed or removed."""
    if classify(change) & CRITICAL_NAMES:
        return True
    old = change.get("old")
    return change.get("field") == "submission_url" and old is not None and old != change.get("new")


def is_critical(event: VersionEvent) -> bool:
    """A version that must reach subscribers at once, even those on a digest."""
    return event.kind == "cancellation" or any(is_critical_change(c) for c in event.changes)


def _below_threshold(change: dict[str, Any], names: set[str], thresholds: Thresholds) -> bool:
    minimum = thresholds.deadline_moved_min_days
    if not minimum or "deadline_moved" not in names or "deadline_earlier" in names:
        return False
    days = delta_days(change.get("old"), change.get("new"))
    return days is not None and abs(days) < minimum


# ---------------------------------------------------------------- procedure facets


@dataclass(frozen=True, slots=True)
class Facets:
    """A procedure's matching facets in the canonical form of ``tracker.subscribers.Profile``."""

    buyer: str
    cpv: tuple[str, ...]
    departments: frozenset[str]
    nuts: tuple[str, ...]
    words: tuple[str, ...]  # title then description, normalised
    word_set: frozenset[str]
    sources: frozenset[str]
    family: str | None

    @classmethod
    def of(cls, procedure: ProcedureInfo) -> Facets:
        words = tuple(normalize_text(f"{procedure.title or ''} {procedure.description or ''}").split())
        cpv = (code.split("-", 1)[0].strip() for code in procedure.cpv)
        return cls(
            buyer=normalize_text(procedure.buyer or ""),
            cpv=tuple(c for c in cpv if c.isdigit()),
            departments=frozenset(normalize_department(d) for d in procedure.departments),
            nuts=tuple(n.strip().upper() for n in procedure.nuts),
            words=words,
            word_set=frozenset(words),
            sources=frozenset(s.lower() for s in procedure.sources),
            family=procedure.family.upper() if procedure.family else None,
        )


def _phrase_in(phrase: str, facets: Facets) -> bool:
    """A keyword (one word or several, consecutive; a trailing ``*`` makes the last word a prefix)."""
    prefix = phrase.endswith("*")
    parts = phrase.rstrip("*").split(" ")
    last = parts[-1]
    if len(parts) == 1:
        return any(w.startswith(last) for w in facets.word_set) if prefix else last in facets.word_set
    head, n, words = tuple(parts[:-1]), len(parts), facets.words
    for i in range(len(words) - n + 1):
        word = words[i + n - 1]
        if words[i : i + n - 1] == head and (word.startswith(last) if prefix else word == last):
            return True
    return False


def profile_matches(profile: Profile, facets: Facets) -> bool:
    """Every criterion the profile gives matches (one of its values); an empty profile matches everything."""
    if profile.buyer and not any(b in facets.buyer for b in profile.buyer):
        return False
    if profile.cpv and not any(c.startswith(p) for c in facets.cpv for p in profile.cpv):
        return False
    if profile.departments and facets.departments.isdisjoint(profile.departments):
        return False
    if profile.nuts and not any(n.startswith(p) for n in facets.nuts for p in profile.nuts):
        return False
    if profile.keywords and not any(_phrase_in(k, facets) for k in profile.keywords):
        return False
    if profile.sources and facets.sources.isdisjoint(profile.sources):
        return False
    return not profile.families or facets.family in profile.families


def _first_profile(subscriber: Subscriber, facets: Facets | None) -> int | None:
    if facets is None:
        return None
    return next((i for i, p in enumerate(subscriber.profiles) if profile_matches(p, facets)), None)


# ---------------------------------------------------------------- evaluation


@dataclass(frozen=True, slots=True)
class Match:
    """What one subscriber gets of one version, and why.

    ``reasons``: first the scope (``follow:<identifier>``, ``profile:<n>``, ``profile_entered:<n>``,
    ``profile_left:<n>``, profiles numbered from 0), then the change names that were kept, sorted.
    ``critical``: a cancellation notice, or a critical change among ``changes`` (:func:`is_critical_change`).
    """

    subscriber: Subscriber
    changes: list[dict[str, Any]]
    reasons: list[str]
    critical: bool


def _critical(event: VersionEvent, changes: list[dict[str, Any]]) -> bool:
    return event.kind == "cancellation" or any(is_critical_change(c) for c in changes)


def _filtered(subscriber: Subscriber, event: VersionEvent, scope: str) -> Match | None:
    wanted = set(subscriber.changes)
    every = "any" in wanted
    if event.kind == "initial" and not event.changes:
        # who follows a procedure by its identifier knows its notice already: only its changes are news,
        # unless new_notice is asked for by name; a profile subscriber learns of it here
        new_notice = "new_notice" in wanted or (every and not scope.startswith("follow:"))
        return Match(subscriber, [], [scope, "new_notice"], False) if new_notice else None
    kept: list[dict[str, Any]] = []
    hits: set[str] = set()
    for change in event.changes:
        names = classify(change)
        if _below_threshold(change, names, subscriber.thresholds):
            continue
        hit = (names or {"any"}) if every else names & wanted
        if hit:
            kept.append(change)
            hits |= hit
    if not kept:
        return None
    return Match(subscriber, kept, [scope, *sorted(hits)], _critical(event, kept))


def _whole(subscriber: Subscriber, event: VersionEvent, scope: str) -> Match:
    changes = list(event.changes)
    names: set[str] = set()
    for change in changes:
        names |= classify(change)
    return Match(subscriber, changes, [scope, *sorted(names)], _critical(event, changes))


def _evaluate(subscriber: Subscriber, event: VersionEvent, now: Facets, before: Facets | None) -> Match | None:
    """The one definition of what a subscriber gets; ``before`` is None for a first version."""
    followed = next((i for i in event.procedure.identifiers if i in subscriber.follow), None)
    if followed is not None:
        return _filtered(subscriber, event, f"follow:{followed}")
    if not subscriber.profiles:
        return None
    matched_now = _first_profile(subscriber, now)
    matched_before = _first_profile(subscriber, before)
    if matched_now is not None:
        if before is not None and matched_before is None:
            return _whole(subscriber, event, f"profile_entered:{matched_now}")
        return _filtered(subscriber, event, f"profile:{matched_now}")
    if matched_before is not None:
        return _whole(subscriber, event, f"profile_left:{matched_before}")
    return None


def _facets(event: VersionEvent) -> tuple[Facets, Facets | None]:
    return Facets.of(event.procedure), Facets.of(event.previous) if event.previous is not None else None


def naive_match(subscribers: Iterable[Subscriber], event: VersionEvent) -> list[Match]:
    """Evaluate every enabled subscriber: the baseline :class:`Matcher` must agree with."""
    now, before = _facets(event)
    matches = (_evaluate(s, event, now, before) for s in subscribers if s.enabled)
    return [m for m in matches if m is not None]


# ---------------------------------------------------------------- index


class _PrefixIndex:
    """Keys are prefixes; a lookup tries every prefix length in use."""

    def __init__(self) -> None:
        self.keys: dict[str, set[int]] = defaultdict(set)
        self.lengths: set[int] = set()

    def add(self, prefix: str, subscriber: int) -> None:
        self.keys[prefix].add(subscriber)
        self.lengths.add(len(prefix))

    def lookup(self, values: Iterable[str], into: set[int]) -> None:
        for value in values:
            for n in self.lengths:
                if n <= len(value):
                    into.update(self.keys.get(value[:n], ()))


def _trigrams(text: str) -> set[str]:
    return {text[i : i + 3] for i in range(len(text) - 2)}


class Matcher:
    """Subscribers indexed for fast matching; build once per configuration, call :meth:`match` per event.

    Each profile is indexed by one of its criteria (the first given of buyer, keywords, cpv, nuts,
    departments, families, sources): a procedure can only match the profile if it matches that criterion,
    so the subscribers the indexes point at are the only ones worth evaluating. Empty profiles match
    everything and are always evaluated.
    """

    def __init__(self, subscribers: Iterable[Subscriber]) -> None:
        self.subscribers: list[Subscriber] = [s for s in subscribers if s.enabled]
        self._follow: dict[str, set[int]] = defaultdict(set)
        self._buyer: dict[str, set[int]] = defaultdict(set)  # trigram of a buyer substring
        self._words: dict[str, set[int]] = defaultdict(set)  # first word of a keyword
        self._word_prefixes = _PrefixIndex()  # one-word keywords ending with *
        self._cpv = _PrefixIndex()
        self._nuts = _PrefixIndex()
        self._exact: dict[str, dict[str, set[int]]] = {
            k: defaultdict(set) for k in ("departments", "families", "sources")
        }
        self._always: set[int] = set()  # catch-all profiles, buyer substrings shorter than 3 letters
        for i, subscriber in enumerate(self.subscribers):
            for identifier in subscriber.follow:
                self._follow[identifier].add(i)
            for profile in subscriber.profiles:
                self._index_profile(profile, i)

    def _index_profile(self, profile: Profile, i: int) -> None:
        if profile.buyer:
            for pattern in profile.buyer:
                grams = sorted(_trigrams(pattern), key=lambda g: (" " in g, pattern.index(g)))
                if grams:
                    self._buyer[grams[0]].add(i)
                else:
                    self._always.add(i)
        elif profile.keywords:
            for keyword in profile.keywords:
                first = keyword.split(" ", 1)[0]
                if first.endswith("*"):
                    self._word_prefixes.add(first.rstrip("*"), i)
                else:
                    self._words[first].add(i)
        elif profile.cpv:
            for prefix in profile.cpv:
                self._cpv.add(prefix, i)
        elif profile.nuts:
            for prefix in profile.nuts:
                self._nuts.add(prefix, i)
        else:
            for name, index in self._exact.items():
                values: tuple[str, ...] = getattr(profile, name)
                if values:
                    for value in values:
                        index[value].add(i)
                    return
            self._always.add(i)

    def _candidates(self, facets: Facets, into: set[int]) -> None:
        for gram in _trigrams(facets.buyer):
            into.update(self._buyer.get(gram, ()))
        for word in facets.word_set:
            into.update(self._words.get(word, ()))
        self._word_prefixes.lookup(facets.word_set, into)
        self._cpv.lookup(facets.cpv, into)
        self._nuts.lookup(facets.nuts, into)
        for value in facets.departments:
            into.update(self._exact["departments"].get(value, ()))
        for value in facets.sources:
            into.update(self._exact["sources"].get(value, ()))
        if facets.family is not None:
            into.update(self._exact["families"].get(facets.family, ()))

    def match(self, event: VersionEvent) -> list[Match]:
        """The same result as ``naive_match(subscribers, event)``, in the same order."""
        now, before = _facets(event)
        candidates = set(self._always)
        for identifier in event.procedure.identifiers:
            candidates.update(self._follow.get(identifier, ()))
        self._candidates(now, candidates)
        if before is not None:
            self._candidates(before, candidates)
        matches = (_evaluate(self.subscribers[i], event, now, before) for i in sorted(candidates))
        return [m for m in matches if m is not None]
