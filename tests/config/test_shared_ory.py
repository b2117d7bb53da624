"""Tenants on one Ory project: refused unless told apart, and reported by `gateway check`."""

from __future__ import annotations

import pytest

from gateway.config.problems import ConfigError
from gateway.config.view import redacted
from gateway.load import load_settings

KRATOS = "http://kratos:4433"
HYDRA = "http://hydra:4444"


def env(**extra: str) -> dict[str, str]:
    base = {"GATEWAY_TENANTS": "customer,admin", "GATEWAY_DEFAULT_TENANT": "customer"}
    for tenant in ("CUSTOMER", "ADMIN"):
        p = f"GATEWAY_TENANT_{tenant}_"
        base |= {p + "MODE": "self-hosted", p + "KRATOS_PUBLIC_URL": KRATOS, p + "HYDRA_PUBLIC_URL": HYDRA}
    return base | {f"GATEWAY_TENANT_{k}": v for k, v in extra.items()}


def problems(variables: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_settings(variables)
    return caught.value.problems


def test_a_shared_kratos_and_hydra_are_refused_until_the_tenants_are_told_apart() -> None:
    assert sorted(problems(env())) == [
        f"GATEWAY_TENANT_ADMIN_CLIENT_IDS: tenant shares Hydra {HYDRA} with customer: "
        "list the OAuth2 clients it accepts",
        f"GATEWAY_TENANT_ADMIN_IDENTITY_SCHEMAS: tenant shares Kratos {KRATOS} with customer: "
        "list the identity schemas of its people it accepts",
        f"GATEWAY_TENANT_CUSTOMER_CLIENT_IDS: tenant shares Hydra {HYDRA} with admin: "
        "list the OAuth2 clients it accepts",
        f"GATEWAY_TENANT_CUSTOMER_IDENTITY_SCHEMAS: tenant shares Kratos {KRATOS} with admin: "
        "list the identity schemas of its people it accepts",
    ]


def test_the_same_project_however_spelt() -> None:
    spelt = env(ADMIN_KRATOS_PUBLIC_URL="http://KRATOS:4433/", ADMIN_HYDRA_PUBLIC_URL="http://other-hydra:4444")
    assert [p.split(":")[0] for p in problems(spelt)] == [
        "GATEWAY_TENANT_ADMIN_IDENTITY_SCHEMAS",
        "GATEWAY_TENANT_CUSTOMER_IDENTITY_SCHEMAS",
    ]


def test_one_schema_for_two_tenants_is_refused() -> None:
    both = env(
        CUSTOMER_IDENTITY_SCHEMAS="customer,shared",
        ADMIN_IDENTITY_SCHEMAS="staff,shared",
        CUSTOMER_CLIENT_IDS="partner-a",
        ADMIN_CLIENT_IDS="ops",
    )
    assert problems(both) == [
        "GATEWAY_TENANT_CUSTOMER_IDENTITY_SCHEMAS: schema shared is also admin's: a person would belong to both"
    ]


def test_told_apart_the_sharing_is_reported_by_check() -> None:
    settings = load_settings(
        env(
            CUSTOMER_IDENTITY_SCHEMAS="customer",
            ADMIN_IDENTITY_SCHEMAS="staff",
            CUSTOMER_CLIENT_IDS="partner-a, partner-b",
            ADMIN_CLIENT_IDS="ops",
        )
    )
    assert settings.tenants["customer"].client_ids == frozenset({"partner-a", "partner-b"})
    assert redacted(settings)["shared_ory"] == [
        f"admin, customer share Kratos {KRATOS}, told apart by identity schema (admin: staff; customer: customer)",
        f"admin, customer share Hydra {HYDRA}, told apart by OAuth2 client "
        "(admin: ops; customer: partner-a, partner-b)",
    ]


def test_tenants_on_their_own_projects_share_nothing() -> None:
    apart = env(ADMIN_KRATOS_PUBLIC_URL="http://kratos-admin:4433", ADMIN_HYDRA_PUBLIC_URL="http://hydra-admin:4444")
    assert redacted(load_settings(apart))["shared_ory"] == []
