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
