"""Per-tenant route policies: model, loader, compiled matcher and live reload.

load_policies(directory, settings) -> PolicySet     (ConfigError lists every problem)
match(policy_set, tenant, method, rest_path) -> Match  (NotFound / MethodNotAllowed)
PolicyStore(directory, settings).current / .reload() / .watch()
"""

from gateway.policy.loader import load_policies
from gateway.policy.matcher import upstream_path
from gateway.policy.model import Builtin, Forward, Match, Pattern, Permission, Requirement, Route, Segment
from gateway.policy.policy_set import PolicySet, match
from gateway.policy.reload import PolicyStore

__all__ = [
    "Builtin",
    "Forward",
    "Match",
    "Pattern",
    "Permission",
    "PolicySet",
    "PolicyStore",
    "Requirement",
    "Route",
    "Segment",
    "load_policies",
    "match",
    "upstream_path",
]
