"""Errors raised by tracker.

    TrackerError
    ├── ConfigError          a configuration file or setting is invalid (which file, which line, what)
    ├── ParseError           a document or record cannot be read; it is quarantined, never fatal to a batch
    ├── StorageError         the database refused an operation
    └── FetchError           a source could not be fetched
        ├── TransientError   worth retrying later (5xx, timeout, 429)
        └── PermanentError   not worth retrying (4xx other than 429, bad content)

Domain code raises these; the CLI turns them into messages, the workers classify them for retry.
"""

from __future__ import annotations


class TrackerError(Exception):
    """Base class of every error tracker raises on purpose."""


class ConfigError(TrackerError):
    pass


class ParseError(TrackerError):
    pass


class StorageError(TrackerError):
    pass


class FetchError(TrackerError):
    pass


class TransientError(FetchError):
    pass


class PermanentError(FetchError):
    pass
