"""Per-session credentials for the end-to-end suites (one log-in per user, reused)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.support.world import World

Auth = Callable[[str], dict[str, str]]


@pytest.fixture(scope="session")
def auth(world: World) -> Auth:
    """`auth("alice")` -> Authorization header of one session per user for the whole run;
    `auth("machine:partner-inventory:jobs:read jobs:write")` -> a client-credentials token."""
    cache: dict[str, dict[str, str]] = {}

    def get(who: str) -> dict[str, str]:
        if who not in cache:
            if who.startswith("machine:"):
                _, client, scope = who.split(":", 2)
                cache[who] = {"Authorization": f"Bearer {world.machine_token(client, scope)}"}
            else:
                cache[who] = world.bearer(who)
        return cache[who]

    return get
