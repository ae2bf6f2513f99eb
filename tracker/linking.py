"""Whether a ContractFolderID may link two notices. Pure: no I/O.

An eForms ContractFolderID (BT-04, identifier scheme ``procedure_uuid``) is chosen by the buyer or its eSender:
nothing makes it unique across buyers, and unrelated notices do share one (the SDK examples give Rouen Habitat
and HM Land Registry the same). So a ContractFolderID links a notice to a procedure only when the buyer agrees
(:func:`may_merge`): an organisation identifier (BT-501) or a name, compared case- and accent-insensitively.
A BT-758 reference (or any other identifier of the procedure) confirms a link on its own; that decision is the
linker's (``tracker.store``). A buyer's internal reference (scheme ``buyer_ref``: BT-22, BOAMP's reference, a
platform's "Référence", an RC's consultation number) is guarded the same way: buyers reuse short references, so
it joins a notice to a procedure only when the buyers agree. Identifiers that say nothing ("not available",
"xyz", "n/a", empty) never count as agreement (:func:`is_placeholder`), and such a reference links nothing.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from tracker.terminal import inert
from tracker.vocabulary import normalize_text

#: the eForms ContractFolderID: links only when the buyers agree
FOLDER_SCHEME: Final = "procedure_uuid"
#: the buyer's internal reference (BT-22, BOAMP ``REF_MARCHE``/``identifiantInterne``, a platform's "Référence",
#: an RC's consultation number): links only when the buyers agree, and never to a relaunch (``tracker.store``)
REFERENCE_SCHEME: Final = "buyer_ref"
#: the schemes whose keys link only when the buyers agree
GUARDED_SCHEMES: Final = frozenset({FOLDER_SCHEME, REFERENCE_SCHEME})

#: values, once folded (letters and digits only), that identify no organisation
_PLACEHOLDERS: Final = frozenset(
    {
        "na",
        "nd",
        "nc",
        "none",
        "null",
        "nil",
        "unknown",
        "notavailable",
        "notapplicable",
        "notknown",
        "notprovided",
        "nonrenseigne",
        "nondisponible",
        "inconnu",
        "neant",
        "sansobjet",
        "xyz",
        "abc",
        "test",
        "tbd",
        "todo",
        "dummy",
        "example",
        "sample",
        "id",
        "buyerid",
        "orgid",
    }
)
_ASCENDING: Final = "1234567890"
_REPEATED: Final = re.compile(r"^(.)\1*$")


def _folded(value: object) -> str:
    return normalize_text(str(value)).replace(" ", "") if value is not None else ""


def is_placeholder(value: object) -> bool:
    """An identifier or name that identifies no one: empty, one or two characters, a stock word ("not
    available", "n/a", "xyz"), one character repeated ("000000", "xxx") or a run of ascending digits
    ("123 456 789", the stock example number)."""
    return _placeholder_folded(_folded(value))


def _placeholder_folded(folded: str) -> bool:
    return (
        len(folded) < 3
        or folded in _PLACEHOLDERS
        or bool(_REPEATED.match(folded))
        or (folded.isdigit() and _ASCENDING.startswith(folded))
    )


@dataclass(frozen=True, slots=True)
class Buyers:
    """The buyers known for a notice or a procedure: folded names and identifiers (placeholders left out),
    and, for messages, the names as written and the notices they come from."""

    names: frozenset[str] = frozenset()
    ids: frozenset[str] = frozenset()
    shown: tuple[str, ...] = ()
    notices: tuple[str, ...] = ()

    def __or__(self, other: Buyers) -> Buyers:
        return Buyers(
            self.names | other.names,
            self.ids | other.ids,
            tuple(dict.fromkeys(self.shown + other.shown)),
            tuple(dict.fromkeys(self.notices + other.notices)),
        )

    def describe(self, limit: int = 3) -> str:
        """``Rouen Habitat [123 456 789] (notices da4d46e9…, …)``: one line, inert, for a log."""
        names = ", ".join(inert(n)[:120] for n in self.shown[:limit]) or "no buyer name"
        ids = f" [{', '.join(inert(i)[:40] for i in sorted(self.ids)[:limit])}]" if self.ids else ""
        more = "…" if len(self.notices) > limit else ""
        notices = ", ".join(inert(n)[:80] for n in self.notices[:limit])
        return f"{names}{ids} (notice {notices}{more})" if notices else f"{names}{ids}"


@functools.lru_cache(maxsize=8192)
def _name_key(name: str) -> str | None:
    """A buyer name's folded form, None for a placeholder (names repeat from notice to notice: kept)."""
    normal = normalize_text(name)
    return None if _placeholder_folded(normal.replace(" ", "")) else normal


def buyers(name: object, ids: Iterable[object] = (), notice: str | None = None) -> Buyers:
    """One notice's buyer (BT-500 name, BT-501 identifiers), placeholders left out."""
    key = _name_key(str(name)) if name else None
    names = frozenset({key}) if key is not None else frozenset()
    kept = frozenset(_folded(i) for i in ids if isinstance(i, str | int) and not is_placeholder(i))
    shown = (str(name),) if name else ()
    return Buyers(names, kept, shown, (notice,) if notice else ())


def buyers_of_record(record: Mapping[str, Any]) -> Buyers:
    """The buyer a stored notice record (``snapshot_record``) names."""
    extra = record.get("extra")
    ids = extra.get("buyer_ids") if isinstance(extra, Mapping) else None
    notice = record.get("notice_id")
    return buyers(record.get("buyer"), ids if isinstance(ids, list) else (), str(notice) if notice else None)


def may_merge(known: Buyers, notice: Buyers) -> bool:
    """Whether a notice may join, through its ContractFolderID alone, a procedure of these buyers: they share
    an organisation identifier or a name. Nothing known on either side is no agreement."""
    return bool(known.ids & notice.ids or known.names & notice.names)


def collision_message(folder: str, notice_id: str, notice: Buyers, procedure: str, known: Buyers) -> str:
    """The warning logged when a ContractFolderID would merge notices of different buyers."""
    return (
        f"ContractFolderID {inert(folder)[:120]} shared by unrelated notices, kept apart: notice "
        f"{inert(notice_id)[:80]} ({notice.describe()}) does not join procedure {inert(procedure)[:80]} "
        f"({known.describe()}): buyers differ and no BT-758 reference links them"
    )
