"""Fixtures shared across folders, defined in tests/support/ and registered here once, and how
the suite splits across pytest-xdist workers.

tests.support.world: `world`, `auth`, `strict_gateway`, `faults` (the seed world as real
processes); tests.support.ops: `ops`, `redis_server`, `replica_a`, `replica_b` (the
operations world); tests.support.orgs: `orgs` (two more gateways on the world: memberships
from metadata and from Keto). Session-scoped fixtures start their processes on first use only.

scripts/test runs the suite on two workers (`-n 2 --dist loadgroup --no-loadscope-reorder`).
Each test module is one xdist group, so a module runs on one worker and its module-scoped
processes start once; modules marked `pytest.mark.xdist_group("serial")` form one group, so
they run one after another on one worker: those that load both cores (benchmark smoke, soaks,
floods) or bound a duration tightly. A worker starts the session fixtures it uses itself.
"""

from __future__ import annotations

import pytest

pytest_plugins = ["tests.support.world", "tests.support.ops", "tests.support.orgs"]


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups into the test ids
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::", 1)[0]))
