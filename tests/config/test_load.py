"""Configuration from the environment: frozen values, every problem at once, one line each."""

from __future__ import annotations

import pytest

from gateway.config.problems import ConfigError
from gateway.config.settings import canonical_host
from gateway.config.view import redacted
from gateway.endpoints.registry import ENDPOINTS
from gateway.load import load_settings

BASE = {
    "GATEWAY_TENANTS": "customer,dealer",
    "GATEWAY_DEFAULT_TENANT": "customer",
    "GATEWAY_TENANT_CUSTOMER_MODE": "self-hosted",
    "GATEWAY_TENANT_CUSTOMER_KRATOS_PUBLIC_URL": "http://kratos:4433",
    "GATEWAY_TENANT_CUSTOMER_KRATOS_ADMIN_URL": "http://kratos:4434",
    "GATEWAY_TENANT_CUSTOMER_KRATOS_ADMIN_TOKEN": "kratos-admin-secret",
    "GATEWAY_TENANT_DEALER_MODE": "cloud",
    "GATEWAY_TENANT_DEALER_PROJECT_SLUG": "happy-dealer-42",
    "GATEWAY_TENANT_DEALER_API_KEY": "ory_pat_dealer_key_1234",
}


def problems(env: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    return caught.value.problems


def test_cloud_mode_derives_every_url_from_the_slug() -> None:
    dealer = load_settings(BASE).tenants["dealer"]
    base = "https://happy-dealer-42.projects.oryapis.com"
    assert (dealer.kratos_public_url, dealer.kratos_admin_url) == (base, base)
    assert (dealer.hydra_public_url, dealer.hydra_admin_url) == (base, base)
    assert dealer.kratos_admin_token == dealer.hydra_admin_token == "ory_pat_dealer_key_1234"
    assert dealer.session_cookie_name == "ory_session_happydealer42"
    assert dealer.hydra_issuer == base


def test_cloud_mode_urls_can_be_overridden() -> None:
    env = {**BASE, "GATEWAY_TENANT_DEALER_KRATOS_PUBLIC_URL": "http://127.0.0.1:4455/dealer/"}
    dealer = load_settings(env).tenants["dealer"]
    assert dealer.kratos_public_url == "http://127.0.0.1:4455/dealer"
    assert dealer.hydra_public_url == "https://happy-dealer-42.projects.oryapis.com"


def test_self_hosted_defaults() -> None:
    customer = load_settings(BASE).tenants["customer"]
    assert customer.session_cookie_name == "ory_kratos_session"
    assert customer.transport == "cookie-or-bearer"
    assert customer.hydra_admin_url is None and not customer.accepts_machines


def test_every_problem_is_reported_once_naming_its_variable() -> None:
    env = {
        **BASE,
        "GATEWAY_TENANTS": "customer,dealer,ghost",
        "GATEWAY_TENANT_CUSTOMER_KRATOS_ADMIN_TOKEN": "",
        "GATEWAY_TENANT_CUSTOMER_TRANSPORT": "carrier-pigeon",
        "GATEWAY_TENANT_CUSTOMER_HYDRA_PUBLIC_URL": "ftp://nope",
        "GATEWAY_TENANT_CUSTOMER_HOSTS": "api.example.com",
        "GATEWAY_TENANT_DEALER_HOSTS": "API.example.com.:443",
        "GATEWAY_TRUSTED_PROXIES": "10.0.0.0/8,not-a-cidr",
        "GATEWAY_UPSTREAM_JOBS_URL": "jobs:3000",
        "GATEWAY_TENANT_CUSTOMR_MODE": "cloud",
        "GATEWAY_LISTNE": "0.0.0.0:80",
    }
    found = problems(env)
    expected = {
        "GATEWAY_TENANT_GHOST_MODE": "tenant is listed but has no settings",
        "GATEWAY_TENANT_CUSTOMER_KRATOS_ADMIN_TOKEN": "missing admin token",
        "GATEWAY_TENANT_CUSTOMER_TRANSPORT": "unknown transport 'carrier-pigeon'",
        "GATEWAY_TENANT_CUSTOMER_HYDRA_PUBLIC_URL": "malformed URL",
        "GATEWAY_TENANT_DEALER_HOSTS": "also claimed by tenant 'customer'",
        "GATEWAY_TRUSTED_PROXIES": "not a CIDR: 'not-a-cidr'",
        "GATEWAY_UPSTREAM_JOBS_URL": "malformed URL",
        "GATEWAY_TENANT_CUSTOMR_MODE": "unknown variable",
        "GATEWAY_LISTNE": "unknown variable",
    }
    for variable, text in expected.items():
        lines = [p for p in found if p.startswith(variable + ":")]
        assert len(lines) == 1 and text in lines[0], (variable, found)
    assert all("\n" not in p for p in found)
    assert len(found) == len(expected)


def test_missing_tenants_and_default() -> None:
    assert problems({}) == ["GATEWAY_TENANTS: required: comma list of tenant names, e.g. customer,admin"]
    env = {k: v for k, v in BASE.items() if k != "GATEWAY_DEFAULT_TENANT"}
    assert problems(env) == ["GATEWAY_DEFAULT_TENANT: required when there is more than one tenant"]


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("Customer", "bad tenant name"),
        ("decisions", "reserved"),
        ("a b", "bad tenant name"),
    ],
)
def test_bad_tenant_names(name: str, problem: str) -> None:
    assert any(problem in p for p in problems({"GATEWAY_TENANTS": name}))


