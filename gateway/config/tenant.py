"""One tenant's settings from its `GATEWAY_TENANT_<T>_*` variables (cloud or self-hosted)."""

from __future__ import annotations

import re
from typing import Literal

from gateway.config.env import EnvReader
from gateway.config.settings import (
    MEMBERSHIP_SOURCES,
    SAFE_JWT_ALGS,
    TOKEN_FORMATS,
    TRANSPORTS,
    TenantSettings,
    canonical_host,
    tenant_env_prefix,
)
from gateway.orgs.sources import membership_problems


def tenant_settings(r: EnvReader, name: str) -> TenantSettings | None:
    """The tenant's settings, or None when they are too broken to build (problems recorded)."""
    p = tenant_env_prefix(name)
    mode = r.get(p + "MODE")
    if mode is None:
        present = any(k.startswith(p) for k in r.env)
        why = "is required (cloud or self-hosted)" if present else "tenant is listed but has no settings"
        r.problem(p + "MODE", why)
        return None
    if mode not in ("cloud", "self-hosted"):
        r.problem(p + "MODE", f"unknown mode {mode!r} (cloud or self-hosted)")
        return None
    return _cloud(r, name, p) if mode == "cloud" else _self_hosted(r, name, p)


def _cloud(r: EnvReader, name: str, p: str) -> TenantSettings | None:
    slug = r.get(p + "PROJECT_SLUG")
    key = r.get(p + "API_KEY")
    if slug is None or not re.fullmatch(r"[a-z0-9][a-z0-9-]*", slug):
        r.problem(p + "PROJECT_SLUG", "required in cloud mode (the Ory Network project slug)")
        return None
    if key is None:
        r.problem(p + "API_KEY", "required in cloud mode (the project API key, ory_pat_...)")
    base = f"https://{slug}.projects.oryapis.com"
    return _finish(
        r,
        name,
        p,
        "cloud",
        slug,
        kratos=(
            r.url(p + "KRATOS_PUBLIC_URL", base),
            r.url(p + "KRATOS_ADMIN_URL", base),
            r.get(p + "KRATOS_ADMIN_TOKEN", key),
        ),
        hydra=(
            r.url(p + "HYDRA_PUBLIC_URL", base),
            r.url(p + "HYDRA_ADMIN_URL", base),
            r.get(p + "HYDRA_ADMIN_TOKEN", key),
        ),
        cookie=f"ory_session_{slug.replace('-', '')}",
        keto=(r.url(p + "KETO_READ_URL", base), r.url(p + "KETO_WRITE_URL", base), r.get(p + "KETO_TOKEN", key)),
    )


def _self_hosted(r: EnvReader, name: str, p: str) -> TenantSettings | None:
    public = r.url(p + "KRATOS_PUBLIC_URL")
    if public is None and r.get(p + "KRATOS_PUBLIC_URL") is None:
        r.problem(p + "KRATOS_PUBLIC_URL", "required in self-hosted mode")
    return _finish(
        r,
        name,
        p,
        "self-hosted",
        None,
        kratos=(public, r.url(p + "KRATOS_ADMIN_URL"), r.get(p + "KRATOS_ADMIN_TOKEN")),
        hydra=(r.url(p + "HYDRA_PUBLIC_URL"), r.url(p + "HYDRA_ADMIN_URL"), r.get(p + "HYDRA_ADMIN_TOKEN")),
        cookie="ory_kratos_session",
        keto=(r.url(p + "KETO_READ_URL"), r.url(p + "KETO_WRITE_URL"), r.get(p + "KETO_TOKEN")),
    )


