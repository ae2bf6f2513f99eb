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

import numpy as np

from tracker.subscribers import normalize_department, normalize_text
from tracker.values import delta, delta_days, from_json

if TYPE_CHECKING:
    from tracker.events import ProcedureInfo, VersionEvent
    from tracker.subscribers import Profile, Subscriber

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


def _below_threshold(change: dict[str, Any], names: set[str], minimum: int | None) -> bool:
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
    text: str = ""  # " w1 w2 … ": consecutive words, for phrase and prefix tests by substring

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
            text=f" {' '.join(words)} ",
        )


def _phrase_in(phrase: str, facets: Facets) -> bool:
    """A keyword (one word or several, consecutive; a trailing ``*`` makes the last word a prefix)."""
    if phrase.endswith("*"):
        return f" {phrase[:-1]}" in facets.text
    if " " not in phrase:
        return phrase in facets.word_set
    return f" {phrase} " in facets.text


def profile_matches(profile: Profile, facets: Facets) -> bool:
    """Every criterion the profile gives matches (one of its values); an empty profile matches everything.

    Cheap set tests first, text tests last."""
    if profile.departments and facets.departments.isdisjoint(profile.departments):
        return False
    if profile.families and facets.family not in profile.families:
        return False
    if profile.sources and facets.sources.isdisjoint(profile.sources):
        return False
    if profile.cpv and not any(c.startswith(profile.cpv) for c in facets.cpv):
        return False
    if profile.nuts and not any(n.startswith(profile.nuts) for n in facets.nuts):
        return False
    if profile.buyer and not any(b in facets.buyer for b in profile.buyer):
        return False
    return not profile.keywords or any(_phrase_in(k, facets) for k in profile.keywords)


def _first_profile(subscriber: Subscriber, facets: Facets | None) -> int | None:
    if facets is None:
        return None
    return next((i for i, p in enumerate(subscriber.profiles) if profile_matches(p, facets)), None)


# ---------------------------------------------------------------- evaluation


@dataclass(slots=True)
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


Outcome = tuple[list[dict[str, Any]], list[str], bool] | None  # kept changes, change names, critical
OutcomeCache = dict[tuple[Any, ...], Outcome]


def _outcome(wanted: frozenset[str], minimum: int | None, follow: bool, event: VersionEvent) -> Outcome:
    """What a change filter keeps of a version; depends on the filter, not on who holds it."""
    every = "any" in wanted
    if event.kind == "initial" and not event.changes:
        # who follows a procedure by its identifier knows its notice already: only its changes are news,
        # unless new_notice is asked for by name; a profile subscriber learns of it here
        new_notice = "new_notice" in wanted or (every and not follow)
        return ([], ["new_notice"], False) if new_notice else None
    kept: list[dict[str, Any]] = []
    hits: set[str] = set()
    for change in event.changes:
        names = classify(change)
        if _below_threshold(change, names, minimum):
            continue
        hit = (names or {"any"}) if every else names & wanted
        if hit:
            kept.append(change)
            hits |= hit
    if not kept:
        return None
    return kept, sorted(hits), _critical(event, kept)


def _filtered(
    subscriber: Subscriber, event: VersionEvent, scope: str, cache: OutcomeCache | None = None
) -> Match | None:
    key = (subscriber.changes, subscriber.thresholds.deadline_moved_min_days, scope.startswith("follow:"))
    if cache is not None and key in cache:
        outcome = cache[key]
    else:
        outcome = _outcome(frozenset(key[0]), key[1], key[2], event)
        if cache is not None:
            cache[key] = outcome
    if outcome is None:
        return None
    kept, names, critical = outcome
    return Match(subscriber, list(kept), [scope, *names], critical)


def _whole(subscriber: Subscriber, event: VersionEvent, scope: str) -> Match:
    changes = list(event.changes)
    names: set[str] = set()
    for change in changes:
        names |= classify(change)
    return Match(subscriber, changes, [scope, *sorted(names)], _critical(event, changes))


def _decide(
    subscriber: Subscriber,
    event: VersionEvent,
    followed: str | None,
    matched_now: int | None,
    matched_before: int | None,
    has_before: bool,
    cache: OutcomeCache | None = None,
) -> Match | None:
    """The one definition of what a subscriber gets, given its scope: the identifier it follows, the first
    of its profiles the procedure matches now and matched before this version."""
    if followed is not None:
        return _filtered(subscriber, event, f"follow:{followed}", cache)
    if matched_now is not None:
        if has_before and matched_before is None:
            return _whole(subscriber, event, f"profile_entered:{matched_now}")
        return _filtered(subscriber, event, f"profile:{matched_now}", cache)
    if matched_before is not None:
        return _whole(subscriber, event, f"profile_left:{matched_before}")
    return None


