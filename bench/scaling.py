"""Configuration size: 10,000 routes + 100 tenants against 3 routes + 3 tenants.

Every generated tenant points at a project of its own on the emulator, named after it
(none is asked: the benchmark's requests are the customer tenant's), so that no two tenants
share an Ory project (`gateway check` would refuse that unless they were told apart): only
the gateway's own tables grow. The route measured is the same in
both: GET /customer/bench/small for a cached human session.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from bench.gw import bench_env
from gateway.config.settings import tenant_env_prefix
from tests.support.seed import API_KEYS, TENANTS

HUMAN_ALLOW: dict[str, object] = {"human": {"roles": {"any": ["viewer", "member"]}}}
BENCH_ROUTE: dict[str, object] = {
    "id": "bench-small",
    "path": "/bench/small",
    "methods": ["GET", "POST"],  # POST: `bench.instructions --credential cookie-post`
    "allow": HUMAN_ALLOW,
    "forward": {"upstream": "bench"},
}
#: the same route guarded by an Ory Permissions check too (`bench.instructions --permission`):
#: the bench human (alice, org-acme) may view Report:org-acme/q3 through a subject set of the
#: demo seed, so a cached request has a cached membership and a cached permission
PERMISSION_ROUTE: dict[str, object] = BENCH_ROUTE | {
    "allow": {
        "human": {
            "roles": {"any": ["viewer", "member"]},
            "permission": {"namespace": "Report", "object": "{org}/q3", "relation": "view"},
        }
    }
}


@dataclass(frozen=True)
class Shape:
    name: str
    tenants: int
    routes: int


SMALL = Shape("3-routes-3-tenants", 3, 3)
LARGE = Shape("10000-routes-100-tenants", 100, 10_000)


def tenant_names(count: int) -> list[str]:
    return [*TENANTS, *(f"t{i:03d}" for i in range(len(TENANTS), count))][:count]


def filler_route(index: int) -> dict[str, object]:
    """Route `index` of a tenant: four shapes (literal, param, prefix, deep params), none tying."""
    shapes = (
        f"/svc{index}/items",
        f"/svc{index}/items/{{id}}",
        f"/svc{index}/files/**",
        f"/api/v{index}/orgs/{{org}}/things/{{id}}",
    )
    return {
        "id": f"r{index}",
        "path": shapes[index % 4],
        "methods": ["GET", "POST"],
        "allow": HUMAN_ALLOW,
        "forward": {"upstream": "bench"},
    }


def route_counts(shape: Shape) -> dict[str, int]:
    """How many routes each tenant gets: half to `customer` (the one measured), the rest spread."""
    names = tenant_names(shape.tenants)
    if shape.routes <= shape.tenants:
        return dict.fromkeys(names, 1)
    counts = {"customer": shape.routes // 2}
    others = names[1:]
    left = shape.routes - counts["customer"]
    for i, name in enumerate(others):
        counts[name] = left // len(others) + (1 if i < left % len(others) else 0)
    return counts


def write_policies(directory: Path, shape: Shape, bench_route: dict[str, object] = BENCH_ROUTE) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for tenant, count in route_counts(shape).items():
        routes = [filler_route(i) for i in range(count)]
        if tenant == "customer":
            routes[0] = bench_route
        doc = {"tenant": tenant, "routes": routes}
        (directory / f"{tenant}.yaml").write_text(json.dumps(doc, indent=1))  # JSON is YAML, and quick to write
    return directory


def shape_env(
    directory: Path, shape: Shape, emulator_url: str, upstream_url: str, bench_route: dict[str, object] = BENCH_ROUTE
) -> dict[str, str]:
    policies = write_policies(directory / "policies", shape, bench_route)
    env = bench_env(0, emulator_url, upstream_url, policies)
    env.pop("GATEWAY_LISTEN")
    names = tenant_names(shape.tenants)
    env["GATEWAY_TENANTS"] = ",".join(names)
    for name in names[len(TENANTS) :]:
        p, base = tenant_env_prefix(name), f"{emulator_url}/{name}"
        env |= {
            p + "MODE": "self-hosted",
            p + "TRANSPORT": "cookie-or-bearer",
            p + "KRATOS_PUBLIC_URL": base,
            p + "KRATOS_ADMIN_URL": base,
            p + "KRATOS_ADMIN_TOKEN": API_KEYS["customer"],
            p + "HYDRA_PUBLIC_URL": base,
            p + "HYDRA_ADMIN_URL": base,
            p + "HYDRA_ADMIN_TOKEN": API_KEYS["customer"],
            p + "SESSION_COOKIE_NAME": f"ory_session_{name}",
        }
    return env
