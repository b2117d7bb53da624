"""Fixtures shared across folders, defined in tests/support/ and registered here once.

tests.support.world: `world`, `auth`, `strict_gateway`, `faults` (the seed world as real
processes); tests.support.ops: `ops`, `redis_server`, `replica_a`, `replica_b` (the
operations world); tests.support.orgs: `orgs` (two more gateways on the world: memberships
from metadata and from Keto). Session-scoped fixtures start their processes on first use only.
"""

pytest_plugins = ["tests.support.world", "tests.support.ops", "tests.support.orgs"]
