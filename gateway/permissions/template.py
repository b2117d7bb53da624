"""Permission object templates: compiled when the policies load, rendered per request.

A template is literal text with ``{name}`` placeholders, each a ``{param}`` of the route's
path or ``{org}`` (the request's verified organization), e.g. ``"{org}/reports/{report}"``.
Values are never trusted to be harmless: every value rendered into an object must be an id
of 1-128 characters of ``A-Z a-z 0-9 . _ ~ -`` starting with a letter or digit (the same
alphabet as organization ids), so a path parameter cannot smuggle ``/`` (``%2F``), ``..``,
``#``, ``@``, ``:``, quotes, spaces, control characters or an over-long id into the object.
The rendered object is then sent to Keto as one structured parameter (query or JSON field),
never spliced into a URL or a JSON text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from gateway.orgs.memberships import ORGANIZATION_ID

ORG = "org"
MAX_TEMPLATE = 256
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_LITERAL = re.compile(r"[\x20-\x7a\x7c\x7e]*")  # printable ASCII without { and }


class TemplateError(ValueError):
    """A template that cannot be compiled (reported at load with its file:line)."""


class ValueRefused(ValueError):
    """A value that may not be rendered into an object; `name` is the placeholder."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def compile_template(text: str, params: tuple[str, ...]) -> tuple[str, ...]:
    """Literal text and placeholder names alternating (literal first); every placeholder must
    be one of `params` or ``org``."""
    if not text or len(text) > MAX_TEMPLATE:
        raise TemplateError(f"object template must be 1-{MAX_TEMPLATE} characters")
    parts: list[str] = []
    end = 0
    for found in _PLACEHOLDER.finditer(text):
        parts += [_literal(text, text[end : found.start()]), found.group(1)]
        end = found.end()
    parts.append(_literal(text, text[end:]))
    for name in parts[1::2]:
        if name != ORG and name not in params:
            known = ", ".join(f"{{{p}}}" for p in (*params, ORG))
            raise TemplateError(
                f"object template {text!r}: {{{name}}} is not a parameter of the route (known: {known})"
            )
    return tuple(parts)


def _literal(text: str, part: str) -> str:
    if not _LITERAL.fullmatch(part):
        raise TemplateError(
            f"object template {text!r}: only printable ASCII around placeholders, braces only as {{name}}"
        )
    return part


def render(parts: tuple[str, ...], params: Mapping[str, str], org: str | None) -> str:
    """The object for one request; raises `ValueRefused` naming a value outside the id alphabet
    (or ``org`` when the request has no organization)."""
    if len(parts) == 1:
        return parts[0]
    out = [parts[0]]
    for i in range(1, len(parts), 2):
        name = parts[i]
        value = org if name == ORG else params.get(name)
        if value is None or ORGANIZATION_ID.fullmatch(value) is None:
            raise ValueRefused(name)
        out += (value, parts[i + 1])
    return "".join(out)
