"""YAML that remembers where things were: every mapping knows its line and its keys' lines.

Duplicate keys are problems (PyYAML would silently keep the last one, and a
typo'd or repeated `allow:` must never change access quietly).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml


class LineDict(dict[Any, Any]):
    """A mapping from YAML with `line` (1-based) and `key_lines`."""

    line: int = 0
    key_lines: dict[Any, int]


_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available (docs/performance.md)


class _Loader(_Base):  # type: ignore[misc]
    problems: list[tuple[int, str]]


def _construct_map(loader: _Loader, node: yaml.MappingNode) -> Iterator[LineDict]:
    data = LineDict()
    data.line = node.start_mark.line + 1
    data.key_lines = {}
    yield data
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if key in data.key_lines:
            loader.problems.append((line, f"duplicate key {key!r} (first at line {data.key_lines[key]})"))
        data.key_lines[key] = line
        data[key] = loader.construct_object(value_node, deep=True)


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)


def read_yaml(path: Path) -> tuple[Any, list[str]]:
    """The document in `path` and its problems, each as ``file:line: message``."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [f"{path}: cannot read: {exc}"]
    loader = _Loader(text)
    loader.problems = []
    try:
        document = loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc)
        return None, [f"{path}:{line}: YAML syntax error: {problem}"]
    finally:
        loader.dispose()
    return document, [f"{path}:{line}: {message}" for line, message in loader.problems]


def line_of(document: Any, location: tuple[Any, ...]) -> int:
    """The line of the deepest key or list item on `location` from `document`."""
    line, node = getattr(document, "line", 1), document
    for step in location:
        if isinstance(node, LineDict):
            line = node.key_lines.get(step, node.line)
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            break
        if isinstance(step, int):
            line = getattr(node, "line", line)
    return line
