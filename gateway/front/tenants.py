"""Which tenant a request belongs to, decided from its host and canonical path.

Order (first that applies wins):

1. host: the host (already chosen by the caller's trusted-proxy logic) must be a
   valid ``host[:port]`` (else 400 ``ambiguous_host``: userinfo, paths, two Host lines);
   it is canonicalised (case, trailing dot, port) and looked up in
   ``GATEWAY_TENANT_<T>_HOSTS``. A host-routed tenant is served at the root:
   its path is not prefixed, and ``/<other-tenant>/...`` stays inside it.
2. prefix: the first path segment equals a tenant name (``/customer`` or
   ``/customer/...``; ``/customerx`` is not ``customer``). The prefix is removed.
3. default: ``GATEWAY_DEFAULT_TENANT``, path as-is.
4. otherwise 404.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Literal

from gateway.config.settings import Settings, canonical_host
from gateway.errors import BadRequest, NotFound

ChosenBy = Literal["host", "prefix", "default"]

#: RFC 9110 Host: a reg-name or IP literal and an optional port; anything else (userinfo
#: ``a@b``, a path, two Host lines joined as ``a,b``, a second port) is refused with 400
#: rather than guessed, so the host a tenant is chosen by is the one every hop agrees on.
_HOST = re.compile(r"(?:[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.?|\[[0-9a-f:.]+\])(?::[0-9]{1,5})?")


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
        key = _host_key(host)
        if key is None:
            raise BadRequest("the Host header is not a valid host[:port]", reason="ambiguous_host")
        by_host = settings.tenant_for_host(key)
        if by_host is not None:
            return TenantMatch(by_host, path, "host")
    first, rest = _split_first(path)
    if first in settings.tenants:
        return TenantMatch(first, rest, "prefix")
    if settings.default_tenant is not None:
        return TenantMatch(settings.default_tenant, path, "default")
    raise NotFound("no tenant serves this path", reason="unknown_tenant")


@functools.lru_cache(maxsize=4096)
def _host_key(host: str) -> str | None:
    """The canonical host, or None when `host` is not a valid host[:port] (memoised: a
    deployment sees a handful of hosts)."""
    return canonical_host(host) if _HOST.fullmatch(host.strip().lower()) else None


def _split_first(path: str) -> tuple[str, str]:
    """``/customer/a/b`` -> (``customer``, ``/a/b``); ``/customer`` -> (``customer``, ``/``)."""
    first, sep, rest = path[1:].partition("/")
    return first, "/" + rest if sep else "/"
