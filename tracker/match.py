"""Which subscribers care about which changes of a new version. Pure: no I/O, no clock.

A subscriber is in scope for a procedure when it follows one of the procedure's identifiers, or when one
of its profiles matches the procedure's facets. In scope, it gets the subset of the version's changes its
``changes`` filter and ``thresholds`` keep; nothing kept, no match. Two cases bypass the filter, because the
subscriber has not seen the procedure before (or will not see it again), so it gets the whole version:

* ``profile_entered``: the procedure did not match any profile before this version and does now
  (its CPV codes, buyer, title… were corrected into the profile);
* ``profile_left``: the reverse.

A version of kind ``initial`` without changes is the change ``new_notice`` (kept by ``any``).

:func:`naive_match` evaluates every subscriber, one at a time (:func:`_evaluate`): it is the reference.
:class:`Matcher` indexes the subscribers once and takes the same decisions for a whole population at once,
with arrays; both share the change filter (:func:`_outcome`), and tests (and ``bench/match_throughput.py``
on the corpus) check they agree.

Change names (see ``tracker.vocabulary.ChangeName``), from :func:`classify`:

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
sources_disagree   two sources publishing one notice differ on a date by more than a day (``section``: the
                   date field); on a deadline it is also ``deadline_moved``, and critical
=================  ===============================================================
"""

from __future__ import annotations

import functools
import gc
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, NamedTuple

import numpy as np

from tracker.notice import ChangeDict
from tracker.values import delta, delta_days, from_json
from tracker.vocabulary import cached_map, normalize_department, normalize_text, normalized_words

if TYPE_CHECKING:
    from tracker.events import ProcedureInfo, VersionEvent
    from tracker.subscribers import Profile, Subscriber

DEADLINE_FIELDS: Final = frozenset({"tender_deadline", "request_deadline"})
DATE_FIELDS: Final = DEADLINE_FIELDS | {"questions_deadline", "opening_date", "start_date", "end_date", "site_visit"}
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


def classify(change: Mapping[str, Any]) -> set[str]:
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
    elif field in ("documents_url", "documents"):
        names.add("documents_changed")
    elif field == "text":
        names.add("text")
    elif field == "sources_disagree":
        names.add("sources_disagree")
        if change.get("section") in DEADLINE_FIELDS:
            names.add("deadline_moved")  # which of the two is right is not known: the deadline may have moved
    return names


def is_critical_change(change: Mapping[str, Any]) -> bool:
    """Deadline moved earlier, cancellation, lot removed, submission address changed or removed, sources
    disagreeing on a deadline."""
    return _critical_change(change, classify(change))


def _critical_change(change: Mapping[str, Any], names: set[str]) -> bool:
    if names & CRITICAL_NAMES:
        return True
    if change.get("field") == "sources_disagree":
        return change.get("section") in DEADLINE_FIELDS  # one source may give the earlier, binding deadline
    old = change.get("old")
    return change.get("field") == "submission_url" and old is not None and old != change.get("new")


def is_critical(event: VersionEvent) -> bool:
    """A version that must reach subscribers at once, even those on a digest."""
    return event.kind == "cancellation" or any(is_critical_change(c) for c in event.changes)


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
        words = tuple(normalized_words(f"{procedure.title or ''} {procedure.description or ''}"))
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
    changes: list[ChangeDict]
    reasons: list[str]
    critical: bool


class _Classified(NamedTuple):
    """One change of a version with what every change filter asks of it, computed once per version."""

    change: ChangeDict
    names: set[str]
    days: float | None  # |days| a deadline moved later (what a threshold compares), else None
    critical: bool


def _classified(event: VersionEvent) -> list[_Classified]:
    result = []
    for change in event.changes:
        names = classify(change)
        days = None
        if "deadline_moved" in names and "deadline_earlier" not in names:
            moved = delta_days(change.get("old"), change.get("new"))
            days = abs(moved) if moved is not None else None
        result.append(_Classified(change, names, days, _critical_change(change, names)))
    return result