def _finish(
    r: EnvReader,
    name: str,
    p: str,
    mode: Literal["cloud", "self-hosted"],
    slug: str | None,
    *,
    kratos: tuple[str | None, str | None, str | None],
    hydra: tuple[str | None, str | None, str | None],
    cookie: str,
    keto: tuple[str | None, str | None, str | None],
) -> TenantSettings | None:
    for service, (_, admin, token) in (("KRATOS", kratos), ("HYDRA", hydra)):
        if admin is not None and token is None:
            r.problem(p + f"{service}_ADMIN_TOKEN", f"missing admin token for {p}{service}_ADMIN_URL")
    transport = r.get(p + "TRANSPORT", "cookie-or-bearer")
    if transport not in TRANSPORTS:
        r.problem(p + "TRANSPORT", f"unknown transport {transport!r} (cookie, bearer or cookie-or-bearer)")
    token_format = r.get(p + "TOKEN_FORMAT", "auto")
    if token_format not in TOKEN_FORMATS:
        r.problem(p + "TOKEN_FORMAT", f"unknown token format {token_format!r} (auto, introspect or jwt)")
    algs = frozenset((r.get(p + "JWT_ALGORITHMS", "RS256") or "").replace(",", " ").split())
    if not algs or not algs <= SAFE_JWT_ALGS:
        r.problem(p + "JWT_ALGORITHMS", f"only asymmetric algorithms are allowed: {sorted(SAFE_JWT_ALGS)}")
    cookie_name = r.get(p + "SESSION_COOKIE_NAME", cookie) or cookie
    if not re.fullmatch(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+", cookie_name):
        r.problem(p + "SESSION_COOKIE_NAME", f"not a valid cookie name: {cookie_name!r}")
    client_id, client_secret = r.get(p + "CLIENT_ID"), r.get(p + "CLIENT_SECRET")
    if (client_id is None) != (client_secret is None):
        r.problem(p + "CLIENT_SECRET" if client_secret is None else p + "CLIENT_ID", "set both or neither")
    if kratos[0] is None:
        return None
    hosts = _hosts(r, p + "HOSTS")
    memberships = r.get(p + "MEMBERSHIPS", "metadata")
    if memberships not in MEMBERSHIP_SOURCES:
        r.problem(p + "MEMBERSHIPS", f"unknown membership source {memberships!r} (metadata or keto)")
    settings = TenantSettings(
        name=name,
        mode=mode,
        project_slug=slug,
        kratos_public_url=kratos[0],
        kratos_admin_url=kratos[1],
        kratos_admin_token=kratos[2],
        hydra_public_url=hydra[0],
        hydra_admin_url=hydra[1],
        hydra_admin_token=hydra[2],
        transport=transport if transport in TRANSPORTS else "cookie-or-bearer",
        session_cookie_name=cookie_name,
        hosts=hosts,
        login_url=r.url(p + "LOGIN_URL"),
        return_to_hosts=_hosts(r, p + "RETURN_TO_HOSTS") or hosts,
        client_id=client_id,
        client_secret=client_secret,
        timeout=r.number(p + "TIMEOUT", 2.0),
        hydra_issuer=r.get(p + "HYDRA_ISSUER", hydra[0]),
        jwt_audience=r.get(p + "JWT_AUDIENCE"),
        jwt_algorithms=algs,
        token_format=token_format if token_format in TOKEN_FORMATS else "auto",
        org_paths=tuple((r.get(p + "ORG_PATHS") or "metadata_public.organization_id,organization_id").split(",")),
        roles_path=r.get(p + "ROLES_PATH", "metadata_public.roles") or "metadata_public.roles",
        memberships="keto" if memberships == "keto" else "metadata",
        memberships_path=r.get(p + "MEMBERSHIPS_PATH", "metadata_public.memberships") or "metadata_public.memberships",
        keto_read_url=keto[0],
        keto_write_url=keto[1],
        keto_token=keto[2],
    )
    for variable, problem in membership_problems(settings):
        r.problem(p + variable, problem)
    return settings


def _hosts(r: EnvReader, name: str) -> tuple[str, ...]:
    hosts: list[str] = []
    for raw in (r.get(name) or "").split(","):
        if not raw.strip():
            continue
        host = canonical_host(raw)
        if not re.fullmatch(r"[a-z0-9.-]+|\[[0-9a-f:.]+\]", host):
            r.problem(name, f"not a host name: {raw.strip()!r}")
        hosts.append(host)
    return tuple(hosts)
