"""Settings from the environment, validated once into frozen values.

Nothing else in the gateway reads ``os.environ``: `read_settings(env, checks)` is the only
door, and it reports every problem at once (one line each, naming the variable). What other
packages require of a tenant's settings (its membership source) comes in as `Checks`, so
that `config` imports nothing of them (`gateway.load` passes them).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from gateway.config import shared_ory
from gateway.config.env import EnvReader
from gateway.config.problems import ConfigError
from gateway.config.settings import (
    DECISIONS_HEADERS,
    RESERVED_TENANT_NAMES,
    TENANT_NAME,
    UPSTREAM_NAME,
    CacheSettings,
    DecisionsHeaders,
    Limits,
    Network,
    Settings,
    TenantSettings,
    tenant_env_prefix,
)
from gateway.config.tenant import tenant_settings
from gateway.config.tenant_fields import SUFFIXES, count
from gateway.config.tracing import tracing_settings

GLOBAL_KEYS = frozenset(
    {
        "GATEWAY_TENANTS",
        "GATEWAY_DEFAULT_TENANT",
        "GATEWAY_POLICIES_DIR",
        "GATEWAY_LISTEN",
        "GATEWAY_TRUSTED_PROXIES",
        "GATEWAY_REDIS_URL",
        "GATEWAY_METRICS_LISTEN",
        "GATEWAY_PUBLIC_URL",
        "GATEWAY_CACHE_MAX_TTL",
        "GATEWAY_CACHE_NEGATIVE_TTL",
        "GATEWAY_CACHE_SIZE",
        "GATEWAY_MAX_BODY_BYTES",
        "GATEWAY_MAX_HEADER_BYTES",
        "GATEWAY_HEADER_TIMEOUT",
        "GATEWAY_BODY_TIMEOUT",
        "GATEWAY_MAX_STREAMS",
        "GATEWAY_MAX_STREAMS_PER_TENANT",
        "GATEWAY_MAX_STREAMS_PER_PRINCIPAL",
        "GATEWAY_AUTH_FAILURES_PER_MINUTE",
        "GATEWAY_STREAM_RECHECK_SECONDS",
        "GATEWAY_SSE_HEARTBEAT_SECONDS",
        "GATEWAY_TOKEN_RATE_PER_MINUTE",
        "GATEWAY_ASSERTION_KEYS_DIR",
        "GATEWAY_ADMIN_TOKEN",
        "GATEWAY_SHUTDOWN_TIMEOUT",
        "GATEWAY_LOG_LEVEL",
        "GATEWAY_TRACE_TRUST",
        "GATEWAY_DECISIONS_HEADERS",
        "GATEWAY_EDGE_CACHE_TTL",
    }
)


@dataclass(frozen=True, slots=True)
class Checks:
    """What other packages require of the settings, checked as they load."""

    #: problems with one tenant's settings, as (variable suffix, problem): its membership source's
    tenant: Callable[[TenantSettings], Iterable[tuple[str, str]]] = lambda tenant: ()


def read_settings(env: Mapping[str, str], checks: Checks) -> Settings:
    """Build `Settings` from `env`, or raise `ConfigError` listing every problem."""
    r = EnvReader(env)
    names = _tenant_names(r)
    listen = r.listen("GATEWAY_LISTEN", "127.0.0.1:8080") or ("127.0.0.1", 8080)
    public_url = r.url("GATEWAY_PUBLIC_URL") or f"http://{listen[0]}:{listen[1]}"
    proxies = _networks(r)
    tenants = {name: tenant_settings(r, name, public_url) for name in names}
    _check_unknown_variables(r, names)
    _check_hosts(r, tenants)
    shared_ory.check(r, {n: t for n, t in tenants.items() if t is not None})  # tenants on one Ory project
    for tenant in (t for t in tenants.values() if t is not None):
        for suffix, problem in checks.tenant(tenant):
            r.problem(tenant.env_prefix + suffix, problem)
    default = r.get("GATEWAY_DEFAULT_TENANT")
    if default is not None and default not in names:
        r.problem("GATEWAY_DEFAULT_TENANT", f"{default!r} is not in GATEWAY_TENANTS")
    if default is None and len(names) == 1:
        default = names[0]
    cache = CacheSettings(
        max_ttl=r.number("GATEWAY_CACHE_MAX_TTL", 60.0),
        negative_ttl=r.number("GATEWAY_CACHE_NEGATIVE_TTL", 5.0, lambda v: v >= 0),
        size=int(r.number("GATEWAY_CACHE_SIZE", 100_000)),
    )
    settings = Settings(
        tenants={n: t for n, t in tenants.items() if t is not None},
        default_tenant=default,
        policies_dir=Path(r.get("GATEWAY_POLICIES_DIR", "policies") or "policies"),
        listen_host=listen[0],
        listen_port=listen[1],
        trusted_proxies=proxies,
        upstreams=_upstreams(r),
        redis_url=_redis_url(r),
        metrics_listen=r.listen("GATEWAY_METRICS_LISTEN", None),
        public_url=public_url,
        assertion_keys_dir=_directory(r, "GATEWAY_ASSERTION_KEYS_DIR"),
        admin_token=_admin_token(r),
        log_level=_log_level(r),
        decisions_headers=_decisions_headers(r, proxies),
        edge_cache_ttl=_edge_cache_ttl(r, cache.max_ttl),
        cache=cache,
        limits=_limits(r, len(names)),
        tracing=tracing_settings(r),  # the OTEL_* variables and GATEWAY_TRACE_TRUST
    )
    if settings.limits.body_timeout < settings.limits.header_timeout:
        r.problem("GATEWAY_BODY_TIMEOUT", "bounds the whole request, head included: must be >= GATEWAY_HEADER_TIMEOUT")
    if len(settings.tenants) > 1 and settings.default_tenant is None:
        r.problem("GATEWAY_DEFAULT_TENANT", "required when there is more than one tenant")
    if r.problems:
        raise ConfigError(r.problems)
    return settings


def _limits(r: EnvReader, tenants: int) -> Limits:
    streams = count(r, "GATEWAY_MAX_STREAMS", 1000)
    # several tenants: none may hold more than half the streams unless told otherwise
    per_tenant = count(r, "GATEWAY_MAX_STREAMS_PER_TENANT", streams if tenants < 2 else max(1, streams // 2))
    per_principal = count(r, "GATEWAY_MAX_STREAMS_PER_PRINCIPAL", min(100, per_tenant))
    if per_tenant > streams:
        r.problem("GATEWAY_MAX_STREAMS_PER_TENANT", f"{per_tenant} is more than GATEWAY_MAX_STREAMS ({streams})")
    if per_principal > per_tenant:
        r.problem("GATEWAY_MAX_STREAMS_PER_PRINCIPAL", f"{per_principal} is more than a tenant may hold ({per_tenant})")
    return Limits(
        max_body_bytes=int(r.number("GATEWAY_MAX_BODY_BYTES", 1 << 20)),
        max_header_bytes=int(r.number("GATEWAY_MAX_HEADER_BYTES", 16 << 10)),
        header_timeout=r.number("GATEWAY_HEADER_TIMEOUT", 10.0),
        body_timeout=r.number("GATEWAY_BODY_TIMEOUT", 30.0),
        max_streams=streams,
        max_streams_per_tenant=per_tenant,
        max_streams_per_principal=per_principal,
        auth_failures_per_minute=count(r, "GATEWAY_AUTH_FAILURES_PER_MINUTE", 60),
        stream_recheck_seconds=r.number("GATEWAY_STREAM_RECHECK_SECONDS", 30.0),
        sse_heartbeat_seconds=r.number("GATEWAY_SSE_HEARTBEAT_SECONDS", 15.0, lambda v: 0 <= v <= 3600),
        token_rate_per_minute=int(r.number("GATEWAY_TOKEN_RATE_PER_MINUTE", 60)),
        shutdown_timeout=r.number("GATEWAY_SHUTDOWN_TIMEOUT", 30.0),
    )


def _tenant_names(r: EnvReader) -> list[str]:
    raw = r.get("GATEWAY_TENANTS")
    if raw is None:
        r.problem("GATEWAY_TENANTS", "required: comma list of tenant names, e.g. customer,admin")
        return []
    names: list[str] = []
    for name in (n.strip() for n in raw.split(",")):
        if not TENANT_NAME.match(name):
            r.problem("GATEWAY_TENANTS", f"bad tenant name {name!r} (lower-case letters, digits, '-')")
        elif name in RESERVED_TENANT_NAMES:
            r.problem("GATEWAY_TENANTS", f"tenant name {name!r} is reserved for the gateway's own endpoints")
        elif name in names:
            r.problem("GATEWAY_TENANTS", f"tenant {name!r} listed twice")
        else:
            names.append(name)
    return names


def _check_hosts(r: EnvReader, tenants: Mapping[str, TenantSettings | None]) -> None:
    owner: dict[str, str] = {}
    for tenant in (t for t in tenants.values() if t is not None):
        for host in tenant.hosts:
            if host in owner and owner[host] != tenant.name:
                r.problem(tenant.env_prefix + "HOSTS", f"host {host!r} is also claimed by tenant {owner[host]!r}")
            owner.setdefault(host, tenant.name)


def _check_unknown_variables(r: EnvReader, names: list[str]) -> None:
    prefixes = {tenant_env_prefix(n): n for n in names}
    for key in sorted(r.env):
        if not key.startswith("GATEWAY_") or key in GLOBAL_KEYS:
            continue
        if key.startswith("GATEWAY_UPSTREAM_") and key.endswith("_URL"):
            continue
        if key.startswith("GATEWAY_TENANT_"):
            if any(key.startswith(p) and key[len(p) :] in SUFFIXES for p in prefixes):
                continue
            r.problem(key, "unknown variable (a tenant not in GATEWAY_TENANTS, or a misspelt setting)")
        else:
            r.problem(key, "unknown variable")


def _networks(r: EnvReader) -> tuple[Network, ...]:
    nets: list[Network] = []
    for raw in (r.get("GATEWAY_TRUSTED_PROXIES") or "").replace(" ", ",").split(","):
        if raw:
            try:
                nets.append(ipaddress.ip_network(raw, strict=False))
            except ValueError:
                r.problem("GATEWAY_TRUSTED_PROXIES", f"not a CIDR: {raw!r}")
    return tuple(nets)


def _upstreams(r: EnvReader) -> dict[str, str]:
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


def _directory(r: EnvReader, name: str) -> Path | None:
    raw = r.get(name)
    if raw is not None and not Path(raw).is_dir():
        r.problem(name, f"not a directory: {raw!r}")
        return None
    return Path(raw) if raw else None


def _redis_url(r: EnvReader) -> str | None:
    raw = r.get("GATEWAY_REDIS_URL")
    if raw is not None and urlsplit(raw).scheme not in ("redis", "rediss", "unix"):
        r.problem("GATEWAY_REDIS_URL", f"malformed Redis URL {raw!r} (redis://host:port/db)")
        return None
    return raw


def _log_level(r: EnvReader) -> str:
    level = (r.get("GATEWAY_LOG_LEVEL") or "INFO").upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        r.problem("GATEWAY_LOG_LEVEL", f"want DEBUG, INFO, WARNING or ERROR, got {level!r}")
        return "INFO"
    return level


def _decisions_headers(r: EnvReader, proxies: tuple[Network, ...]) -> DecisionsHeaders:
    """Which headers describe a bare `/decisions` request (docs/forwarding.md, "Forward-auth")."""
    raw = (r.get("GATEWAY_DECISIONS_HEADERS") or "none").lower()
    found = next((value for value in DECISIONS_HEADERS if value == raw), None)
    if found is None:
        r.problem("GATEWAY_DECISIONS_HEADERS", f"want none, original or forwarded, got {raw!r}")
        return "none"
    if found != "none" and not proxies:
        r.problem("GATEWAY_DECISIONS_HEADERS", "headers are believed only from GATEWAY_TRUSTED_PROXIES: set it too")
    return found


#: an identity assertion is reused while more than half of its 60 s are left (gateway.forward.assertion):
#: an answer reused for at most this long still carries a valid one
EDGE_CACHE_TTL_MAX = 30


def _edge_cache_ttl(r: EnvReader, max_ttl: float) -> int:
    """Whole seconds (nginx's `X-Accel-Expires`), never longer than the gateway's own cache bound."""
    raw = r.get("GATEWAY_EDGE_CACHE_TTL")
    if raw is None:
        return 2
    if not raw.isdigit():
        r.problem("GATEWAY_EDGE_CACHE_TTL", f"want whole seconds (0: nginx reuses no decision), got {raw!r}")
        return 2
    if int(raw) > max_ttl:
        r.problem("GATEWAY_EDGE_CACHE_TTL", f"{raw} s is longer than GATEWAY_CACHE_MAX_TTL ({max_ttl:g} s)")
    elif int(raw) > EDGE_CACHE_TTL_MAX:
        r.problem(
            "GATEWAY_EDGE_CACHE_TTL",
            f"at most {EDGE_CACHE_TTL_MAX} s: a reused answer's identity assertion must stay valid",
        )
    return int(raw)


def _admin_token(r: EnvReader) -> str | None:
    token = r.get("GATEWAY_ADMIN_TOKEN")
    if token is not None and len(token) < 16:
        r.problem("GATEWAY_ADMIN_TOKEN", "too short: use at least 16 random characters")
        return None
    return token