def _evaluate(subscriber: Subscriber, event: VersionEvent, now: Facets, before: Facets | None) -> Match | None:
    """Scope by direct tests (``before`` is None for a first version, ``now`` itself when unchanged)."""
    followed = next((i for i in event.procedure.identifiers if i in subscriber.follow), None)
    if followed is None and not subscriber.profiles:
        return None
    matched_now = _first_profile(subscriber, now) if followed is None else None
    matched_before = matched_now if before is now else _first_profile(subscriber, before)
    return _decide(subscriber, event, followed, matched_now, matched_before, before is not None)


def _facets(event: VersionEvent) -> tuple[Facets, Facets | None]:
    now = Facets.of(event.procedure)
    if event.previous is None:
        return now, None
    before = Facets.of(event.previous)
    return now, (now if before == now else before)


def naive_match(subscribers: Iterable[Subscriber], event: VersionEvent) -> list[Match]:
    """Evaluate every enabled subscriber: the baseline :class:`Matcher` must agree with."""
    now, before = _facets(event)
    matches = (_evaluate(s, event, now, before) for s in subscribers if s.enabled)
    return [m for m in matches if m is not None]


# ---------------------------------------------------------------- index


_STEM: Final = 6  # one-word prefix keywords are keyed by their first letters
_GRAM: Final = 6  # buyer substrings are keyed by a piece of their longest word
#: criteria in the order they filter (for keyword phrases and buyer names a key is necessary, not sufficient)
_CRITERIA: Final = ("departments", "families", "sources", "cpv", "nuts", "keywords", "buyer")


def _keyword_key(keyword: str) -> str:
    """Every procedure a keyword matches has this key among :meth:`Matcher._notice_keys`' ``keywords``."""
    if keyword.endswith("*") and " " not in keyword:
        return "s:" + keyword[:-1][:_STEM]  # " stem" in text: a word starts with the stem
    return "w:" + keyword.rstrip("*").split(" ", 1)[0]  # the first word stands whole in the text


def _buyer_key(pattern: str) -> str | None:
    """A piece of the pattern: a substring of every buyer name the pattern is a substring of."""
    piece = max(pattern.split(" "), key=len)[:_GRAM]
    return piece if len(piece) >= 3 else None


def _needs_test(profile: Profile, criterion: str) -> bool:
    """Whether passing the criterion's key test leaves the criterion itself still to test."""
    if criterion == "buyer":
        return True
    if criterion == "keywords":  # a single whole word is its key; phrases and long stems are not
        return any(" " in k or (k.endswith("*") and len(k) - 1 > _STEM) for k in profile.keywords)
    return False


def _profile_keys(profile: Profile, criterion: str) -> set[str] | None:
    """The profile's keys for a criterion; None when it has no usable key (then it is always tested)."""
    if criterion == "keywords":
        return {_keyword_key(k) for k in profile.keywords}
    if criterion == "buyer":
        keys = {_buyer_key(b) for b in profile.buyer}
        return None if None in keys else {k for k in keys if k is not None}
    return set(getattr(profile, criterion))