Outcome = tuple[list[ChangeDict], list[str], bool] | None  # kept changes, change names, critical
OutcomeCache = dict[tuple[Any, ...], Outcome]


def _wants_new_notice(wanted: frozenset[str], follow: bool) -> bool:
    """Whether a filter keeps a new notice (an initial version without changes). Who follows a procedure by
    its identifier knows its notice already: only its changes are news, unless new_notice is asked for by
    name; a profile subscriber learns of it here."""
    return "new_notice" in wanted or ("any" in wanted and not follow)


def _outcome(
    wanted: frozenset[str],
    minimum: int | None,
    follow: bool,
    event: VersionEvent,
    classified: list[_Classified] | None = None,
) -> Outcome:
    """What a change filter keeps of a version; depends on the filter, not on who holds it."""
    if event.kind == "initial" and not event.changes:
        return ([], ["new_notice"], False) if _wants_new_notice(wanted, follow) else None
    every = "any" in wanted
    kept: list[ChangeDict] = []
    hits: set[str] = set()
    critical = event.kind == "cancellation"
    for c in _classified(event) if classified is None else classified:
        if minimum and c.days is not None and c.days < minimum:
            continue  # a deadline moved later by fewer days than the subscriber's threshold
        hit = (c.names or {"any"}) if every else c.names & wanted
        if hit:
            kept.append(c.change)
            hits |= hit
            critical = critical or c.critical
    if not kept:
        return None
    return kept, sorted(hits), critical


def _whole_outcome(
    event: VersionEvent, classified: list[_Classified] | None = None
) -> tuple[list[ChangeDict], list[str], bool]:
    """The whole version, for a subscriber whose profile the procedure enters or leaves."""
    classified = _classified(event) if classified is None else classified
    names: set[str] = set()
    for c in classified:
        names |= c.names
    critical = event.kind == "cancellation" or any(c.critical for c in classified)
    return list(event.changes), sorted(names), critical


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
    changes, names, critical = _whole_outcome(event)
    return Match(subscriber, changes, [scope, *names], critical)


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


_STEM: Final = 6  # one-word prefix keywords are found by their first letters
_GRAM: Final = 6  # buyer substrings are found by a piece of their longest word
_WORD_CACHE_SIZE: Final = 200_000  # notice words (and buyer names) whose keywords a Matcher remembers
#: criteria in the order they filter
_CRITERIA: Final = ("departments", "families", "sources", "cpv", "nuts", "keywords", "buyer")
_FOLLOW: Final = 0  # scope codes of :class:`Decisions`
_PROFILE: Final = 1
_ENTERED: Final = 2
_LEFT: Final = 3
_LABELS: Final = ("follow", "profile", "profile_entered", "profile_left")

IntArray = np.ndarray[Any, np.dtype[np.int64]]
BoolArray = np.ndarray[Any, np.dtype[np.bool_]]


def _buyer_key(pattern: str) -> str | None:
    """A piece of the pattern: a substring of every buyer name the pattern is a substring of."""
    piece = max(pattern.split(" "), key=len)[:_GRAM]
    return piece if len(piece) >= 3 else None


def _first_of_each(owners: IntArray) -> BoolArray:
    """For a sorted array, True at the first element of each run of equal values."""
    first = np.empty(owners.size, dtype=bool)
    if owners.size:
        first[0] = True
        np.not_equal(owners[1:], owners[:-1], out=first[1:])
    return first


