"""What every command and the server load at start-up, checked as a whole.

The settings come from the environment through `gateway.config` (which imports nothing else
of the gateway), checked there with what other packages require of them: each tenant's
membership source. Then the policies, checked against the settings. `ConfigError` lists
every problem.
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway.config.load import Checks, read_settings
from gateway.config.settings import Settings
from gateway.orgs.sources import membership_problems
from gateway.policy.loader import load_policies
from gateway.policy.policy_set import PolicySet

CHECKS = Checks(tenant=membership_problems)


def load_settings(env: Mapping[str, str]) -> Settings:
    return read_settings(env, CHECKS)


def load_all(env: Mapping[str, str]) -> tuple[Settings, PolicySet]:
    """Settings, then the policies they name (policies are checked against the settings)."""
    settings = load_settings(env)
    return settings, load_policies(settings.policies_dir, settings)
