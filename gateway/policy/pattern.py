"""Route path patterns: ``/literal``, ``/{param}`` (one segment), trailing ``/**``.

Patterns are relative to the tenant root and checked once, at load:
literal parts must already be canonical (see `gateway.front.paths`), parameter names
are identifiers used once, ``**`` appears only as the last segment, and there
is no trailing ``/`` (``/`` alone is the tenant root).
"""

from __future__ import annotations

import re

from gateway.front.paths import is_canonical
from gateway.policy.model import Pattern, Segment

_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class PatternError(ValueError):
    pass


def parse_pattern(text: str) -> Pattern:
    """Compile `text`, or raise `PatternError` saying what is wrong with it."""
    if not text.startswith("/"):
        raise PatternError(f"pattern {text!r} must start with '/'")
    if text == "/":
        return Pattern(text, ())
    if text.endswith("/"):
        raise PatternError(f"pattern {text!r} must not end with '/' (use '/**' for a subtree)")
    parts = text[1:].split("/")
    segments = tuple(_segment(text, part, last=i == len(parts) - 1) for i, part in enumerate(parts))
    names = [s.value for s in segments if s.kind == "param"]
    if len(set(names)) != len(names):
        raise PatternError(f"pattern {text!r} uses a parameter name twice")
    return Pattern(text, segments)


def _segment(text: str, part: str, *, last: bool) -> Segment:
    if not part:
        raise PatternError(f"pattern {text!r} has an empty segment ('//')")
    if part == "**":
        if not last:
            raise PatternError(f"pattern {text!r}: '**' is only allowed as the last segment")
        return Segment("prefix")
    param = _PARAM.fullmatch(part)
    if param is not None:
        return Segment("param", param.group(1))
    if any(c in part for c in "{}*"):
        raise PatternError(
            f"pattern {text!r}: bad segment {part!r} (a parameter is a whole segment "
            "'{name}' with a letter, digit or '_' name; '*' only as a final '/**')"
        )
    if not is_canonical("/" + part):
        raise PatternError(f"pattern {text!r}: segment {part!r} is not a canonical path segment")
    return Segment("literal", part)


def parse_strip_prefix(text: str, patterns: list[Pattern]) -> tuple[Pattern | None, list[str]]:
    """``forward.strip_prefix``: leading segments (literals and ``{param}``s, no ``**``) that
    every pattern of the route starts with, parameter for parameter; the forwarded path is
    the request's canonical path without them (`gateway.policy.matcher.upstream_path`).
    Returns the compiled prefix, or None and what is wrong with it."""
    try:
        prefix = parse_pattern(text)
    except PatternError as exc:
        return None, [str(exc).replace("pattern", "strip_prefix", 1)]
    if not prefix.segments:
        return None, ["strip_prefix '/' strips nothing"]
    if any(s.kind == "prefix" for s in prefix.segments):
        return None, [f"strip_prefix {text!r}: '**' cannot be stripped (name the segments)"]
    problems: list[str] = []
    width = len(prefix.segments)
    for pattern in patterns:
        unknown = [p for p in prefix.params if p not in pattern.params]
        if unknown:
            names = ", ".join(f"{{{p}}}" for p in unknown)
            problems.append(f"strip_prefix {text!r}: {names} is not a parameter of path {pattern.text!r}")
        elif pattern.segments[:width] != prefix.segments:
            problems.append(f"path {pattern.text!r} does not start with strip_prefix {text!r}")
    return (prefix if not problems else None), problems
