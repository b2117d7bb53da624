"""Tenant resolution: host first (canonicalised), then path prefix on a segment boundary, then default."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gateway.errors import NotFound
from gateway.front.tenants import TenantMatch, resolve_tenant
from tests.support.builders import make_settings

HOSTS = {"GATEWAY_TENANT_DEALER_HOSTS": "partners.example.com,dealer.example.org"}


@pytest.mark.parametrize(
    ("path", "host", "expected"),
    [
        ("/customer/api/durably/runs", None, TenantMatch("customer", "/api/durably/runs", "prefix")),
        ("/admin/customers/1", "gateway.local", TenantMatch("admin", "/customers/1", "prefix")),
        ("/dealer", None, TenantMatch("dealer", "/", "prefix")),
        ("/dealer/", None, TenantMatch("dealer", "/", "prefix")),
        ("/customerx/api", None, TenantMatch("customer", "/customerx/api", "default")),
        ("/Customer/api", None, TenantMatch("customer", "/Customer/api", "default")),
        ("/api/durably/runs", None, TenantMatch("customer", "/api/durably/runs", "default")),
        ("/", None, TenantMatch("customer", "/", "default")),
        ("/x", "partners.example.com", TenantMatch("dealer", "/x", "host")),
        ("/x", "PARTNERS.Example.COM", TenantMatch("dealer", "/x", "host")),
        ("/x", "partners.example.com.", TenantMatch("dealer", "/x", "host")),
        ("/x", "partners.example.com:8443", TenantMatch("dealer", "/x", "host")),
        ("/x", "Dealer.Example.Org.:443", TenantMatch("dealer", "/x", "host")),
        # a host-routed tenant is served at the root: another tenant's prefix stays inside it
        ("/admin/customers/1", "partners.example.com", TenantMatch("dealer", "/admin/customers/1", "host")),
        ("/x", "partners.example.com.evil.net", TenantMatch("customer", "/x", "default")),
        ("/x", "evil-partners.example.com", TenantMatch("customer", "/x", "default")),
    ],
)
def test_resolution_order(path: str, host: str | None, expected: TenantMatch) -> None:
    assert resolve_tenant(make_settings(**HOSTS), path, host) == expected


def test_prefix_property() -> None:
    assert TenantMatch("customer", "/a", "prefix").prefix == "/customer"
    assert TenantMatch("customer", "/a", "host").prefix == ""
    assert TenantMatch("customer", "/a", "default").prefix == ""


def test_unknown_path_without_default_is_not_found() -> None:
    # load_settings insists on a default for several tenants; a single-tenant setup may lack one
    no_default = replace(make_settings(), default_tenant=None)
    with pytest.raises(NotFound):
        resolve_tenant(no_default, "/elsewhere/x", None)
    assert resolve_tenant(no_default, "/admin", None).tenant == "admin"