class Decisions:
    """What :meth:`Matcher.decide` found for one version: the subscribers who get it and, for each, its scope
    and which outcome of its change filter applies, as arrays in subscriber order. Iterating builds the
    :class:`Match` objects (the same as :func:`naive_match` returns); ``len()`` and :attr:`indices` do not.

    Matches of one outcome share its list of kept changes: treat ``Match.changes`` as read-only."""

    __slots__ = ("_followed", "_outcomes", "_subscribers", "indices", "outcome", "position", "scope")

    def __init__(
        self,
        subscribers: list[Subscriber],
        indices: IntArray,
        scope: IntArray,
        position: IntArray,
        outcome: IntArray,
        outcomes: list[tuple[list[ChangeDict], list[str], bool]],
        followed: dict[int, str],
    ) -> None:
        self._subscribers = subscribers
        self.indices = indices  # into Matcher.subscribers, ascending
        self.scope = scope  # _FOLLOW, _PROFILE, _ENTERED, _LEFT
        self.position = position  # the profile's position in the subscriber's list (profile scopes)
        self.outcome = outcome  # index into outcomes
        self._outcomes = outcomes
        self._followed = followed  # subscriber index -> the identifier it follows

    def __len__(self) -> int:
        return int(self.indices.size)

    def __iter__(self) -> Iterator[Match]:
        subscribers, outcomes, followed = self._subscribers, self._outcomes, self._followed
        columns = (self.indices.tolist(), self.scope.tolist(), self.position.tolist(), self.outcome.tolist())
        labels = _scope_labels(int(self.position.max()) + 1 if self.position.size else 0)
        for i, scope, position, o in zip(*columns, strict=True):
            changes, names, critical = outcomes[o]
            label = "follow:" + followed[i] if scope == _FOLLOW else labels[scope][position]
            yield Match(subscribers[i], changes, [label, *names], critical)


@functools.cache
def _scope_labels_upto(count: int) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(f"{label}:{n}" for n in range(count)) for label in _LABELS)


def _scope_labels(count: int) -> tuple[tuple[str, ...], ...]:
    """``labels[scope][position]``: "profile:0", "profile_entered:1"… (sizes rounded up: few cache entries)."""
    return _scope_labels_upto(max(8, 1 << max(count - 1, 0).bit_length()))


