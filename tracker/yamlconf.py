"""Reading configuration files: YAML with line numbers, ``${VAR}`` interpolation, clear errors.

Every error names the file and the line, and says what was wrong. Secrets interpolated from the
environment never appear in an error message: the message shows ``${VAR}``, not its value.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from tracker.exceptions import ConfigError

ModelT = TypeVar("ModelT", bound=BaseModel)

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class _LineLoader(yaml.SafeLoader):
    """A safe loader that remembers the line of every mapping key."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping: dict[str, Any] = {}
    lines: dict[str, int] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node)
        mapping[key] = loader.construct_object(value_node)
        lines[str(key)] = key_node.start_mark.line + 1
    mapping["__lines__"] = lines
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def interpolate(
    value: str, *, where: str, env: Mapping[str, str] | None = None, seen: dict[str, str] | None = None
) -> str:
    """``value`` with every ``${VAR}`` replaced; ``seen`` collects ``{value: "${VAR}"}`` to hide in messages."""
    environ = os.environ if env is None else env

    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in environ:
            raise ConfigError(f"{where}: environment variable ${{{name}}} is not set")
        if seen is not None and environ[name]:
            seen[environ[name]] = m.group()
        return environ[name]

    return _VAR.sub(sub, value)


def hide_interpolated(message: str, seen: Mapping[str, str]) -> str:
    """``message`` with every value taken from the environment shown as its ``${VAR}`` again."""
    for value in sorted(seen, key=len, reverse=True):
        for form in dict.fromkeys((value, repr(value)[1:-1], value.encode("unicode_escape").decode())):
            if len(form) >= 3:  # a one- or two-character value would garble the message, and hides nothing
                message = message.replace(form, seen[value])
    return message


def _strip(
    obj: Any,
    *,
    path: str,
    line: int | None,
    env: Mapping[str, str] | None,
    interpolate_env: bool,
    seen: dict[str, str] | None = None,
) -> Any:
    """Drop the line bookkeeping and interpolate ``${VAR}``; errors name ``file:line``."""
    if isinstance(obj, dict):
        lines = obj.get("__lines__", {})
        here = obj.get("__line__", line)
        return {
            k: _strip(v, path=path, line=lines.get(str(k), here), env=env, interpolate_env=interpolate_env, seen=seen)
            for k, v in obj.items()
            if k not in ("__lines__", "__line__")
        }
    if isinstance(obj, list):
        return [_strip(v, path=path, line=line, env=env, interpolate_env=interpolate_env, seen=seen) for v in obj]
    if isinstance(obj, str) and interpolate_env:
        return interpolate(obj, where=f"{path}:{line}" if line else path, env=env, seen=seen)
    return obj


def load_yaml(path: Path) -> Any:
    """Parse a YAML file; mappings keep ``__lines__`` (key -> line) for error messages."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    try:
        return _load_bounded(text, path)
    except RecursionError:
        raise ConfigError(f"{path}: invalid YAML: nested too deeply") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{where}: invalid YAML: {problem}") from exc


#: a configuration file expands (aliases followed) to this many nodes at most: a 1 KB anchor bomb expands to
#: billions, and is refused before anything is built
MAX_NODES = 100_000


def _load_bounded(text: str, path: Path) -> Any:
    """``yaml.load`` with _LineLoader, the composed node graph measured first: aliases are shared nodes, so
    the expanded size is counted once per node (memoised), in time linear in the file."""
    loader = _LineLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded(node, {}) > MAX_NODES:
            raise ConfigError(f"{path}: YAML expands to more than {MAX_NODES} values (anchors and aliases)")
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _expanded(node: yaml.Node, sizes: dict[int, int]) -> int:
    known = sizes.get(id(node))
    if known is not None:
        return known
    sizes[id(node)] = MAX_NODES + 1  # a node met again while being measured is a cycle: too large
    if isinstance(node, yaml.MappingNode):
        total = 1 + sum(_expanded(k, sizes) + _expanded(v, sizes) for k, v in node.value)
    elif isinstance(node, yaml.SequenceNode):
        total = 1 + sum(_expanded(v, sizes) for v in node.value)
    else:
        total = 1
    sizes[id(node)] = total = min(total, MAX_NODES + 1)
    return total


def _line_of(data: Any, loc: tuple[int | str, ...]) -> int | None:
    """Follow a pydantic error location through the raw data to the nearest known line."""
    line = data.get("__line__") if isinstance(data, dict) else None
    node = data
    for part in loc:
        if isinstance(node, dict):
            lines = node.get("__lines__", {})
            if str(part) in lines:
                line = lines[str(part)]
            node = node.get(part) if isinstance(part, str) else None
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
            if isinstance(node, dict) and node.get("__line__"):
                line = node["__line__"]
        else:
            break
    return line if isinstance(line, int) else None


def validate(
    model: type[ModelT],
    raw: Any,
    *,
    path: Path,
    env: Mapping[str, str] | None = None,
    interpolate_env: bool = True,
) -> ModelT:
    """Validate raw YAML data against a pydantic model; errors carry ``file:line: field: message``."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top of the file")
    seen: dict[str, str] = {}
    clean = _strip(raw, path=str(path), line=None, env=env, interpolate_env=interpolate_env, seen=seen)
    try:
        return model.model_validate(clean)
    except (ValueError, ConfigError) as exc:
        if not isinstance(exc, ValidationError):
            raise ConfigError(hide_interpolated(f"{path}: {exc}", seen)) from None
        messages = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            line = _line_of(raw, loc)
            where = f"{path}:{line}" if line else str(path)
            dotted = ".".join(str(p) for p in loc) or "(top)"
            messages.append(f"{where}: {dotted}: {err['msg']}")
        raise ConfigError(hide_interpolated("\n".join(messages), seen)) from None


def load_model(model: type[ModelT], path: Path, *, env: Mapping[str, str] | None = None) -> ModelT:
    return validate(model, load_yaml(path), path=path, env=env)
