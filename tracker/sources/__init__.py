"""FETCH stage: one module per publisher or feed kind; network only, no parsing, no database.

The registry is explicit: :data:`BUILTIN_SOURCES`, plus classes that installed packages declare
in the ``tracker.sources`` entry-point group. A broken or duplicate plugin is a
:class:`~tracker.exceptions.ConfigError` at start-up, not a silently missing source.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from tracker.exceptions import ConfigError
from tracker.sources.base import Cursor, Document, FetchResult, Source, SourceOptions
from tracker.sources.boamp import BoampSource
from tracker.sources.feed import FeedSource
from tracker.sources.folder import FolderSource
from tracker.sources.platform import PlatformSource
from tracker.sources.ted import TedSource

__all__ = [
    "BUILTIN_SOURCES",
    "Cursor",
    "Document",
    "FetchResult",
    "Source",
    "SourceOptions",
    "build_registry",
    "source_classes",
]

ENTRY_POINT_GROUP = "tracker.sources"

BUILTIN_SOURCES: tuple[type[Source[Any]], ...] = (BoampSource, FeedSource, FolderSource, TedSource, PlatformSource)

KIND_RE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")


def _checked(cls: object, origin: str) -> type[Source[Any]]:
    if not (isinstance(cls, type) and issubclass(cls, Source)):
        raise ConfigError(f"source plugin {origin} is not a Source subclass")
    kind = getattr(cls, "kind", None)
    if not isinstance(kind, str) or not KIND_RE.match(kind):
        raise ConfigError(f"source plugin {origin} has an invalid kind {kind!r} (lowercase snake_case expected)")
    for attr in ("options_model", "default_parser"):
        if not hasattr(cls, attr):
            raise ConfigError(f"source plugin {origin} lacks the class attribute {attr!r}")
    return cls


def build_registry(
    builtin: Iterable[type[Source[Any]]], plugins: Iterable[EntryPoint] = ()
) -> dict[str, type[Source[Any]]]:
    """Kind -> class for the built-in classes and the entry points; invalid or duplicate kinds are errors."""
    classes: dict[str, type[Source[Any]]] = {}
    candidates = [(cls, cls.__qualname__) for cls in builtin]
    for entry_point in plugins:
        try:
            loaded = entry_point.load()
        except Exception as exc:
            origin = f"{entry_point.name!r} ({entry_point.value})"
            raise ConfigError(f"source plugin {origin} cannot be loaded: {exc}") from exc
        candidates.append((loaded, f"{entry_point.name!r} ({entry_point.value})"))
    for candidate, origin in candidates:
        cls = _checked(candidate, origin)
        if cls.kind in classes:
            raise ConfigError(f"source plugin {origin}: kind {cls.kind!r} is already taken by {classes[cls.kind]}")
        classes[cls.kind] = cls
    return classes


@functools.cache
def source_classes() -> dict[str, type[Source[Any]]]:
    """Every available source kind: built-ins first, then the ``tracker.sources`` entry points."""
    return build_registry(BUILTIN_SOURCES, entry_points(group=ENTRY_POINT_GROUP))
