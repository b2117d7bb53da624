"""Origins (gateway.config.origins): one normal form, exact comparison, and each tenant's
trusted origins from GATEWAY_TENANT_<T>_TRUSTED_ORIGINS (a bad entry is one problem line)."""

from __future__ import annotations

import pytest

from gateway.config.origins import normalise_origin, origin_of_url
from gateway.config.problems import ConfigError
from tests.support.builders import make_settings

VARIABLE = "GATEWAY_TENANT_CUSTOMER_TRUSTED_ORIGINS"


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("https://app.example.com", "https://app.example.com"),
        ("HTTPS://App.Example.COM", "https://app.example.com"),
        ("https://app.example.com:443", "https://app.example.com"),
        ("http://app.example.com:80", "http://app.example.com"),
        ("https://app.example.com:0443", "https://app.example.com"),
        ("http://app.example.com:443", "http://app.example.com:443"),
        ("https://app.example.com:80", "https://app.example.com:80"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://localhost:08080", "http://localhost:8080"),
        ("http://[::1]:3000", "http://[::1]:3000"),
    ],
)
def test_normal_form(text: str, normal: str) -> None:
    assert normalise_origin(text) == normal


@pytest.mark.parametrize(
    "text",
    [
        "null",
        "",
        "*",
        "https://*.example.com",
        "https://app.example.com/",
        "https://app.example.com/path",
        "https://app.example.com?x=1",
        "https://app.example.com#x",
        "https://user@app.example.com",
        "https://user:pw@app.example.com",
        "ftp://app.example.com",
        "file://",
        "javascript://app.example.com",
        "app.example.com",
        "//app.example.com",
        "https://",
        "https://app.example.com:",
        "https://app.example.com:99999",
        "https://app.example.com:0",
        "https://app.example.com.",
        "https://.example.com",
        "https://app..example.com",
        "https://app.example.com ",
        " https://app.example.com",
        "https://app.example.com,https://b.example.com",
        "https://app.exa mple.com",
    ],
)
def test_not_an_origin(text: str) -> None:
    assert normalise_origin(text) is None


def test_origin_of_url() -> None:
    assert origin_of_url("https://gw.example.com:443/base/path") == "https://gw.example.com"
    assert origin_of_url("http://127.0.0.1:8080") == "http://127.0.0.1:8080"
    assert origin_of_url("not a url") is None


def test_default_is_hosts_as_https_plus_the_public_url() -> None:
    settings = make_settings(
        GATEWAY_TENANT_CUSTOMER_HOSTS="app.customer.example, Customer.Example",
        GATEWAY_PUBLIC_URL="https://gw.example.com/",
    )
    assert settings.tenants["customer"].trusted_origins == (
        "https://app.customer.example",
        "https://customer.example",
        "https://gw.example.com",
    )
    assert settings.tenants["dealer"].trusted_origins == ("https://gw.example.com",)


def test_default_public_url_is_the_listen_address() -> None:
    settings = make_settings(GATEWAY_LISTEN="127.0.0.1:9123")
    assert settings.tenants["customer"].trusted_origins == ("http://127.0.0.1:9123",)


def test_explicit_list_replaces_the_default_normalised_and_deduplicated() -> None:
    settings = make_settings(
        GATEWAY_TENANT_CUSTOMER_HOSTS="customer.example",
        **{VARIABLE: "https://App.Example.com:443, http://localhost:3000,https://app.example.com"},
    )
    assert settings.tenants["customer"].trusted_origins == ("https://app.example.com", "http://localhost:3000")


def test_every_malformed_origin_is_one_line_naming_the_variable() -> None:
    with pytest.raises(ConfigError) as caught:
        make_settings(**{VARIABLE: "null, https://ok.example, https://*.example.com, https://a.example/, ftp://x"})
    problems = caught.value.problems
    assert len(problems) == 4, problems
    assert all(p.startswith(VARIABLE + ": not an origin: ") for p in problems)
    assert {p.split("'")[1] for p in problems} == {"null", "https://*.example.com", "https://a.example/", "ftp://x"}


def test_an_unknown_tenant_variable_is_still_refused() -> None:
    with pytest.raises(ConfigError) as caught:
        make_settings(GATEWAY_TENANT_CUSTOMER_TRUSTED_ORIGIN="https://a.example")
    assert any("GATEWAY_TENANT_CUSTOMER_TRUSTED_ORIGIN:" in p for p in caught.value.problems)
