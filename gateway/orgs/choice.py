"""The caller's choice of organization for one request: `X-Organization-Id`, or the route's
path parameter (``organization: {param: org}``).

- The header counts in every spelling that normalises to it (`_` and `.` read as `-`, any
  case), like every header the gateway owns; it is consumed here and never forwarded
  (`gateway.forward.headers`). Copies with one value are one choice; copies that differ are
  400 `organization_conflict`, and so are a header and a path parameter that differ.
- A value is an organization id (`gateway.orgs.memberships`): HTTP's optional whitespace
  around a header value is not part of it; anything else outside the alphabet - inner
  spaces, commas (two values folded into one), control characters, over-long ids - is 400
  `bad_organization_id`. Ids are compared exactly afterwards: a case variant names another
  organization (403 `not_a_member` unless the caller belongs to that one too).
"""

from __future__ import annotations

from gateway.errors import BadRequest
from gateway.front.request import RequestView, Spellings
from gateway.orgs.memberships import ORGANIZATION_ID
from gateway.policy.model import Match

HEADER = "x-organization-id"


def chosen_organization(request: RequestView, match: Match) -> str | None:
    """The organization the caller chose for this request, or None (no choice)."""
    choice = _from_headers(request)
    param = match.route.organization_param
    if param is not None:
        in_path = _checked(match.params.get(param, ""), f"path parameter {{{param}}}")
        if choice is not None and choice != in_path:
            raise _bad("organization_conflict", "X-Organization-Id and the path name different organizations")
        choice = in_path
    return choice


def _from_headers(request: RequestView) -> str | None:
    values = request.header_values(b"x-organization-id")
    for name in [n for n in request.header_names() if _CHOICE[n] and n != b"x-organization-id"]:
        values = [*values, *request.header_values(name)]
    if not values:
        return None
    first = values[0].strip(b" \t")
    if any(v.strip(b" \t") != first for v in values[1:]):
        raise _bad("organization_conflict", "X-Organization-Id is given more than once with different values")
    return _checked(first.decode("latin-1"), "X-Organization-Id")


def _is_choice(name: bytes) -> bool:
    return name.decode("latin-1").lower().replace("_", "-").replace(".", "-") == HEADER


#: header name as sent -> whether it normalises to X-Organization-Id (bounded: `Spellings`)
_CHOICE: Spellings[bool] = Spellings(_is_choice)


def _checked(value: str, where: str) -> str:
    if ORGANIZATION_ID.fullmatch(value) is None:
        raise _bad("bad_organization_id", f"{where} is not an organization id (letters, digits, . _ ~ -)")
    return value


def _bad(reason: str, description: str) -> BadRequest:
    return BadRequest(description, reason=reason, extra={"reason": reason})
