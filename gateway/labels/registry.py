"""The label profiles, by id: what a route's ``labels:`` may name.

- ``headers``: identity headers only; nothing of the request is rewritten (no profile).
- ``durably``: built in (`gateway.labels.profile.durably_profile`).
- every ``label_profiles:`` entry of the policy files, compiled and checked when the
  policies load (`compile_profile`), so a bad profile is a ``file:line`` problem listed by
  ``gateway check`` and never a 500 on the first labelled request.

The loaded `PolicySet` holds the compiled profiles; their one verb is
`gateway.labels.scope.OrgScope.prepare`, which applies a route's profile to a request.
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway.labels.errors import Location, ProfileError
from gateway.labels.profile import LabelProfile, durably_profile, profile_from_mapping

#: the profile that only describes the caller in headers (the default of every route)
HEADERS = "headers"
#: profiles every policy set has, by id
BUILT_IN: Mapping[str, LabelProfile] = {"durably": durably_profile()}
#: ids a policy file cannot define
RESERVED = frozenset({HEADERS, *BUILT_IN})


def compile_profile(spec: Mapping[str, object]) -> LabelProfile | list[tuple[Location, str]]:
    """A ``label_profiles:`` entry as a profile, or every problem with where it is in `spec`."""
    try:
        return profile_from_mapping(spec)
    except ProfileError as exc:
        return list(exc.located)
