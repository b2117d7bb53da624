"""The effective configuration as `gateway check` shows it: every secret hidden.

A tenant's settings are shown as `gateway.config.tenant_fields.FIELDS` declares them; its
membership source adds its own (`gateway.orgs.sources`).
"""

from __future__ import annotations

from gateway.config.settings import Limits, Settings, TenantSettings
from gateway.config.shared_ory import describe as describe_shared
from gateway.config.tenant_fields import FIELDS
from gateway.config.tracing import describe as describe_tracing


def hide(value: str | None) -> str | None:
    """A secret as `gateway check` shows it: *** and, for a long one, its last four characters."""
    return None if value is None else f"***{value[-4:]}" if len(value) > 12 else "***"


def redacted(settings: Settings) -> dict[str, object]:
    """The effective configuration with every secret replaced, for `gateway check`."""
    return {
        "listen": f"{settings.listen_host}:{settings.listen_port}",
        "default_tenant": settings.default_tenant,
        "policies_dir": str(settings.policies_dir),
        "trusted_proxies": [str(n) for n in settings.trusted_proxies],
        "decisions_headers": settings.decisions_headers,
        "edge_cache_ttl": settings.edge_cache_ttl,
        "upstreams": dict(settings.upstreams),
        "tracing": describe_tracing(settings.tracing),
        "redis": hide(settings.redis_url) if settings.redis_url else None,
        "metrics_listen": ":".join(map(str, settings.metrics_listen)) if settings.metrics_listen else None,
        "admin_token": hide(settings.admin_token),
        "limits": _limits(settings.limits),
        "shared_ory": describe_shared(settings.tenants),
        "tenants": {t.name: tenant_view(t) for t in settings.tenants.values()},
    }


def tenant_view(tenant: TenantSettings) -> dict[str, object]:
    doc: dict[str, object] = {"mode": tenant.mode, "project_slug": tenant.project_slug}
    for field in FIELDS:
        if field.shown:
            value = getattr(tenant, field.name)
            doc[field.name] = hide(value) if field.secret else shown(value)
    return doc


def shown(value: object) -> object:
    """A setting's value as JSON shows it (a set sorted)."""
    if isinstance(value, frozenset):
        return sorted(value)
    return list(value) if isinstance(value, tuple) else value


def _limits(limits: Limits) -> dict[str, float]:
    """The request limits as `gateway check` shows them (names as in docs/operations.md)."""
    return {
        "max_header_bytes": limits.max_header_bytes,
        "header_timeout": limits.header_timeout,
        "body_timeout": limits.body_timeout,
        "max_body_bytes": limits.max_body_bytes,
        "max_streams": limits.max_streams,
        "max_streams_per_tenant": limits.max_streams_per_tenant,
        "max_streams_per_principal": limits.max_streams_per_principal,
        "auth_failures_per_minute": limits.auth_failures_per_minute,
        "stream_recheck_seconds": limits.stream_recheck_seconds,
        "sse_heartbeat_seconds": limits.sse_heartbeat_seconds,
        "shutdown_timeout": limits.shutdown_timeout,
    }
