"""Who gets notified of what: ``config/subscribers.yaml`` (+ ``subscribers*.yaml``, ``subscribers.d/*.yaml``).

A subscriber is a name, apprise URLs (the channels) and match rules::

    version: 1
    subscribers:
      - name: equipe-ao
        urls: ["mailto://${SMTP_USER}:${SMTP_PASSWORD}@smtp.example.org?to=ao@example.org"]
        language: fr                      # fr | en
        follow: ["20-157376"]             # procedures, by any identifier of any of their notices
        profiles:                         # or: procedures matching a profile (any profile is enough)
          - cpv: ["4523"]                 # all criteria given in one profile must match
            departments: ["56", "2A"]
        changes: [deadline_moved]         # optional; default [any]
        thresholds: {deadline_moved_min_days: 3}
        delivery: {mode: digest, digest: daily, hour: 8}
        enabled: true

Profile values are stored in their canonical form so matching compares like with like: CPV prefixes as
digits without the check digit and without trailing hierarchy zeros (``45000000-7`` → ``45``), departments
upper-case and zero-padded (``1`` → ``01``, ``2a`` → ``2A``), NUTS upper-case, sources lower-case, families
upper-case, buyer substrings and keywords through :func:`~tracker.vocabulary.normalize_text` (lower case,
accents stripped): :mod:`tracker.vocabulary` holds the forms, which :mod:`tracker.match` shares.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Final, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from tracker.exceptions import ConfigError
from tracker.vocabulary import ChangeName, normalize_cpv, normalize_department, normalize_keyword, normalize_text
from tracker.yamlconf import load_yaml, validate

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: Final[tuple[str, ...]] = get_args(Weekday)

# ---------------------------------------------------------------- validation


def _as_str(value: Any) -> Any:
    """YAML reads ``56`` or ``20157376`` as numbers; identifiers and codes are strings."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    return value


Code = Annotated[str, BeforeValidator(_as_str)]

# no "20": Corsica is 2A and 2B
_DEPARTMENT: Final = re.compile(r"^(0[1-9]|1[0-9]|2[1-9AB]|[3-8][0-9]|9[0-5]|97[1-8]|98[4-9])$")
_NUTS: Final = re.compile(r"^[A-Z]{2}[0-9A-Z]{0,3}$")
_NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

