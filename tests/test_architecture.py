"""Dependency rules of the layout, enforced by reading the imports of every module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests import ROOT

TRACKER = ROOT / "tracker"


def _type_checking_only(tree: ast.AST) -> set[int]:
    """Imports under ``if TYPE_CHECKING:`` are for annotations only; they run nothing."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(n) for child in node.body for n in ast.walk(child))
    return skipped


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _type_checking_only(tree)
    names: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def modules() -> list[Path]:
    return sorted(TRACKER.rglob("*.py"))


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_tracker_never_imports_celery_or_workers(path):
    assert not imports_of(path) & {"celery", "kombu", "workers"}


@pytest.mark.parametrize(
    "library, allowed",
    [
        ("deepdiff", {"tracker/diff.py"}),
        ("apprise", {"tracker/notify/dispatch.py"}),
        ("httpx", None),  # only tracker/sources/**
        ("feedparser", None),
    ],
)
def test_libraries_stay_in_their_stage(library, allowed):
    users = {str(p.relative_to(ROOT)) for p in modules() if library in imports_of(p)}
    if allowed is None:
        assert all(u.startswith("tracker/sources/") for u in users), users
    else:
        assert users <= allowed, users


@pytest.mark.parametrize(
    "pure",
    ["tracker/parse", "tracker/diff.py", "tracker/consolidate.py", "tracker/match.py", "tracker/notify/render.py"],
)
def test_pure_stages_touch_no_database_and_no_network(pure):
    target = ROOT / pure
    paths = sorted(target.rglob("*.py")) if target.is_dir() else [target]
    for path in paths:
        if path.exists():
            assert not imports_of(path) & {"sqlalchemy", "sqlmodel", "httpx", "requests", "socket", "apprise"}, path
