"""The words subscribers and matching share: canonical forms of texts and codes, and the change names.

Subscriber profiles (:mod:`tracker.subscribers`) are stored in these forms and procedures' facets
(:mod:`tracker.match`) are read into them, so matching compares like with like. This module imports
nothing from the project: both sides, and the notification stages above them, can use it without an
import cycle (``tests/test_architecture.py``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from typing import Final, Literal, TypeVar, get_args

K = TypeVar("K")
V = TypeVar("V")

#: what a subscriber can ask for in ``changes:``; :func:`tracker.match.classify` names a version's changes
ChangeName = Literal[
    "deadline_moved",
    "deadline_earlier",
    "date_shift",
    "value_changed",
    "lot_added",
    "lot_removed",
    "cancelled",
    "awarded",
    "documents_changed",
    "text",
    "sources_disagree",
    "new_notice",
    "any",
    "profile_entered",
    "profile_left",
]
CHANGE_NAMES: Final[tuple[str, ...]] = get_args(ChangeName)

# ---------------------------------------------------------------- texts

_LIGATURE_PAIRS: Final = (("œ", "oe"), ("Œ", "oe"), ("æ", "ae"), ("Æ", "ae"))
_LIGATURES: Final = str.maketrans(dict(_LIGATURE_PAIRS))
_NON_WORD: Final = re.compile(r"[^0-9a-z]+")


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.translate(_LIGATURES))
    return _NON_WORD.sub(" ", "".join(c for c in decomposed if not unicodedata.combining(c)).casefold())


def _normalize_slowly(text: str) -> str:
    return _fold(text).strip()


#: after decomposition and case folding, what the common path handles: ASCII, the combining diacritics it drops,
#: and the C1 controls (a cp1252 apostrophe read as Latin-1), punctuation, spaces and currency signs of Latin-1
#: and General Punctuation (’ « » – … €) that become spaces; any other character (another script, ø, ł…)
#: takes the general path
#: (U+034F, the grapheme joiner, is no combining character to Unicode: the general path keeps it, as a space)
_COMBINING_DIACRITICS: Final = re.compile("[\u0300-\u034e\u0350-\u036f]+")
_OTHER: Final = re.compile("[^\x00-\x9f\u0300-\u034e\u0350-\u036f\u00a0-\u00bf\u00d7\u00f7\u2000-\u206f\u20a0-\u20cf]")


#: ASCII bytes: letters lower-cased, digits kept, anything else a space
_ASCII_WORDS: Final = bytes(
    c if chr(c).isascii() and chr(c).isalnum() and not chr(c).isupper() else (c + 32 if 65 <= c <= 90 else 32)
    for c in range(256)
)


def normalize_text(text: str) -> str:
    """Lower case, accents and punctuation removed, single spaces: ``"Énergie-Bâtiment"`` → ``"energie batiment"``.

    Each step runs in C over the whole text (a notice's description is thousands of characters): the result is
    the general path's (:func:`_normalize_slowly`), which the tests check on random texts."""
    if text.isascii():
        return " ".join(text.encode("ascii").translate(_ASCII_WORDS).decode("ascii").split())
    for ligature, letters in _LIGATURE_PAIRS:
        if ligature in text:
            text = text.replace(ligature, letters)
    decomposed = unicodedata.normalize("NFKD", text).casefold()
    if _OTHER.search(decomposed):
        return _normalize_slowly(text)
    # what is left past ASCII is punctuation: encoded as "?", then a space as all punctuation
    ascii_only = _COMBINING_DIACRITICS.sub("", decomposed).encode("ascii", "replace")
    return " ".join(ascii_only.translate(_ASCII_WORDS).decode("ascii").split())


def cached_map(cache: dict[K, V], keys: Sequence[K], compute: Callable[[K], V], *, limit: int) -> list[V]:
    """``[compute(k) for k in keys]``, each value computed once while it stays in ``cache``; the cache is
    emptied when it holds ``limit`` entries. The lookups of the common case, every key known, run in C."""
    found = list(map(cache.get, keys))
    if None in found:
        if len(cache) >= limit:
            cache.clear()
        for n, key in enumerate(keys):
            if found[n] is None:
                found[n] = cache[key] = compute(key)
    return found  # type: ignore[return-value]  # no None left


_WORDS_CACHE: dict[str, str] = {}
_WORDS_CACHE_SIZE: Final = 100_000


def normalized_words(text: str) -> list[str]:
    """``normalize_text(text).split()``, faster on long texts: each whitespace-separated token is folded once
    per process (bounded cache); notices repeat the same vocabulary."""
    return " ".join(cached_map(_WORDS_CACHE, text.split(), normalize_text, limit=_WORDS_CACHE_SIZE)).split()


def normalize_keyword(text: str) -> str:
    """Like :func:`normalize_text`, keeping one trailing ``*`` (prefix match on the last word)."""
    stripped = text.strip()
    star = stripped.endswith("*")
    words = normalize_text(stripped.rstrip("*"))
    return f"{words}*" if star and words else words


# ---------------------------------------------------------------- codes


def normalize_cpv(code: str) -> str:
    """CPV code or prefix → its significant digits: ``45233140-2`` → ``4523314``, ``45000000`` → ``45``."""
    digits = code.split("-", 1)[0].strip()
    if not digits.isdigit():
        raise ValueError(f"a CPV code is made of digits, got {code!r}")
    return digits.rstrip("0").ljust(2, "0")[:8] if len(digits) >= 2 else digits


def normalize_department(code: str) -> str:
    """``1`` → ``01``, ``2a`` → ``2A``."""
    return code.strip().upper().zfill(2)
