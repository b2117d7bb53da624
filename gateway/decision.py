"""The pipeline's verdict for an allowed request, handed to the target."""

from __future__ import annotations

from typing import NamedTuple

from gateway.policy import Match, PolicySet
from gateway.principal import Principal


# a NamedTuple, not a frozen dataclass: built per request (docs/performance.md)
class Decision(NamedTuple):
    tenant: str
    match: Match
    principal: Principal | None
    #: the policy set the request was matched against (reloads never change it mid-request)
    policies: PolicySet