class Matcher:
    """Subscribers indexed for fast matching; build once per configuration, call :meth:`decide` or
    :meth:`match` per event.

    For every criterion (départements, families, sources, CPV and NUTS prefixes, keywords, buyer names),
    each value points at the profiles that name it (postings). A procedure's values then select, criterion
    by criterion, the profiles it satisfies (a profile passes a criterion it does not name), and the
    profiles passing all of them match: boolean arrays over all profiles (numpy), no per-profile test.
    Keyword phrases and prefixes and buyer substrings are values too: each distinct one a procedure could
    match (found by a word or a piece of it) is tested once per procedure, however many profiles name it.

    The first matching profile of each subscriber, now and before the version, and its follows, give its
    scope; the decision is then taken once per distinct change filter (:func:`_outcome`), not per
    subscriber. It is the same decision as :func:`naive_match` takes subscriber by subscriber (``_decide``);
    tests check both agree on generated data.
    """

    def __init__(self, subscribers: Iterable[Subscriber]) -> None:
        self.subscribers: list[Subscriber] = [s for s in subscribers if s.enabled]
        self._follow: dict[str, list[int]] = defaultdict(list)
        filters: dict[tuple[tuple[str, ...], int | None], int] = {}
        filter_of: list[int] = []
        owners: list[int] = []
        positions: list[int] = []
        lists: dict[str, dict[str, list[int]]] = {c: defaultdict(list) for c in _CRITERIA}
        has: dict[str, list[int]] = {c: [] for c in _CRITERIA}
        for i, subscriber in enumerate(self.subscribers):
            for identifier in subscriber.follow:
                self._follow[identifier].append(i)
            limit = subscriber.thresholds.deadline_moved_min_days
            filter_of.append(filters.setdefault((subscriber.changes, limit), len(filters)))
            for position, profile in enumerate(subscriber.profiles):
                pid = len(owners)
                owners.append(i)
                positions.append(position)
                for criterion in _CRITERIA:
                    values = getattr(profile, criterion)
                    if values:
                        has[criterion].append(pid)
                        for value in dict.fromkeys(values):
                            lists[criterion][value].append(pid)
        self._filters = [(frozenset(changes), limit) for changes, limit in filters]
        # who wants a new notice (an initial version without changes), following it or by a profile
        self._new_notice_followed = np.array([_wants_new_notice(w, True) for w, _ in self._filters], dtype=bool)
        self._new_notice = np.array([_wants_new_notice(w, False) for w, _ in self._filters], dtype=bool)
        self._filter_of = np.array(filter_of, dtype=np.int64)
        self._owner = np.array(owners, dtype=np.int64)
        self._position = np.array(positions, dtype=np.int64)
        self._postings = {c: {k: np.array(v, dtype=np.int64) for k, v in lists[c].items()} for c in _CRITERIA}
        # a bit per criterion: a profile matches when the bits it passed equal the bits of the criteria it names
        self._bits = {c: 1 << n for n, c in enumerate(_CRITERIA) if has[c]}
        self._need = np.zeros(len(owners), dtype=np.uint8)
        for c, bit in self._bits.items():
            self._need[has[c]] |= bit
        self._lengths = {c: sorted({len(k) for k in lists[c]}) for c in ("cpv", "nuts")}
        # keywords other than single whole words (those are found directly), as _phrase_in defines them:
        # - a one-word prefix ("photovolta*") depends on one word only: a word's prefixes are known once;
        # - a phrase ("voirie communale") is found by its first two words, consecutive: exact for two words,
        #   the rest of a longer phrase tested in the text;
        # - a phrase ending in a prefix ("voirie comm*") is found by its first word and tested in the text.
        self._stems: dict[str, list[tuple[str, str]]] = defaultdict(list)  # first letters -> (term, stem)
        self._bigrams: dict[tuple[str, str], list[tuple[str, str | None]]] = defaultdict(list)  # -> (term, needle)
        self._starred: dict[str, list[tuple[str, str]]] = defaultdict(list)  # first word -> (term, needle)
        for term in lists["keywords"]:
            words = term.rstrip("*").split(" ")
            if term.endswith("*") and len(words) == 1:
                self._stems[words[0][:_STEM]].append((term, words[0]))
            elif term.endswith("*"):
                self._starred[words[0]].append((term, f" {term[:-1]}"))
            elif len(words) > 1:
                self._bigrams[(words[0], words[1])].append((term, f" {term} " if len(words) > 2 else None))
        self._stem_lengths = sorted({len(k) for k in self._stems})
        self._word_stems: dict[str, tuple[str, ...]] = {}  # word -> the prefix keywords it starts with
        # buyer substrings by a piece of their longest word; those without one are tested every time
        self._buyers: dict[str, list[str]] = defaultdict(list)
        self._buyers_always: list[str] = []
        for pattern in lists["buyer"]:
            piece = _buyer_key(pattern)
            (self._buyers[piece] if piece else self._buyers_always).append(pattern)
        self._gram_lengths = sorted({len(k) for k in self._buyers})
        self._buyer_cache: dict[str, frozenset[str]] = {}  # buyer name -> the indexed substrings it contains

    # -------------------------------------------------------- which profiles match

    def _values(self, f: Facets, criterion: str) -> Iterable[str]:
        """The procedure's values for a criterion, as posting keys (what a profile value must equal)."""
        if criterion == "departments":
            return f.departments
        if criterion == "families":
            return (f.family,) if f.family else ()
        if criterion == "sources":
            return f.sources
        if criterion in ("cpv", "nuts"):
            codes = f.cpv if criterion == "cpv" else f.nuts
            return {c[:n] for c in codes for n in self._lengths[criterion] if n <= len(c)}
        if criterion == "keywords":
            return self._keyword_terms(f)
        return self._buyer_patterns(f)

    def _keyword_terms(self, f: Facets) -> set[str]:
        """The indexed keywords the procedure's title and description contain."""
        words = tuple(f.word_set)
        terms = set(words)  # every single whole word is its own posting key
        if self._stems:
            found = cached_map(self._word_stems, words, self._stems_of, limit=_WORD_CACHE_SIZE)
            for stems in filter(None, found):
                terms.update(stems)
        text = f.text
        if self._bigrams:
            pairs = set(zip(f.words, f.words[1:], strict=False))
            for pair in pairs & self._bigrams.keys():
                terms.update(term for term, needle in self._bigrams[pair] if needle is None or needle in text)
        for word in f.word_set & self._starred.keys():
            terms.update(term for term, needle in self._starred[word] if needle in text)
        return terms

    def _stems_of(self, word: str) -> tuple[str, ...]:
        """The prefix keywords ("photovolta*") the word starts with."""
        found: list[str] = []
        for n in self._stem_lengths:  # a word shorter than n: itself, a prefix too
            found += (term for term, stem in self._stems.get(word[:n], ()) if word.startswith(stem))
        return tuple(found)

    def _buyer_patterns(self, f: Facets) -> frozenset[str]:
        """The indexed buyer substrings the procedure's buyer name contains."""
        buyer = f.buyer
        if not buyer:
            return frozenset()
        known = self._buyer_cache.get(buyer)
        if known is not None:  # buyers publish again and again
            return known
        found = {p for p in self._buyers_always if p in buyer}
        grams = {buyer[i : i + n] for n in self._gram_lengths for i in range(len(buyer) - n + 1)}
        for gram in grams & self._buyers.keys():
            found.update(p for p in self._buyers[gram] if p in buyer)
        if len(self._buyer_cache) >= _WORD_CACHE_SIZE:
            self._buyer_cache.clear()
        self._buyer_cache[buyer] = frozenset(found)
        return self._buyer_cache[buyer]

    def _matching(self, f: Facets) -> BoolArray:
        """Per profile: whether the facets match it (it passed every criterion it names)."""
        passed = np.zeros(self._need.size, dtype=np.uint8)
        for criterion, bit in self._bits.items():
            postings = self._postings[criterion]
            hits = [postings[k] for k in postings.keys() & self._values(f, criterion)]
            if hits:
                # fancy-index or: every copy of a repeated index reads the same old value, so repeats are harmless
                passed[hits[0] if len(hits) == 1 else np.concatenate(hits)] |= bit
        matched: BoolArray = passed == self._need
        return matched

    def candidates(self, f: Facets) -> list[int]:
        """Ids of the profiles the facets match, in profile order."""
        return list(np.flatnonzero(self._matching(f)).tolist())

    def _first_profiles(self, f: Facets) -> tuple[IntArray, IntArray]:
        """The subscribers (ascending) with a profile the facets match, and the position of the first one."""
        pids = np.flatnonzero(self._matching(f))  # run in subscriber order, then profile order
        owners = self._owner[pids]
        first = _first_of_each(owners)
        return owners[first], self._position[pids[first]]

    # -------------------------------------------------------- decisions

    def decide(self, event: VersionEvent) -> Decisions:
        """Who gets the version and what of it: the same as ``naive_match``, as arrays."""
        now, before = _facets(event)
        followed: dict[int, str] = {}
        for identifier in event.procedure.identifiers:
            for i in self._follow.get(identifier, ()):
                followed.setdefault(i, identifier)
        subs, position = self._first_profiles(now)
        if followed or (before is not None and before is not now):
            subs, scope, position, is_follow = self._scopes(subs, position, before, now, followed)
        else:  # the common case: profile scopes only, and the procedure's facets did not change
            scope = np.full(subs.size, _PROFILE, dtype=np.int64)
            is_follow = np.zeros(subs.size, dtype=bool)

        outcomes: list[tuple[list[ChangeDict], list[str], bool]] = []
        outcome = np.zeros(subs.size, dtype=np.int64)
        keep = np.ones(subs.size, dtype=bool)
        filtered = scope <= _PROFILE  # the change filter decides for follow and profile scopes
        classified = _classified(event)
        if event.kind == "initial" and not event.changes:  # a new notice: a table lookup per subscriber
            ids = self._filter_of[subs[filtered]]
            wants = np.where(is_follow[filtered], self._new_notice_followed[ids], self._new_notice[ids])
            keep[filtered] = wants
            outcomes.append(([], ["new_notice"], False))
        elif filtered.any():  # once per distinct (filter, follow) pair
            pairs = self._filter_of[subs[filtered]] * 2 + is_follow[filtered]
            distinct, inverse = np.unique(pairs, return_inverse=True)
            index = np.full(distinct.size, -1, dtype=np.int64)
            for n, pair in enumerate(distinct.tolist()):
                wanted, limit = self._filters[pair // 2]
                result = _outcome(wanted, limit, bool(pair % 2), event, classified)
                if result is not None:
                    index[n] = len(outcomes)
                    outcomes.append(result)
            chosen = index[inverse]
            outcome[filtered] = chosen
            keep[filtered] = chosen >= 0
        if not filtered.all():  # profile_entered, profile_left: the whole version
            outcome[~filtered] = len(outcomes)
            outcomes.append(_whole_outcome(event, classified))
        if not keep.all():
            subs, scope, position, outcome = subs[keep], scope[keep], position[keep], outcome[keep]
        return Decisions(self.subscribers, subs, scope, position, outcome, outcomes, followed)

    def _scopes(
        self, now_subs: IntArray, now_pos: IntArray, before: Facets | None, now: Facets, followed: dict[int, str]
    ) -> tuple[IntArray, IntArray, IntArray, BoolArray]:
        """Subscribers in scope now, before the version (when the facets changed) or by a follow; their scope
        code and the position of the profile behind it."""
        follow_subs = np.fromiter(sorted(followed), dtype=np.int64, count=len(followed))
        if before is None or before is now:  # follows and unchanged profile scopes: a merge
            both = np.concatenate((now_subs, follow_subs))
            order = np.argsort(both, kind="stable")  # a subscriber in both: its follow comes last
            both = both[order]
            last = np.empty(both.size, dtype=bool)
            if both.size:
                last[-1] = True
                np.not_equal(both[1:], both[:-1], out=last[:-1])
            pick = order[last]
            is_follow = pick >= now_subs.size
            position = np.concatenate((now_pos, np.full(follow_subs.size, -1, dtype=np.int64)))[pick]
            return both[last], np.where(is_follow, _FOLLOW, _PROFILE), position, is_follow
        before_subs, before_pos = self._first_profiles(before)
        subs = np.concatenate((now_subs, before_subs, follow_subs))
        subs.sort()
        subs = subs[_first_of_each(subs)]

        def lookup(keys: IntArray, values: IntArray) -> IntArray:
            """values[j] where keys[j] == s for each s of subs, else -1 (keys ascending)."""
            if not keys.size:
                return np.full(subs.size, -1, dtype=np.int64)
            at = np.minimum(np.searchsorted(keys, subs), keys.size - 1)
            return np.where(keys[at] == subs, values[at], -1)

        pos_now = lookup(now_subs, now_pos)
        pos_before = lookup(before_subs, before_pos)
        is_follow = lookup(follow_subs, follow_subs) >= 0
        scope = np.where(
            is_follow,
            _FOLLOW,
            np.where(pos_now >= 0, np.where(pos_before < 0, _ENTERED, _PROFILE), _LEFT),
        )
        return subs, scope, np.where(pos_now >= 0, pos_now, pos_before), is_follow

    def match(self, event: VersionEvent) -> list[Match]:
        """The same result as ``naive_match(subscribers, event)``, in the same order."""
        return list(self.decide(event))


def settle_long_lived() -> None:
    """For a long-running process, once its subscribers are loaded and indexed: take everything it holds so
    far out of the cyclic garbage collector's rounds (``gc.freeze``). They live as long as the process (or
    until the subscriber files change), are freed by reference counting all the same, and otherwise every
    full collection walks each of them again while versions are matched: with 100,000 subscribers and
    thousands of matches per version, matching runs 2 to 3 times faster (``bench/match_throughput.py``)."""
    gc.freeze()