@pytest.mark.parametrize("name", ["healthz", "readyz", "decisions", "metrics"])
def test_a_tenant_cannot_take_the_name_of_a_gateway_endpoint(name: str) -> None:
    assert f"/{name}" in {e.path for e in ENDPOINTS}  # the reserved names come from the endpoints the app serves
    assert problems({"GATEWAY_TENANTS": name}) == [
        f"GATEWAY_TENANTS: tenant name {name!r} is reserved for the gateway's own endpoints"
    ]


def test_symmetric_algorithms_are_refused() -> None:
    env = {**BASE, "GATEWAY_TENANT_DEALER_JWT_ALGORITHMS": "RS256,HS256"}
    assert any(p.startswith("GATEWAY_TENANT_DEALER_JWT_ALGORITHMS:") for p in problems(env))


def test_host_canonicalisation() -> None:
    assert canonical_host("API.Example.COM.:8443") == "api.example.com"
    assert canonical_host("[::1]:8080") == "[::1]"
    settings = load_settings({**BASE, "GATEWAY_TENANT_DEALER_HOSTS": "Dealer.Example.com., partners.example.com"})
    assert settings.tenants["dealer"].hosts == ("dealer.example.com", "partners.example.com")
    assert settings.tenant_for_host("partners.example.com") == "dealer"


def test_redacted_view_hides_every_secret() -> None:
    env = {**BASE, "GATEWAY_TENANT_DEALER_CLIENT_ID": "dealer-gw"}
    env["GATEWAY_TENANT_DEALER_CLIENT_SECRET"] = "s3cr3t-value"
    text = str(redacted(load_settings(env)))
    for secret in ("kratos-admin-secret", "ory_pat_dealer_key_1234", "s3cr3t-value"):
        assert secret not in text
    assert "dealer-gw" in text


def test_the_body_deadline_defaults_to_30_s_bounds_the_whole_request_and_is_shown() -> None:
    settings = load_settings(BASE)
    assert settings.limits.body_timeout == 30.0
    assert redacted(settings)["limits"] == {
        "max_header_bytes": 16384,
        "header_timeout": 10.0,
        "body_timeout": 30.0,
        "max_body_bytes": 1 << 20,
        "max_streams": 1000,
        "max_streams_per_tenant": 500,
        "max_streams_per_principal": 100,
        "auth_failures_per_minute": 60,
        "stream_recheck_seconds": 30.0,
        "sse_heartbeat_seconds": 15.0,
        "shutdown_timeout": 30.0,
    }
    assert load_settings({**BASE, "GATEWAY_BODY_TIMEOUT": "12.5"}).limits.body_timeout == 12.5
    assert problems({**BASE, "GATEWAY_BODY_TIMEOUT": "soon"}) == ["GATEWAY_BODY_TIMEOUT: not a number: 'soon'"]
    assert problems({**BASE, "GATEWAY_BODY_TIMEOUT": "0"})[0].startswith("GATEWAY_BODY_TIMEOUT: out of range")
    assert problems({**BASE, "GATEWAY_BODY_TIMEOUT": "5"}) == [
        "GATEWAY_BODY_TIMEOUT: bounds the whole request, head included: must be >= GATEWAY_HEADER_TIMEOUT"
    ]


def test_the_sse_heartbeat_interval_is_checked_and_zero_turns_it_off() -> None:
    assert load_settings({**BASE, "GATEWAY_SSE_HEARTBEAT_SECONDS": "2.5"}).limits.sse_heartbeat_seconds == 2.5
    assert load_settings({**BASE, "GATEWAY_SSE_HEARTBEAT_SECONDS": "0"}).limits.sse_heartbeat_seconds == 0
    assert problems({**BASE, "GATEWAY_SSE_HEARTBEAT_SECONDS": "often"}) == [
        "GATEWAY_SSE_HEARTBEAT_SECONDS: not a number: 'often'"
    ]
    for bad in ("-1", "3601"):
        assert problems({**BASE, "GATEWAY_SSE_HEARTBEAT_SECONDS": bad}) == [
            f"GATEWAY_SSE_HEARTBEAT_SECONDS: out of range: {bad!r}"
        ]


