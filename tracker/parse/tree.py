"""Reading DILA's XML-as-JSON trees: every element may be a string, an object or a list of them.

XML→JSON conventions of BOAMP data (SCHEMA_NOTES A5): an empty element is ``""``; a chosen option is a key
with ``""`` as its value; attributes are ``"@NAME"`` keys and the text of an element with attributes is
``"#text"``; a repeated element becomes a list only when it repeats. These helpers accept every such shape.
"""

from __future__ import annotations

from typing import Any


def as_list(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    return value if isinstance(value, list) else [value]


def dig(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def text_of(value: Any) -> str | None:
    """The text of an element: a string, or ``#text`` of an element with attributes."""
    if isinstance(value, dict):
        value = value.get("#text")
    if isinstance(value, list):
        parts = [t for t in (text_of(v) for v in value) if t]
        return " ".join(parts) or None
    if value is None:
        return None
    s = " ".join(str(value).split())
    return s or None


def choice(value: Any) -> str | None:
    """The key chosen in an XML choice element: ``{"APPEL_OFFRE": {"STANDARD": ""}}`` -> "APPEL_OFFRE"."""
    if isinstance(value, dict):
        keys = [k for k in value if not k.startswith("@")]
        return keys[0] if keys else None
    if isinstance(value, str) and value:
        return value
    return None
