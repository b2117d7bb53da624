"""The pipeline's verdict for an allowed request, handed to the target."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.policy import Match, PolicySet
from gateway.principal import Principal


@dataclass(frozen=True, slots=True)
class Decision:
    tenant: str
    match: Match
    principal: Principal | None
    #: the policy set the request was matched against (reloads never change it mid-request)
    policies: PolicySet
