"""Where a browser may be sent back to after logging in (SECURITY.md: redirects)."""

from __future__ import annotations

import pytest

from gateway.config.load import load_settings
from gateway.front.login import login_url, safe_return_to

HOSTS = ("app.customer.example", "customer.example")


@pytest.mark.parametrize(
    "value",
    [
        "/",
        "/dashboard",
        "/customer/api/durably/runs?x=1",
        "/a/b%20c",
        "https://app.customer.example/after",
        "http://customer.example:8443/x?y=1",
        "https://APP.customer.example./z",
    ],
)
def test_allowed(value: str) -> None:
    assert safe_return_to(value, HOSTS) == value


@pytest.mark.parametrize(
    "value",
    [
        "",
        "//evil.example",
        "//evil.example/x",
        "/\\evil.example",
        "\\\\evil.example",
        "/%2f%2fevil.example",
        "/%2F/evil.example",
        "/%252f%252fevil.example",
        "/%5cevil.example",
        "https://evil.example/",
        "https://customer.example.evil.example/",
        "https://evil-customer.example/",
        "https://app.customer.example@evil.example/",
        "https://evil.example#@app.customer.example",
        "https://evil.example?@app.customer.example",
        "javascript:alert(1)",
        "data:text/html,hi",
        "https:/evil.example",
        "https:evil.example",
        "ftp://app.customer.example/",
        "/\x00x",
        "/x\r\nLocation: https://evil.example",
        "evil.example",
        "app.customer.example/x",
        "/" + "a" * 3000,
    ],
)
def test_refused(value: str) -> None:
    assert safe_return_to(value, HOSTS) is None


def test_login_url_is_kratos_browser_flow_by_default_and_encodes_return_to() -> None:
    settings = load_settings({
        "GATEWAY_TENANTS": "customer",
        "GATEWAY_TENANT_CUSTOMER_MODE": "self-hosted",
        "GATEWAY_TENANT_CUSTOMER_KRATOS_PUBLIC_URL": "https://auth.customer.example",
        "GATEWAY_TENANT_CUSTOMER_HOSTS": "app.customer.example",
    })  # fmt: skip
    tenant = settings.tenants["customer"]
    assert tenant.return_to_hosts == ("app.customer.example",)
    url = login_url(tenant, "https://app.customer.example/a?b=1&c=2")
    assert url == (
        "https://auth.customer.example/self-service/login/browser"
        "?return_to=https%3A%2F%2Fapp.customer.example%2Fa%3Fb%3D1%26c%3D2"
    )
