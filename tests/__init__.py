"""Test helpers: where the shared corpus lives, and how to ask for it.

The corpus is read from ``../shared`` next to the repository, or from ``TRACKER_SHARED_DIR``.
With ``CI=true`` a missing corpus fails the test instead of skipping it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    return Path(os.environ.get("TRACKER_SHARED_DIR") or ROOT.parent / "shared")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def need(reason: str) -> None:
    """Skip, or fail under CI, because something the test needs is missing."""
    if in_ci():
        pytest.fail(f"CI=true and {reason}")
    pytest.skip(reason)


def corpus_path(*parts: str) -> Path:
    path = shared_dir().joinpath("corpus", *parts)
    if not path.exists():
        need(f"corpus file missing: {path}")
    return path


def seeds_path(*parts: str) -> Path:
    path = shared_dir().joinpath("seeds", *parts)
    if not path.exists():
        need(f"seed file missing: {path}")
    return path


def fixture_path(*parts: str) -> Path:
    return ROOT.joinpath("tests", "fixtures", *parts)
