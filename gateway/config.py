"""Settings from the environment, validated once into frozen values.

Nothing else in the gateway reads ``os.environ``: `load_settings(env)` is the only
door, and it reports every problem at once (one line each, naming the variable).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from gateway.errors import ConfigError

Transport = Literal["cookie", "bearer", "cookie-or-bearer"]
TokenFormat = Literal["auto", "introspect", "jwt"]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

TENANT_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
#: first path segments the gateway serves itself, before tenant routing
RESERVED_NAMES = frozenset({"decisions", "healthz", "readyz", "metrics", "_gateway"})
UPSTREAM_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
TRANSPORTS: tuple[Transport, ...] = ("cookie", "bearer", "cookie-or-bearer")
TOKEN_FORMATS: tuple[TokenFormat, ...] = ("auto", "introspect", "jwt")
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
    max_streams: int = 1000
    stream_recheck_seconds: float = 30.0
    token_rate_per_minute: int = 60
    #: seconds uvicorn waits for in-flight requests after SIGTERM before cancelling them
    shutdown_timeout: float = 30.0


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
    cache: CacheSettings = field(default_factory=CacheSettings)
    limits: Limits = field(default_factory=Limits)

    def tenant_for_host(self, host: str) -> str | None:
        for tenant in self.tenants.values():
            if host in tenant.hosts:
                return tenant.name
        return None


def tenant_env_prefix(name: str) -> str:
    return f"GATEWAY_TENANT_{name.upper().replace('-', '_')}_"


TENANT_KEYS = frozenset(
    {
        "MODE", "PROJECT_SLUG", "API_KEY", "KRATOS_PUBLIC_URL", "KRATOS_ADMIN_URL", "KRATOS_ADMIN_TOKEN",
        "HYDRA_PUBLIC_URL", "HYDRA_ADMIN_URL", "HYDRA_ADMIN_TOKEN", "TRANSPORT", "SESSION_COOKIE_NAME",
        "HOSTS", "CLIENT_ID", "CLIENT_SECRET", "TIMEOUT", "HYDRA_ISSUER", "JWT_AUDIENCE", "JWT_ALGORITHMS",
        "TOKEN_FORMAT", "ORG_PATHS", "ROLES_PATH",
    }
)  # fmt: skip
GLOBAL_KEYS = frozenset(
    {
        "GATEWAY_TENANTS", "GATEWAY_DEFAULT_TENANT", "GATEWAY_POLICIES_DIR", "GATEWAY_LISTEN",
        "GATEWAY_TRUSTED_PROXIES", "GATEWAY_REDIS_URL", "GATEWAY_METRICS_LISTEN", "GATEWAY_PUBLIC_URL",
        "GATEWAY_CACHE_MAX_TTL", "GATEWAY_CACHE_NEGATIVE_TTL", "GATEWAY_CACHE_SIZE", "GATEWAY_MAX_BODY_BYTES",
        "GATEWAY_MAX_HEADER_BYTES", "GATEWAY_HEADER_TIMEOUT", "GATEWAY_MAX_STREAMS",
        "GATEWAY_STREAM_RECHECK_SECONDS", "GATEWAY_TOKEN_RATE_PER_MINUTE", "GATEWAY_ASSERTION_KEYS_DIR",
        "GATEWAY_ADMIN_TOKEN", "GATEWAY_SHUTDOWN_TIMEOUT", "GATEWAY_LOG_LEVEL",
    }
)  # fmt: skip


class _Reader:
    """Reads variables, collecting problems instead of raising on the first."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []

    def get(self, name: str, default: str | None = None) -> str | None:
        value = self.env.get(name)
        if value is None or value.strip() == "":
            return default
        return value.strip()

    def problem(self, name: str, message: str) -> None:
        self.problems.append(f"{name}: {message}")

    def url(self, name: str, default: str | None = None) -> str | None:
        value = self.get(name, default)
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            self.problem(name, f"malformed URL {value!r} (want http(s)://host[:port][/path])")
            return None
        if parts.query or parts.fragment or parts.username:
            self.problem(name, f"URL {value!r} must not carry credentials, a query or a fragment")
            return None
        return value.rstrip("/")

    def number(self, name: str, default: float, check: Callable[[float], bool] = lambda v: v > 0) -> float:
        raw = self.get(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            self.problem(name, f"not a number: {raw!r}")
            return default
        if not check(value):
            self.problem(name, f"out of range: {raw!r}")
        return value

    def listen(self, name: str, default: str | None) -> tuple[str, int] | None:
        raw = self.get(name, default)
        if raw is None:
            return None
        parsed = parse_listen(raw)
        if parsed is None:
            self.problem(name, f"want host:port, got {raw!r}")
        return parsed


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


def load_settings(env: Mapping[str, str]) -> Settings:
    """Build `Settings` from `env`, or raise `ConfigError` listing every problem."""
    r = _Reader(env)
    names = _tenant_names(r)
    tenants = {name: _tenant(r, name) for name in names}
    _check_unknown_variables(r, names)
    _check_hosts(r, tenants)
    default = r.get("GATEWAY_DEFAULT_TENANT")
    if default is not None and default not in names:
        r.problem("GATEWAY_DEFAULT_TENANT", f"{default!r} is not in GATEWAY_TENANTS")
    if default is None and len(names) == 1:
        default = names[0]
    listen = r.listen("GATEWAY_LISTEN", "127.0.0.1:8080") or ("127.0.0.1", 8080)
    settings = Settings(
        tenants={n: t for n, t in tenants.items() if t is not None},
        default_tenant=default,
        policies_dir=Path(r.get("GATEWAY_POLICIES_DIR", "policies") or "policies"),
        listen_host=listen[0],
        listen_port=listen[1],
        trusted_proxies=_networks(r),
        upstreams=_upstreams(r),
        redis_url=_redis_url(r),
        metrics_listen=r.listen("GATEWAY_METRICS_LISTEN", None),
        public_url=r.url("GATEWAY_PUBLIC_URL") or f"http://{listen[0]}:{listen[1]}",
        assertion_keys_dir=_directory(r, "GATEWAY_ASSERTION_KEYS_DIR"),
        admin_token=_admin_token(r),
        log_level=_log_level(r),
        cache=CacheSettings(
            max_ttl=r.number("GATEWAY_CACHE_MAX_TTL", 60.0),
            negative_ttl=r.number("GATEWAY_CACHE_NEGATIVE_TTL", 5.0, lambda v: v >= 0),
            size=int(r.number("GATEWAY_CACHE_SIZE", 100_000)),
        ),
        limits=Limits(
            max_body_bytes=int(r.number("GATEWAY_MAX_BODY_BYTES", 1 << 20)),
            max_header_bytes=int(r.number("GATEWAY_MAX_HEADER_BYTES", 16 << 10)),
            header_timeout=r.number("GATEWAY_HEADER_TIMEOUT", 10.0),
            max_streams=int(r.number("GATEWAY_MAX_STREAMS", 1000)),
            stream_recheck_seconds=r.number("GATEWAY_STREAM_RECHECK_SECONDS", 30.0),
            token_rate_per_minute=int(r.number("GATEWAY_TOKEN_RATE_PER_MINUTE", 60)),
            shutdown_timeout=r.number("GATEWAY_SHUTDOWN_TIMEOUT", 30.0),
        ),
    )
    if len(settings.tenants) > 1 and settings.default_tenant is None:
        r.problem("GATEWAY_DEFAULT_TENANT", "required when there is more than one tenant")
    if r.problems:
        raise ConfigError(r.problems)
    return settings


def _tenant_names(r: _Reader) -> list[str]:
    raw = r.get("GATEWAY_TENANTS")
    if raw is None:
        r.problem("GATEWAY_TENANTS", "required: comma list of tenant names, e.g. customer,admin")
        return []
    names: list[str] = []
    for name in (n.strip() for n in raw.split(",")):
        if not TENANT_NAME.match(name):
            r.problem("GATEWAY_TENANTS", f"bad tenant name {name!r} (lower-case letters, digits, '-')")
        elif name in RESERVED_NAMES:
            r.problem("GATEWAY_TENANTS", f"tenant name {name!r} is reserved for the gateway's own endpoints")
        elif name in names:
            r.problem("GATEWAY_TENANTS", f"tenant {name!r} listed twice")
        else:
            names.append(name)
    return names


def _tenant(r: _Reader, name: str) -> TenantSettings | None:
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


def _cloud(r: _Reader, name: str, p: str) -> TenantSettings | None:
    slug = r.get(p + "PROJECT_SLUG")
    key = r.get(p + "API_KEY")
    if slug is None or not re.fullmatch(r"[a-z0-9][a-z0-9-]*", slug):
        r.problem(p + "PROJECT_SLUG", "required in cloud mode (the Ory Network project slug)")
        return None
    if key is None:
        r.problem(p + "API_KEY", "required in cloud mode (the project API key, ory_pat_...)")
    base = f"https://{slug}.projects.oryapis.com"
    return _finish(
        r, name, p, "cloud", slug,
        kratos=(r.url(p + "KRATOS_PUBLIC_URL", base), r.url(p + "KRATOS_ADMIN_URL", base),
                r.get(p + "KRATOS_ADMIN_TOKEN", key)),
        hydra=(r.url(p + "HYDRA_PUBLIC_URL", base), r.url(p + "HYDRA_ADMIN_URL", base),
               r.get(p + "HYDRA_ADMIN_TOKEN", key)),
        cookie=f"ory_session_{slug.replace('-', '')}",
    )  # fmt: skip


def _self_hosted(r: _Reader, name: str, p: str) -> TenantSettings | None:
    public = r.url(p + "KRATOS_PUBLIC_URL")
    if public is None and r.get(p + "KRATOS_PUBLIC_URL") is None:
        r.problem(p + "KRATOS_PUBLIC_URL", "required in self-hosted mode")
    return _finish(
        r, name, p, "self-hosted", None,
        kratos=(public, r.url(p + "KRATOS_ADMIN_URL"), r.get(p + "KRATOS_ADMIN_TOKEN")),
        hydra=(r.url(p + "HYDRA_PUBLIC_URL"), r.url(p + "HYDRA_ADMIN_URL"), r.get(p + "HYDRA_ADMIN_TOKEN")),
        cookie="ory_kratos_session",
    )  # fmt: skip


def _finish(
    r: _Reader,
    name: str,
    p: str,
    mode: Literal["cloud", "self-hosted"],
    slug: str | None,
    *,
    kratos: tuple[str | None, str | None, str | None],
    hydra: tuple[str | None, str | None, str | None],
    cookie: str,
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
    return TenantSettings(
        name=name, mode=mode, project_slug=slug,
        kratos_public_url=kratos[0], kratos_admin_url=kratos[1], kratos_admin_token=kratos[2],
        hydra_public_url=hydra[0], hydra_admin_url=hydra[1], hydra_admin_token=hydra[2],
        transport=transport if transport in TRANSPORTS else "cookie-or-bearer",
        session_cookie_name=cookie_name,
        hosts=_hosts(r, p + "HOSTS"),
        client_id=client_id, client_secret=client_secret,
        timeout=r.number(p + "TIMEOUT", 2.0),
        hydra_issuer=r.get(p + "HYDRA_ISSUER", hydra[0]),
        jwt_audience=r.get(p + "JWT_AUDIENCE"),
        jwt_algorithms=algs,
        token_format=token_format if token_format in TOKEN_FORMATS else "auto",
        org_paths=tuple((r.get(p + "ORG_PATHS") or "metadata_public.organization_id,organization_id").split(",")),
        roles_path=r.get(p + "ROLES_PATH", "metadata_public.roles") or "metadata_public.roles",
    )  # fmt: skip


def _hosts(r: _Reader, name: str) -> tuple[str, ...]:
    hosts: list[str] = []
    for raw in (r.get(name) or "").split(","):
        if not raw.strip():
            continue
        host = canonical_host(raw)
        if not re.fullmatch(r"[a-z0-9.-]+|\[[0-9a-f:.]+\]", host):
            r.problem(name, f"not a host name: {raw.strip()!r}")
        hosts.append(host)
    return tuple(hosts)


def _check_hosts(r: _Reader, tenants: Mapping[str, TenantSettings | None]) -> None:
    owner: dict[str, str] = {}
    for tenant in (t for t in tenants.values() if t is not None):
        for host in tenant.hosts:
            if host in owner and owner[host] != tenant.name:
                r.problem(tenant.env_prefix + "HOSTS", f"host {host!r} is also claimed by tenant {owner[host]!r}")
            owner.setdefault(host, tenant.name)


def _check_unknown_variables(r: _Reader, names: list[str]) -> None:
    prefixes = {tenant_env_prefix(n): n for n in names}
    for key in sorted(r.env):
        if not key.startswith("GATEWAY_") or key in GLOBAL_KEYS:
            continue
        if key.startswith("GATEWAY_UPSTREAM_") and key.endswith("_URL"):
            continue
        if key.startswith("GATEWAY_TENANT_"):
            if any(key.startswith(p) and key[len(p) :] in TENANT_KEYS for p in prefixes):
                continue
            r.problem(key, "unknown variable (a tenant not in GATEWAY_TENANTS, or a misspelt setting)")
        else:
            r.problem(key, "unknown variable")


def _networks(r: _Reader) -> tuple[Network, ...]:
    nets: list[Network] = []
    for raw in (r.get("GATEWAY_TRUSTED_PROXIES") or "").replace(" ", ",").split(","):
        if raw:
            try:
                nets.append(ipaddress.ip_network(raw, strict=False))
            except ValueError:
                r.problem("GATEWAY_TRUSTED_PROXIES", f"not a CIDR: {raw!r}")
    return tuple(nets)


def _upstreams(r: _Reader) -> dict[str, str]:
    upstreams: dict[str, str] = {}
    for key in sorted(r.env):
        if key.startswith("GATEWAY_UPSTREAM_") and key.endswith("_URL"):
            name = key[len("GATEWAY_UPSTREAM_") : -len("_URL")].lower().replace("_", "-")
            if not UPSTREAM_NAME.match(name):
                r.problem(key, f"bad upstream name {name!r}")
                continue
            url = r.url(key)
            if url is not None:
                upstreams[name] = url
    return upstreams


def _directory(r: _Reader, name: str) -> Path | None:
    raw = r.get(name)
    if raw is not None and not Path(raw).is_dir():
        r.problem(name, f"not a directory: {raw!r}")
        return None
    return Path(raw) if raw else None


def _redis_url(r: _Reader) -> str | None:
    raw = r.get("GATEWAY_REDIS_URL")
    if raw is not None and urlsplit(raw).scheme not in ("redis", "rediss", "unix"):
        r.problem("GATEWAY_REDIS_URL", f"malformed Redis URL {raw!r} (redis://host:port/db)")
        return None
    return raw


def _log_level(r: _Reader) -> str:
    level = (r.get("GATEWAY_LOG_LEVEL") or "INFO").upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        r.problem("GATEWAY_LOG_LEVEL", f"want DEBUG, INFO, WARNING or ERROR, got {level!r}")
        return "INFO"
    return level


def _admin_token(r: _Reader) -> str | None:
    token = r.get("GATEWAY_ADMIN_TOKEN")
    if token is not None and len(token) < 16:
        r.problem("GATEWAY_ADMIN_TOKEN", "too short: use at least 16 random characters")
        return None
    return token


def redacted(settings: Settings) -> dict[str, object]:
    """The effective configuration with every secret replaced, for `gateway check`."""

    def hide(value: str | None) -> str | None:
        return None if value is None else f"***{value[-4:]}" if len(value) > 12 else "***"

    return {
        "listen": f"{settings.listen_host}:{settings.listen_port}",
        "default_tenant": settings.default_tenant,
        "policies_dir": str(settings.policies_dir),
        "trusted_proxies": [str(n) for n in settings.trusted_proxies],
        "upstreams": dict(settings.upstreams),
        "redis": hide(settings.redis_url) if settings.redis_url else None,
        "metrics_listen": ":".join(map(str, settings.metrics_listen)) if settings.metrics_listen else None,
        "admin_token": hide(settings.admin_token),
        "tenants": {
            t.name: {
                "mode": t.mode, "project_slug": t.project_slug, "transport": t.transport,
                "session_cookie_name": t.session_cookie_name, "hosts": list(t.hosts),
                "kratos_public_url": t.kratos_public_url, "kratos_admin_url": t.kratos_admin_url,
                "kratos_admin_token": hide(t.kratos_admin_token),
                "hydra_public_url": t.hydra_public_url, "hydra_admin_url": t.hydra_admin_url,
                "hydra_admin_token": hide(t.hydra_admin_token),
                "client_id": t.client_id, "client_secret": hide(t.client_secret),
                "token_format": t.token_format, "jwt_algorithms": sorted(t.jwt_algorithms),
            }
            for t in settings.tenants.values()
        },
    }  # fmt: skip