def test_stream_shares_and_the_credential_budget() -> None:
    """Several tenants: none holds more than half the streams unless told; shares nest."""
    limits = load_settings(BASE | {"GATEWAY_MAX_STREAMS": "40"}).limits
    assert (limits.max_streams, limits.max_streams_per_tenant, limits.max_streams_per_principal) == (40, 20, 20)
    env = BASE | {"GATEWAY_MAX_STREAMS_PER_TENANT": "300", "GATEWAY_MAX_STREAMS_PER_PRINCIPAL": "7"}
    limits = load_settings(env | {"GATEWAY_AUTH_FAILURES_PER_MINUTE": "5"}).limits
    assert (limits.max_streams_per_tenant, limits.max_streams_per_principal, limits.auth_failures_per_minute) == (
        300,
        7,
        5,
    )
    assert problems(BASE | {"GATEWAY_MAX_STREAMS_PER_TENANT": "2000"}) == [
        "GATEWAY_MAX_STREAMS_PER_TENANT: 2000 is more than GATEWAY_MAX_STREAMS (1000)"
    ]
    assert problems(BASE | {"GATEWAY_MAX_STREAMS_PER_PRINCIPAL": "600"}) == [
        "GATEWAY_MAX_STREAMS_PER_PRINCIPAL: 600 is more than a tenant may hold (500)"
    ]
    assert problems(BASE | {"GATEWAY_AUTH_FAILURES_PER_MINUTE": "0"}) == [
        "GATEWAY_AUTH_FAILURES_PER_MINUTE: out of range: '0'"
    ]
    assert problems(BASE | {"GATEWAY_AUTH_FAILURES_PER_MINUTE": "1.5"}) == [
        "GATEWAY_AUTH_FAILURES_PER_MINUTE: out of range: '1.5'"
    ]


def test_each_tenant_has_its_own_ory_pool_settings() -> None:
    settings = load_settings(BASE | {"GATEWAY_TENANT_CUSTOMER_ORY_MAX_CONNECTIONS": "8"})
    customer, dealer = settings.tenants["customer"], settings.tenants["dealer"]
    assert (customer.ory_max_connections, dealer.ory_max_connections) == (8, 64)
    assert customer.ory_queue_timeout == dealer.ory_queue_timeout == 0.25
    assert problems(BASE | {"GATEWAY_TENANT_CUSTOMER_ORY_MAX_CONNECTIONS": "0"}) == [
        "GATEWAY_TENANT_CUSTOMER_ORY_MAX_CONNECTIONS: out of range: '0'"
    ]


def test_memberships_and_ory_permissions_settings() -> None:
    settings = load_settings(
        BASE
        | {
            "GATEWAY_TENANT_CUSTOMER_MEMBERSHIPS": "keto",
            "GATEWAY_TENANT_CUSTOMER_KETO_READ_URL": "http://keto:4466/",
            "GATEWAY_TENANT_CUSTOMER_KETO_WRITE_URL": "http://keto:4467",
            "GATEWAY_TENANT_DEALER_MEMBERSHIPS_PATH": "metadata_public.orgs",
        }
    )
    customer, dealer = settings.tenants["customer"], settings.tenants["dealer"]
    assert (customer.memberships, customer.keto_read_url, customer.keto_write_url, customer.keto_token) == (
        "keto",
        "http://keto:4466",
        "http://keto:4467",
        None,
    )
    base = "https://happy-dealer-42.projects.oryapis.com"  # cloud: the project serves Ory Permissions
    assert (dealer.memberships, dealer.memberships_path) == ("metadata", "metadata_public.orgs")
    assert (dealer.keto_read_url, dealer.keto_write_url, dealer.keto_token) == (base, base, "ory_pat_dealer_key_1234")
    shown = redacted(settings)["tenants"]
    assert isinstance(shown, dict) and shown["dealer"]["keto_token"] == "***1234"
    assert "ory_pat_dealer_key_1234" not in str(shown)


def test_membership_problems_are_one_line_each_naming_the_variable() -> None:
    found = problems(
        BASE
        | {
            "GATEWAY_TENANT_CUSTOMER_MEMBERSHIPS": "keto",
            "GATEWAY_TENANT_DEALER_MEMBERSHIPS": "ldap",
        }
    )
    assert "GATEWAY_TENANT_CUSTOMER_KETO_READ_URL: required when MEMBERSHIPS=keto (Ory Permissions read API)" in found
    assert "GATEWAY_TENANT_DEALER_MEMBERSHIPS: unknown membership source 'ldap' (metadata or keto)" in found
    traits = problems(BASE | {"GATEWAY_TENANT_CUSTOMER_MEMBERSHIPS_PATH": "traits.orgs"})
    assert traits == [
        "GATEWAY_TENANT_CUSTOMER_MEMBERSHIPS_PATH: 'traits.orgs' is user-editable or empty; "
        "use metadata_public (admin-written)"
    ]
    bad_url = problems(BASE | {"GATEWAY_TENANT_CUSTOMER_KETO_READ_URL": "keto:4466"})
    assert bad_url == [
        "GATEWAY_TENANT_CUSTOMER_KETO_READ_URL: malformed URL 'keto:4466' (want http(s)://host[:port][/path])"
    ]
