"""Dependency rules of the layout, enforced by reading the imports of every module."""

from __future__ import annotations

import ast
import subprocess
import sys
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


# ---------------------------------------------------------------- the module graph of tracker/


def module_name(path: Path, root: Path = ROOT) -> str:
    """``tracker/x/y.py`` → ``tracker.x.y``, ``tracker/notify/__init__.py`` → ``tracker.notify``."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _base_of(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The module a ``from … import`` reads from, relative levels resolved against ``module``."""
    if node.level == 0:
        return node.module or ""
    package = module.split(".")
    package = package if is_package else package[:-1]
    package = package[: len(package) - (node.level - 1)]
    return ".".join(package + ([node.module] if node.module else []))


def _targets(node: ast.AST, module: str, is_package: bool, known: set[str]) -> set[str]:
    """The modules an import statement loads: ``from pkg import name`` loads ``pkg.name`` when that is a
    module, else ``pkg`` itself. Parent packages are not counted (their ``__init__`` runs first anyway)."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names}
    if not isinstance(node, ast.ImportFrom):
        return set()
    base = _base_of(node, module, is_package)
    found = {f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in known}
    if len(found) < len(node.names):
        found.add(base)
    return found


def import_graph(package: Path, root: Path = ROOT) -> dict[str, set[str]]:
    """Module → the modules of the same package it imports: at the top, inside functions, anywhere but
    under ``if TYPE_CHECKING:``."""
    paths = sorted(package.rglob("*.py"))
    names = {path: module_name(path, root) for path in paths}
    known = set(names.values())
    graph: dict[str, set[str]] = {}
    for path, name in names.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skipped = _type_checking_only(tree)
        is_package = path.name == "__init__.py"
        edges = set()
        for node in ast.walk(tree):
            if id(node) not in skipped:
                edges |= _targets(node, name, is_package, known)
        graph[name] = (edges & known) - {name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as ``[a, b, …, a]``, or None; depth first, in sorted order (stable messages)."""
    done: set[str] = set()
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        path.append(node)
        for target in sorted(graph.get(node, ())):
            cycle = visit(target)
            if cycle:
                return cycle
        path.pop()
        done.add(node)
        return None

    for start in sorted(graph):
        cycle = visit(start)
        if cycle:
            return cycle
    return None


def test_import_graph_reads_every_kind_of_import(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    files = {
        "__init__.py": "",
        "a.py": "from pkg import b\nfrom . import c\n",
        "b.py": "def f():\n    import pkg.sub.d\n",
        "c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import a\nfrom .sub import d\n",
        "sub/__init__.py": "from .d import x\n",
        "sub/d.py": "from ..e import y\nfrom pkg.sub import nothing_here\n",
        "e.py": "import os\n",
    }
    for name, text in files.items():
        (pkg / name).write_text(text, encoding="utf-8")
    graph = import_graph(pkg, tmp_path)
    assert graph == {
        "pkg": set(),
        "pkg.a": {"pkg.b", "pkg.c"},
        "pkg.b": {"pkg.sub.d"},
        "pkg.c": {"pkg.sub.d"},
        "pkg.sub": {"pkg.sub.d"},
        "pkg.sub.d": {"pkg.e", "pkg.sub"},
        "pkg.e": set(),
    }
    assert find_cycle(graph) == ["pkg.sub.d", "pkg.sub", "pkg.sub.d"]
    assert find_cycle({"x": {"y"}, "y": set()}) is None


def test_no_import_cycle_in_tracker():
    cycle = find_cycle(import_graph(TRACKER))
    assert cycle is None, "import cycle: " + " → ".join(cycle or [])


def test_store_does_not_import_consolidate():
    graph = import_graph(TRACKER)
    assert not graph["tracker.store"] & {"tracker.consolidate", "tracker.diff"}


@pytest.mark.parametrize("module", ["tracker.match", "tracker.subscribers", "tracker.notify.render"])
def test_matching_and_rendering_load_no_apprise(module):
    """Only sending needs apprise (a slow import): a fresh interpreter importing ``module`` has not loaded it."""
    code = f"import sys, {module}; print('apprise' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False", done.stderr
