"""Per-tenant route policies: model, compiled matcher, loader and live reload.

    model.py        routes, requirements, targets, matches (frozen values)
    policy_set.py   `PolicySet`, `match(policy_set, tenant, method, rest_path) -> Match`
    loader.py       `load_policies(directory, settings) -> PolicySet` (ConfigError lists every problem)
    reload.py       `PolicyStore(directory, settings).current / .reload() / .watch()`

The package exports the model and the matcher only: importing a route type does not import
the loader (which reads every registry the policies name).
"""

from gateway.policy.matcher import upstream_path
from gateway.policy.model import Builtin, Forward, Match, Pattern, Permission, Requirement, Route, Segment
from gateway.policy.policy_set import PolicySet, match

__all__ = [
    "Builtin",
    "Forward",
    "Match",
    "Pattern",
    "Permission",
    "PolicySet",
    "Requirement",
    "Route",
    "Segment",
    "match",
    "upstream_path",
]
