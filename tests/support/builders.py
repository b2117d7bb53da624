"""In-process building blocks for unit tests: settings from a test environment, the
shipped or a written policy folder, a route, a principal."""

from __future__ import annotations

import textwrap
from pathlib import Path

from gateway.config.settings import Settings
from gateway.load import load_settings
from gateway.policy import PolicySet
from gateway.policy.loader import load_policies
from gateway.policy.model import Builtin, Forward, Requirement, Route
from gateway.policy.pattern import parse_pattern
from gateway.principal import Kind, Principal

SEED_DIR = Path(__file__).resolve().parents[2] / "policies"
TENANTS = ("customer", "admin", "dealer")


def env(**overrides: str) -> dict[str, str]:
    values = {
        "GATEWAY_TENANTS": ",".join(TENANTS),
        "GATEWAY_DEFAULT_TENANT": "customer",
        "GATEWAY_UPSTREAM_JOBS_URL": "http://127.0.0.1:9001",
        "GATEWAY_UPSTREAM_INVENTORY_URL": "http://127.0.0.1:9002",
        "GATEWAY_UPSTREAM_DASHBOARD_URL": "http://127.0.0.1:9003",
    }
    for tenant in TENANTS:
        p = f"GATEWAY_TENANT_{tenant.upper()}_"
        values[p + "MODE"] = "self-hosted"
        for key in ("KRATOS_PUBLIC_URL", "KRATOS_ADMIN_URL", "HYDRA_PUBLIC_URL", "HYDRA_ADMIN_URL"):
            values[p + key] = f"http://127.0.0.1:4455/{tenant}"
        values[p + "KRATOS_ADMIN_TOKEN"] = values[p + "HYDRA_ADMIN_TOKEN"] = f"token-{tenant}"
        values[p + "KETO_READ_URL"] = f"http://127.0.0.1:4455/{tenant}"
    values.update(overrides)
    return {k: v for k, v in values.items() if v != ""}


def make_settings(**overrides: str) -> Settings:
    return load_settings(env(**overrides))


def seed_policies(settings: Settings | None = None) -> PolicySet:
    return load_policies(SEED_DIR, settings or make_settings())


def write_policies(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return directory


def make_route(
    pattern: str,
    methods: tuple[str, ...] = ("GET",),
    *,
    tenant: str = "customer",
    id: str = "r",
    allow: tuple[Requirement, ...] = (Requirement("human"),),
    anonymous: bool = False,
    target: Forward | Builtin | None = None,
    labels: str = "headers",
) -> Route:
    return Route(
        id=f"{tenant}:{id}",
        tenant=tenant,
        pattern=parse_pattern(pattern),
        methods=frozenset(methods),
        allow=allow,
        anonymous=anonymous,
        target=target or Forward("jobs"),
        labels=labels,
        source=f"test.yaml:{id}",
    )


def principal(
    kind: Kind = "human",
    *,
    tenant: str = "customer",
    roles: tuple[str, ...] = (),
    scopes: tuple[str, ...] = (),
    org: str | None = "org-1",
) -> Principal:
    return Principal(
        kind=kind,
        tenant=tenant,
        subject=f"{kind}-1",
        organization=org,
        roles=frozenset(roles),
        scopes=frozenset(scopes),
    )
