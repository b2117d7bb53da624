"""Edge mode as real processes: a gateway on the seed world (the shipped policies plus an echo
route, host routing, trusting nginx on loopback) and, in front of it, nginx with what
`gateway edge nginx` renders from that gateway's environment.

    edge.gateway      # the gateway alone (and the decider behind nginx)
    edge.nginx        # the edge
    edge.decided(trace_id)  # whether the gateway decided that request (else nginx reused a decision)
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.support.fronts import edge_front
from tests.support.ops import access_lines
from tests.support.polling import eventually
from tests.support.processes import ROOT, Proc, free_port, gateway_process
from tests.support.world import World

#: a route for every credential kind, to the recording upstream `inventory`
EDGE_POLICY = """\
tenants: [customer, dealer]

routes:
  - id: edge-echo
    path: /echo/**
    methods: [GET, POST]
    allow:
      human:   {roles: {any: [viewer, member]}}
      machine: {scopes: {any: ["inventory:read"]}}
    forward: {upstream: inventory}
"""
#: how long nginx may reuse a decision here: longer than any test's steps on a loaded machine
TTL = 10
HOSTS = {"GATEWAY_TENANT_CUSTOMER_HOSTS": "customer.example", "GATEWAY_TENANT_DEALER_HOSTS": "dealer.example"}


@dataclass
class Edge:
    world: World
    gateway: Proc
    nginx: Proc
    #: the gateway's environment (what the edge is rendered from)
    env: dict[str, str]

    def decided(self, trace_ids: list[str], last: str) -> dict[str, bool]:
        """Which of `trace_ids` the gateway decided (a /decisions line of that trace), read
        once the line of `last` (a request sent after them that the gateway decided) is out."""

        def lines() -> list[dict[str, object]] | None:
            found = access_lines(self.gateway.output())
            return found if any(line.get("trace_id") == last for line in found) else None

        written = eventually(lines, timeout=10, what=f"the gateway's line of trace {last}")
        asked = {str(line["trace_id"]) for line in written if line.get("described_by") == "path"}
        return {trace_id: trace_id in asked for trace_id in trace_ids}


@pytest.fixture(scope="session")
def edge(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    policies = tmp_path_factory.mktemp("edge-policies")
    for source in (ROOT / "policies").glob("*.yaml"):
        shutil.copy(source, policies / source.name)
    (policies / "edge.yaml").write_text(EDGE_POLICY)
    env = {k: v for k, v in world.env.items() if k != "GATEWAY_UPSTREAM_DASHBOARD_URL"}
    env |= HOSTS | {
        "GATEWAY_POLICIES_DIR": str(policies),
        "GATEWAY_LISTEN": f"127.0.0.1:{free_port()}",
        "GATEWAY_TRUSTED_PROXIES": "127.0.0.1/32",
        "GATEWAY_EDGE_CACHE_TTL": str(TTL),
        "GATEWAY_UPSTREAM_DASHBOARD_URL": world.inventory.url,  # the dashboard page: recorded too
    }
    with gateway_process(env) as gateway, edge_front(env) as nginx:
        yield Edge(world, gateway, nginx, env)
