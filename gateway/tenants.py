"""Which tenant a request belongs to, decided from its host and canonical path.

Order (first that applies wins):

1. host: the host (already chosen by the caller's trusted-proxy logic) is
   canonicalised (case, trailing dot, port) and looked up in
   ``GATEWAY_TENANT_<T>_HOSTS``. A host-routed tenant is served at the root:
   its path is not prefixed, and ``/<other-tenant>/...`` stays inside it.
2. prefix: the first path segment equals a tenant name (``/customer`` or
   ``/customer/...``; ``/customerx`` is not ``customer``). The prefix is removed.
3. default: ``GATEWAY_DEFAULT_TENANT``, path as-is.
4. otherwise 404.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from gateway.config import Settings, canonical_host
from gateway.errors import NotFound

ChosenBy = Literal["host", "prefix", "default"]


@dataclass(frozen=True, slots=True)
class TenantMatch:
    tenant: str
    #: the canonical path relative to the tenant root (always starts with "/")
    rest: str
    by: ChosenBy

    @property
    def prefix(self) -> str:
        """The path prefix that selected the tenant ("" unless chosen by prefix)."""
        return f"/{self.tenant}" if self.by == "prefix" else ""


def resolve_tenant(settings: Settings, path: str, host: str | None) -> TenantMatch:
    """The tenant for a canonical `path` arriving for `host`, or `NotFound`."""
    if host:
        by_host = settings.tenant_for_host(canonical_host(host))
        if by_host is not None:
            return TenantMatch(by_host, path, "host")
    first, rest = _split_first(path)
    if first in settings.tenants:
        return TenantMatch(first, rest, "prefix")
    if settings.default_tenant is not None:
        return TenantMatch(settings.default_tenant, path, "default")
    raise NotFound("no tenant serves this path", reason="unknown_tenant")


def _split_first(path: str) -> tuple[str, str]:
    """``/customer/a/b`` -> (``customer``, ``/a/b``); ``/customer`` -> (``customer``, ``/``)."""
    first, sep, rest = path[1:].partition("/")
    return first, "/" + rest if sep else "/"