# ---------------------------------------------------------------- schema


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Profile(_Model):
    """Procedures by their facets. Within a profile every criterion given must match (one of its values)."""

    buyer: tuple[str, ...] = ()  # substrings of the buyer's name
    cpv: tuple[Code, ...] = ()  # CPV prefixes
    departments: tuple[Code, ...] = ()
    nuts: tuple[str, ...] = ()  # NUTS prefixes
    keywords: tuple[str, ...] = ()  # words or phrases in title + description; "photovolta*" for a prefix
    sources: tuple[str, ...] = ()  # boamp, ted, …
    families: tuple[str, ...] = ()  # BOAMP famille: JOUE, FNS, MAPA, …

    @field_validator("buyer")
    @classmethod
    def _buyer(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return _non_empty(tuple(normalize_text(v) for v in values), "buyer")

    @field_validator("keywords")
    @classmethod
    def _keywords(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return _non_empty(tuple(normalize_keyword(v) for v in values), "keywords")

    @field_validator("cpv")
    @classmethod
    def _cpv(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(normalize_cpv(v) for v in values)

    @field_validator("departments")
    @classmethod
    def _departments(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        codes = tuple(normalize_department(v) for v in values)
        bad = [c for c in codes if not _DEPARTMENT.match(c)]
        if bad:
            raise ValueError(f"not a French département code: {', '.join(bad)} (examples: 56, 2A, 971)")
        return codes

    @field_validator("nuts")
    @classmethod
    def _nuts(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        codes = tuple(v.strip().upper() for v in values)
        bad = [c for c in codes if not _NUTS.match(c)]
        if bad:
            raise ValueError(f"not a NUTS code or prefix: {', '.join(bad)} (examples: FR, FRH, FRH04)")
        return codes

    @field_validator("sources")
    @classmethod
    def _sources(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(v.strip().lower() for v in values)

    @field_validator("families")
    @classmethod
    def _families(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(v.strip().upper() for v in values)

    def is_catch_all(self) -> bool:
        """An empty profile matches every procedure."""
        return not any(getattr(self, name) for name in type(self).model_fields)


def _non_empty(values: tuple[str, ...], what: str) -> tuple[str, ...]:
    if any(not v or v == "*" for v in values):
        raise ValueError(f"{what}: an entry has no letter or digit")
    return values


class Thresholds(_Model):
    #: a deadline moved *later* by fewer days is ignored (moved earlier is always kept: it is critical)
    deadline_moved_min_days: int = Field(0, ge=0)


class Delivery(_Model):
    """When to send: at once, or collected into a daily/weekly digest. Critical changes are always immediate."""

    mode: Literal["immediate", "digest"] = "immediate"
    digest: Literal["daily", "weekly"] = "daily"
    hour: int = Field(8, ge=0, le=23)
    weekday: Weekday = "mon"  # weekly digests only
    timezone: str = "Europe/Paris"

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (example: Europe/Paris)") from None
        return value

    def is_immediate(self, *, critical: bool) -> bool:
        return self.mode == "immediate" or critical

    def next_digest(self, after: datetime) -> datetime:
        """The first digest time strictly after ``after`` (an aware datetime), in the subscriber's time zone."""
        zone = ZoneInfo(self.timezone)
        local = after.astimezone(zone)
        day: date = local.date()
        while True:
            candidate = datetime(day.year, day.month, day.day, self.hour, tzinfo=zone)
            weekday_ok = self.digest == "daily" or WEEKDAYS[day.weekday()] == self.weekday
            if weekday_ok and candidate > local:
                return candidate
            day += timedelta(days=1)


class Subscriber(_Model):
    name: str
    urls: tuple[str, ...] = Field(min_length=1, repr=False)  # repr=False: URLs carry secrets
    language: Literal["fr", "en"] = "fr"
    follow: tuple[Code, ...] = ()
    profiles: tuple[Profile, ...] = ()
    changes: tuple[ChangeName, ...] = ("any",)
    thresholds: Thresholds = Thresholds()
    delivery: Delivery = Delivery()
    enabled: bool = True

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("a name is 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
        return value

    @field_validator("follow")
    @classmethod
    def _follow(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = tuple(v.strip() for v in values)
        if any(not v for v in cleaned):
            raise ValueError("an empty identifier")
        return cleaned

    @field_validator("changes")
    @classmethod
    def _changes(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        if not values:
            raise ValueError("list at least one change name, or leave 'changes' out to get every change")
        return values

    @model_validator(mode="after")
    def _has_scope(self) -> Subscriber:
        if not self.follow and not self.profiles:
            raise ValueError("give 'follow' or 'profiles' (an empty profile, profiles: [{}], matches everything)")
        return self

    def masked_urls(self) -> list[str]:
        """The URLs with passwords and tokens hidden, for logs and CLI output."""
        from tracker.notify.dispatch import mask_url  # here: importing the configuration loads no apprise

        return [mask_url(url) for url in self.urls]


class SubscribersFile(_Model):
    version: Literal[1]
    subscribers: tuple[Subscriber, ...] = ()


# ---------------------------------------------------------------- loading


def subscriber_files(config_dir: Path) -> list[Path]:
    """``subscribers*.yaml`` then ``subscribers.d/*.yaml``, sorted; ``*.example.yaml`` files are documentation."""
    files = sorted(config_dir.glob("subscribers*.yaml")) + sorted((config_dir / "subscribers.d").glob("*.yaml"))
    return [f for f in files if f.is_file() and not f.name.endswith(".example.yaml")]


def load_subscribers(config_dir: Path, *, env: Mapping[str, str] | None = None) -> list[Subscriber]:
    """Every subscriber of every subscriber file in ``config_dir``; no file → an empty list.

    Raises ConfigError naming the file and line: schema errors, a missing ``${VAR}``, a URL apprise cannot
    load (shown masked), a name defined twice (both places named).
    """
    seen: dict[str, str] = {}
    subscribers: list[Subscriber] = []
    for path in subscriber_files(config_dir):
        for subscriber, where in load_file(path, env=env):
            if subscriber.name in seen:
                raise ConfigError(
                    f"{where}: subscriber {subscriber.name!r} is already defined at {seen[subscriber.name]}"
                )
            seen[subscriber.name] = where
            subscribers.append(subscriber)
    return subscribers


def load_file(path: Path, *, env: Mapping[str, str] | None = None) -> list[tuple[Subscriber, str]]:
    """The subscribers of one file, each with its ``file:line``; URLs checked with apprise."""
    raw = load_yaml(path)
    parsed = validate(SubscribersFile, raw, path=path, env=env)
    entries = raw.get("subscribers") or []
    result = []
    for index, subscriber in enumerate(parsed.subscribers):
        entry = entries[index]
        result.append((subscriber, f"{path}:{entry['__line__']}"))
        urls_line = entry["__lines__"].get("urls", entry["__line__"])
        _check_urls(subscriber, where=f"{path}:{urls_line}: subscribers.{index}.urls")
    return result


def _check_urls(subscriber: Subscriber, *, where: str) -> None:
    from tracker.notify.dispatch import check_url  # here: importing the configuration loads no apprise

    for position, url in enumerate(subscriber.urls):
        problem = check_url(url)
        if problem is not None:
            raise ConfigError(f"{where}.{position}: {problem}")