class Matcher:
    """Subscribers indexed for fast matching; build once per configuration, call :meth:`match` per event.

    For every criterion (départements, families, sources, CPV and NUTS prefixes, keyword words, pieces of
    buyer names), each key points at the profiles that name it. A procedure's keys then select, criterion by
    criterion, the profiles it satisfies — a profile passes a criterion it does not name — and the profiles
    passing all of them are the candidates, as boolean arrays over all profiles (numpy). For départements,
    families, sources, CPV and NUTS the key test is the criterion itself; keywords and buyer names are then
    tested exactly on the few candidates that have them. The first matching profile of each subscriber, and
    its follows, go through the same decision as :func:`naive_match` (``_decide``).
    """

    def __init__(self, subscribers: Iterable[Subscriber]) -> None:
        self.subscribers: list[Subscriber] = [s for s in subscribers if s.enabled]
        self._follow: dict[str, list[int]] = defaultdict(list)
        owners: list[int] = []
        positions: list[int] = []
        self._profiles: list[Profile] = []
        lists: dict[str, dict[str, list[int]]] = {c: defaultdict(list) for c in _CRITERIA}
        has: dict[str, list[int]] = {c: [] for c in _CRITERIA}
        inexact: list[int] = []
        self._lengths: dict[str, set[int]] = {"cpv": set(), "nuts": set(), "stem": set(), "gram": set()}
        for i, subscriber in enumerate(self.subscribers):
            for identifier in subscriber.follow:
                self._follow[identifier].append(i)
            for position, profile in enumerate(subscriber.profiles):
                pid = len(self._profiles)
                owners.append(i)
                positions.append(position)
                self._profiles.append(profile)
                if self._index(pid, profile, lists, has):
                    inexact.append(pid)
        count = len(self._profiles)
        self._owner = owners  # plain lists: indexed one profile at a time in the hot loop
        self._position = positions
        self._inexact = bytearray(count)
        for pid in inexact:
            self._inexact[pid] = 1
        self._postings = {c: {k: np.array(v, dtype=np.int64) for k, v in lists[c].items()} for c in _CRITERIA}
        self._free: dict[str, np.ndarray[Any, np.dtype[np.bool_]]] = {}  # profiles not naming the criterion
        for c in _CRITERIA:
            if has[c]:
                free = np.ones(count, dtype=bool)
                free[has[c]] = False
                self._free[c] = free

    def _index(
        self, pid: int, profile: Profile, lists: dict[str, dict[str, list[int]]], has: dict[str, list[int]]
    ) -> bool:
        """Post the profile under its keys; True when it must still be tested exactly."""
        exact_test = False
        for criterion in _CRITERIA:
            if not getattr(profile, criterion):
                continue
            keys = _profile_keys(profile, criterion)
            exact_test = exact_test or _needs_test(profile, criterion)
            if keys is None:
                continue  # no usable key (a buyer piece under 3 letters): the exact test decides
            has[criterion].append(pid)
            for key in keys:
                lists[criterion][key].append(pid)
            if criterion in ("cpv", "nuts"):
                self._lengths[criterion].update(len(k) for k in keys)
            elif criterion == "keywords":
                self._lengths["stem"].update(len(k) - 2 for k in keys if k.startswith("s:"))
            elif criterion == "buyer":
                self._lengths["gram"].update(len(k) for k in keys)
        return exact_test

    def _notice_keys(self, f: Facets, criterion: str) -> Iterable[str]:
        lengths = self._lengths
        if criterion == "departments":
            return f.departments
        if criterion == "families":
            return (f.family,) if f.family else ()
        if criterion == "sources":
            return f.sources
        if criterion in ("cpv", "nuts"):
            codes = f.cpv if criterion == "cpv" else f.nuts
            return {c[:n] for c in codes for n in lengths[criterion] if n <= len(c)}
        if criterion == "keywords":
            stems = {f"s:{w[:n]}" for w in f.word_set for n in lengths["stem"] if n <= len(w)}
            return stems | {f"w:{w}" for w in f.word_set}
        grams = lengths["gram"]
        return {f.buyer[i : i + n] for n in grams for i in range(len(f.buyer) - n + 1)}

    def candidates(self, f: Facets) -> list[int]:
        """Ids of the profiles that pass every criterion at key level, in profile order."""
        ok = np.ones(len(self._profiles), dtype=bool)
        for criterion, free in self._free.items():
            postings = self._postings[criterion]
            hits = [postings[k] for k in self._notice_keys(f, criterion) if k in postings]
            passing = free.copy()
            if hits:
                passing[np.concatenate(hits)] = True
            ok &= passing
        return list(np.flatnonzero(ok).tolist())

    def _first_profiles(self, f: Facets) -> dict[int, int]:
        """Subscriber index -> position of its first profile the facets match."""
        first: dict[int, int] = {}
        inexact, owner, profiles = self._inexact, self._owner, self._profiles
        position = self._position
        for pid in self.candidates(f):  # profile ids run in subscriber order, then profile order
            subscriber = owner[pid]
            if subscriber not in first and (not inexact[pid] or profile_matches(profiles[pid], f)):
                first[subscriber] = position[pid]
        return first

    def match(self, event: VersionEvent) -> list[Match]:
        """The same result as ``naive_match(subscribers, event)``, in the same order."""
        now, before = _facets(event)
        followed: dict[int, str] = {}
        for identifier in event.procedure.identifiers:
            for i in self._follow.get(identifier, ()):
                followed.setdefault(i, identifier)
        first_now = self._first_profiles(now)
        first_before = first_now if before is now else self._first_profiles(before) if before else {}
        has_before = before is not None
        cache: OutcomeCache = {}
        matches = []
        for i in sorted(followed.keys() | first_now.keys() | first_before.keys()):
            follow = self._follow_of(i, event) if i in followed else None
            m = _decide(
                self.subscribers[i],
                event,
                follow,
                None if follow else first_now.get(i),
                first_before.get(i),
                has_before,
                cache,
            )
            if m is not None:
                matches.append(m)
        return matches

    def _follow_of(self, i: int, event: VersionEvent) -> str:
        """The first of the procedure's identifiers the subscriber follows (as ``_evaluate`` finds it)."""
        follows = self.subscribers[i].follow
        return next(identifier for identifier in event.procedure.identifiers if identifier in follows)
