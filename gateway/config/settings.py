"""The gateway's settings: frozen values, built once by gateway.config.load from the environment.

Every tenant variable is declared in `gateway.config.tenant_fields` (name, reading, default).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Transport = Literal["cookie", "bearer", "cookie-or-bearer"]
TokenFormat = Literal["auto", "introspect", "jwt"]
#: which headers describe the request a bare `/decisions` is about (`gateway.endpoints.forward_auth`)
DecisionsHeaders = Literal["none", "original", "forwarded"]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

TENANT_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
#: the first path segments the gateway serves itself (`gateway.endpoints.registry`): no tenant
#: may be named so, or its prefix would be shadowed (`/_gateway/...` leaves room for more)
RESERVED_TENANT_NAMES = frozenset({"healthz", "readyz", "metrics", "decisions", "_gateway", ".well-known"})
UPSTREAM_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
TRANSPORTS: tuple[Transport, ...] = ("cookie", "bearer", "cookie-or-bearer")
TOKEN_FORMATS: tuple[TokenFormat, ...] = ("auto", "introspect", "jwt")
#: `none`: only `/decisions/<path>`; `original`: nginx auth_request's X-Original-URI/Method;
#: `forwarded`: Traefik's and Caddy's X-Forwarded-Uri/Method
DECISIONS_HEADERS: tuple[DecisionsHeaders, ...] = ("none", "original", "forwarded")
SAFE_JWT_ALGS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"})


@dataclass(frozen=True, slots=True)
class TenantSettings:
    name: str
    mode: Literal["cloud", "self-hosted"]
    project_slug: str | None
    kratos_public_url: str
    kratos_admin_url: str | None
    kratos_admin_token: str | None
    hydra_public_url: str | None
    hydra_admin_url: str | None
    hydra_admin_token: str | None
    transport: Transport
    session_cookie_name: str
    hosts: tuple[str, ...]
    client_id: str | None
    client_secret: str | None
    timeout: float = 2.0
    hydra_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_algorithms: frozenset[str] = frozenset({"RS256"})
    token_format: TokenFormat = "auto"
    org_paths: tuple[str, ...] = ("metadata_public.organization_id", "organization_id")
    roles_path: str = "metadata_public.roles"
    #: where a person's memberships come from: an id of `gateway.orgs.sources.REGISTRY`
    #: (`metadata`: identity metadata; `keto`: Ory Permissions, `Organization:<org>#<role>@<id>`)
    memberships: str = "metadata"
    #: where the list form of the memberships lives in the identity
    memberships_path: str = "metadata_public.memberships"
    #: Ory Permissions (Keto): read API (checks) and write API, and a bearer token if one is wanted
    keto_read_url: str | None = None
    keto_write_url: str | None = None
    keto_token: str | None = None
    #: where browsers without a session are sent (default Kratos' /self-service/login/browser)
    login_url: str | None = None
    #: hosts a `return_to` may point at (default: `hosts`)
    return_to_hosts: tuple[str, ...] = ()
    #: normalised origins whose pages may send the session cookie on state-changing requests
    #: and get CORS answers (`gateway.config.origins`; default: `hosts` as https + the public URL's)
    trusted_origins: tuple[str, ...] = ()
    #: tokenized sessions (`session_jwt`): the tokenizer template's JWKS and the algorithms pinned
    session_jwks_url: str | None = None
    session_jwt_algorithms: frozenset[str] = frozenset({"ES256"})
    #: the OAuth2 clients whose tokens this tenant accepts (empty: every client of its Hydra);
    #: its own `client_id` always is. Required when tenants share a Hydra
    client_ids: frozenset[str] = frozenset()
    #: the identity schemas whose people this tenant accepts (empty: every schema of its Kratos).
    #: Required, and disjoint, when tenants share a Kratos
    identity_schemas: frozenset[str] = frozenset()
    #: the tenant's own Ory connection pool, and the bound on its Ory calls in flight (`gateway.ory.pool`)
    ory_max_connections: int = 64
    #: how long a call may wait for a free slot of that pool before 503 `ory_saturated`
    ory_queue_timeout: float = 0.25

    @property
    def cookie_bytes(self) -> bytes:
        return self.session_cookie_name.encode("latin-1")

    @property
    def env_prefix(self) -> str:
        return tenant_env_prefix(self.name)

    @property
    def accepts_machines(self) -> bool:
        return self.hydra_admin_url is not None or self.hydra_public_url is not None


@dataclass(frozen=True, slots=True)
class Limits:
    max_body_bytes: int = 1 << 20  # bodies the gateway must inspect (labels)
    max_header_bytes: int = 16 << 10
    header_timeout: float = 10.0
    #: the whole request (head and body) must have arrived this many seconds after it began
    body_timeout: float = 30.0
    max_streams: int = 1000
    #: open streams (SSE, streamed runs, WebSockets) of one tenant, and of one principal
    max_streams_per_tenant: int = 1000
    max_streams_per_principal: int = 100
    #: unknown credentials one client address may have looked up at one tenant's Ory a minute
    auth_failures_per_minute: int = 60
    stream_recheck_seconds: float = 30.0
    #: an SSE comment sent on a quiet label-enforced stream this often (0: none; `gateway.forward.keepalive`)
    sse_heartbeat_seconds: float = 15.0
    token_rate_per_minute: int = 60
    #: seconds uvicorn waits for in-flight requests after SIGTERM before cancelling them
    shutdown_timeout: float = 30.0


@dataclass(frozen=True, slots=True)
class TracingSettings:
    """W3C trace context and OTLP export (`gateway.config.tracing` reads the OTEL_* variables)."""

    #: the OTLP/HTTP traces URL; None: export off (trace context is still propagated)
    endpoint: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    #: seconds per export request
    timeout: float = 10.0
    compression: Literal["none", "gzip"] = "none"
    certificate: str | None = None
    client_certificate: str | None = None
    client_key: str | None = None
    service_name: str = "ory-gateway"
    resource: tuple[tuple[str, str], ...] = ()
    sampler: str = "parentbased_always_on"
    ratio: float = 1.0
    #: the batch span processor: seconds between exports, queue bound, batch size, seconds per export
    schedule_delay: float = 5.0
    max_queue: int = 2048
    max_batch: int = 512
    export_timeout: float = 30.0
    #: whose traceparent is continued: `anyone` (the default) or `proxies` (GATEWAY_TRUSTED_PROXIES)
    trust: Literal["anyone", "proxies"] = "anyone"


@dataclass(frozen=True, slots=True)
class CacheSettings:
    max_ttl: float = 60.0
    negative_ttl: float = 5.0
    size: int = 100_000


@dataclass(frozen=True, slots=True)
class Settings:
    tenants: Mapping[str, TenantSettings]
    default_tenant: str | None
    policies_dir: Path
    listen_host: str
    listen_port: int
    trusted_proxies: tuple[Network, ...]
    upstreams: Mapping[str, str]
    redis_url: str | None = None
    metrics_listen: tuple[str, int] | None = None
    public_url: str = "http://127.0.0.1:8080"
    assertion_keys_dir: Path | None = None
    #: bearer token for POST /_gateway/revoke (the endpoint is 404 without it)
    admin_token: str | None = None
    log_level: str = "INFO"
    #: the headers that describe a bare `/decisions` request (from GATEWAY_TRUSTED_PROXIES only)
    decisions_headers: DecisionsHeaders = "none"
    #: seconds nginx in edge mode may reuse a `/decisions` answer (`X-Accel-Expires`; 0: never)
    edge_cache_ttl: int = 2
    cache: CacheSettings = field(default_factory=CacheSettings)
    limits: Limits = field(default_factory=Limits)
    tracing: TracingSettings = field(default_factory=TracingSettings)

    #: canonical host -> tenant, built once
    host_index: Mapping[str, str] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        index = {host: t.name for t in self.tenants.values() for host in t.hosts}
        object.__setattr__(self, "host_index", index)

    def tenant_for_host(self, host: str) -> str | None:
        return self.host_index.get(host)


def tenant_env_prefix(name: str) -> str:
    return f"GATEWAY_TENANT_{name.upper().replace('-', '_')}_"


def parse_listen(raw: str) -> tuple[str, int] | None:
    match = re.fullmatch(r"\[?([^\[\]]+?)\]?:(\d{1,5})", raw.strip())
    if not match or not 0 < int(match.group(2)) < 65536:
        return None
    return match.group(1), int(match.group(2))


def canonical_host(host: str) -> str:
    """Lower case, no port, no trailing dot: the form host routing compares."""
    host = host.strip().lower()
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")
