"""The sources configuration: ``config/sources.yaml`` into frozen, validated models.

::

    version: 1
    sources:
      - name: boamp            # unique; stored with every document and cursor
        kind: boamp            # a key of tracker.sources.source_classes()
        every: 30m             # or cron: "*/30 * * * *"  (exactly one of the two)
        enabled: true          # optional
        budget: 15m            # optional: longest poll of this source; the next poll resumes from the cursor
        allow: []              # optional: non-public addresses URLs taken from data may reach (this source)
        options: {...}         # validated by the kind's options_model
    outbound:
      allow: []                # non-public networks, addresses or host names (".suffix") any source may reach

A source's own configured URLs are fetched as configured (a local mirror is legitimate); URLs taken from
data (links in notices) reach only public addresses, unless an ``allow`` list names them
(:mod:`tracker.sources.http`).

Errors name the file and line (:mod:`tracker.yamlconf`); ``${VAR}`` is replaced from the
environment before validation and a missing variable is an error.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializeAsAny,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from tracker.exceptions import ConfigError
from tracker.sources import Source, SourceOptions, source_classes
from tracker.sources.http import AllowList, HttpSource
from tracker.yamlconf import load_yaml, validate

if TYPE_CHECKING:  # only tracker.sources does HTTP (tests/test_architecture.py)
    import httpx

SOURCES_FILE = "sources.yaml"
MIN_EVERY = timedelta(seconds=10)

_EVERY = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_NAME = r"^[a-z0-9][a-z0-9_-]{0,62}$"

# minute, hour, day of month, month, day of week: (low, high, names)
_CRON_FIELDS: tuple[tuple[str, int, int, tuple[str, ...]], ...] = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    ("month", 1, 12, ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")),
    ("day of week", 0, 7, ("sun", "mon", "tue", "wed", "thu", "fri", "sat")),
)


def parse_every(value: object) -> timedelta:
    """``"30s"``, ``"30m"``, ``"2h"``, ``"1d"`` (or a timedelta) to a timedelta of at least 10 seconds."""
    if isinstance(value, timedelta):
        every = value
    else:
        match = _EVERY.match(value) if isinstance(value, str) else None
        if match is None:
            raise ValueError(f"expected a duration such as 30s, 30m, 2h or 1d, got {value!r}")
        every = timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    if every < MIN_EVERY:
        raise ValueError(f"must be at least {int(MIN_EVERY.total_seconds())}s, got {value!r}")
    return every


def _cron_value(token: str, low: int, high: int, names: tuple[str, ...]) -> int:
    lowered = token.lower()
    if lowered in names:
        return names.index(lowered) + (1 if low == 1 else 0)
    if not token.isdigit() or not low <= int(token) <= high:
        raise ValueError(f"{token!r} is not in {low}-{high}")
    return int(token)


def _check_cron_part(part: str, low: int, high: int, names: tuple[str, ...]) -> None:
    base, _, step = part.partition("/")
    if step and (not step.isdigit() or int(step) == 0):
        raise ValueError(f"bad step {step!r}")
    if base == "*":
        return
    first, _, last = base.partition("-")
    start = _cron_value(first, low, high, names)
    if last and _cron_value(last, low, high, names) < start:
        raise ValueError(f"range {base!r} goes backwards")


def check_cron(value: str) -> str:
    """A five-field cron expression (minute hour day-of-month month day-of-week), checked field by field."""
    fields = value.split()
    if len(fields) != len(_CRON_FIELDS):
        raise ValueError(f"expected 5 fields (minute hour day-of-month month day-of-week), got {len(fields)}")
    for text, (label, low, high, names) in zip(fields, _CRON_FIELDS, strict=True):
        for part in text.split(","):
            try:
                _check_cron_part(part, low, high, names)
            except ValueError as exc:
                raise ValueError(f"{label} field {text!r}: {exc}") from None
    return " ".join(fields)


def cron_sets(value: str) -> list[set[int]]:
    """The allowed values of each of the five fields of a checked cron expression."""
    sets: list[set[int]] = []
    for text, (_label, low, high, names) in zip(value.split(), _CRON_FIELDS, strict=True):
        allowed: set[int] = set()
        for part in text.split(","):
            base, _, step = part.partition("/")
            if base == "*":
                start, stop = low, high
            else:
                first, _, last = base.partition("-")
                start = _cron_value(first, low, high, names)
                stop = _cron_value(last, low, high, names) if last else (high if step else start)
            allowed.update(range(start, stop + 1, int(step) if step else 1))
        sets.append(allowed)
    return sets


class SourceConfig(BaseModel):
    """One configured source: which kind, how often, with which options."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=_NAME)
    kind: str
    every: timedelta | None = None
    cron: str | None = None
    enabled: bool = True
    budget: timedelta = timedelta(minutes=15)
    allow: tuple[str, ...] = ()
    options: SerializeAsAny[SourceOptions] = Field(default_factory=SourceOptions, validate_default=True)

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, kind: str) -> str:
        known = source_classes()
        if kind not in known:
            raise ValueError(f"unknown source kind {kind!r}; known kinds: {', '.join(sorted(known))}")
        return kind

    @field_validator("every", mode="before")
    @classmethod
    def _every(cls, value: object) -> timedelta | None:
        return None if value is None else parse_every(value)

    @field_validator("budget", mode="before")
    @classmethod
    def _budget(cls, value: object) -> timedelta:
        return parse_every(value)

    @field_validator("allow")
    @classmethod
    def _allow(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        AllowList.parse(value)
        return value

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        return None if value is None else check_cron(value)

    @field_validator("options", mode="before")
    @classmethod
    def _options(cls, value: object, info: ValidationInfo) -> SourceOptions:
        kind = info.data.get("kind")
        if kind is None:  # the kind itself is invalid and already reported
            return SourceOptions()
        if isinstance(value, SourceOptions) and not isinstance(value, source_classes()[kind].options_model):
            value = value.model_dump()
        return source_classes()[kind].options_model.model_validate(value if value is not None else {})

    @model_validator(mode="after")
    def _one_schedule(self) -> SourceConfig:
        if (self.every is None) == (self.cron is None):
            raise ValueError("give exactly one of 'every' and 'cron'")
        return self

    def build(self, client: httpx.Client) -> Source[Any]:
        """The configured :class:`~tracker.sources.Source`, fetching through ``client``."""
        source = source_classes()[self.kind](self.name, self.options, client)
        if isinstance(source, HttpSource) and self.allow:
            source.allow(AllowList.parse(self.allow))
        return source


class OutboundConfig(BaseModel):
    """``outbound:`` in sources.yaml: what URLs taken from data may reach besides public addresses."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    allow: tuple[str, ...] = ()

    @field_validator("allow")
    @classmethod
    def _allow(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        AllowList.parse(value)
        return value


class SourcesConfig(BaseModel):
    """The whole ``sources.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = 1
    outbound: OutboundConfig = OutboundConfig()
    sources: tuple[SourceConfig, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _share_allow(cls, data: Any) -> Any:
        """Every source's ``allow`` list gets the entries of ``outbound.allow``."""
        outbound = data.get("outbound") if isinstance(data, dict) else None
        shared = outbound.get("allow") if isinstance(outbound, dict) else None
        if not isinstance(shared, list | tuple) or not shared or not isinstance(data.get("sources"), list):
            return data
        sources = [
            {**item, "allow": [*item.get("allow", ()), *shared]} if isinstance(item, dict) else item
            for item in data["sources"]
        ]
        return {**data, "sources": sources}

    @field_validator("sources")
    @classmethod
    def _unique_names(cls, sources: tuple[SourceConfig, ...]) -> tuple[SourceConfig, ...]:
        first: dict[str, int] = {}
        for index, source in enumerate(sources):
            if source.name in first:
                error = PydanticCustomError(
                    "duplicate_name",
                    "duplicate source name '{name}' (first used by entry {first})",
                    {"name": source.name, "first": first[source.name]},
                )
                details = [InitErrorDetails(type=error, loc=(index, "name"), input=source.name)]
                raise ValidationError.from_exception_data("SourcesConfig", details)
            first[source.name] = index
        return sources

    def get(self, name: str) -> SourceConfig:
        for source in self.sources:
            if source.name == name:
                return source
        raise ConfigError(f"no source named {name!r} in the configuration")

    @property
    def enabled(self) -> tuple[SourceConfig, ...]:
        return tuple(source for source in self.sources if source.enabled)


def config_dir(explicit: Path | None = None) -> Path:
    """The configuration folder: ``explicit``, else ``$TRACKER_CONFIG_DIR``, else ``./config``."""
    if explicit is not None:
        return explicit
    return Path(os.environ.get("TRACKER_CONFIG_DIR") or "config")


def load_sources_file(path: Path, *, env: Mapping[str, str] | None = None) -> SourcesConfig:
    """Read and validate one sources file; an empty file is an empty configuration."""
    raw = load_yaml(path)
    if raw is None:
        return SourcesConfig()
    return validate(SourcesConfig, raw, path=path, env=env)


def load_sources(directory: Path, *, env: Mapping[str, str] | None = None) -> SourcesConfig:
    """``<directory>/sources.yaml``; a missing file is an empty configuration, not an error."""
    path = directory / SOURCES_FILE
    if not path.exists():
        return SourcesConfig()
    return load_sources_file(path, env=env)
