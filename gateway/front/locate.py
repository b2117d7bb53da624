"""Where a request goes: canonical path -> tenant -> route, remembered per policy set.

The answer depends only on the host, the method, the raw path and the policy set, and a
deployment sees the same few thousand of those again and again, so it is computed once
per combination (gateway.front.paths, gateway.front.tenants, gateway.policy.match) and then looked up.
Refusals (400, 404, 405) are never remembered: they are raised again every time. The memo
is bounded in entries (emptied when full: a flood of distinct paths only costs recomputation)
and in bytes (a long host or path is worked out every time, never kept).
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.config.settings import Settings
from gateway.front.paths import canonical_path
from gateway.front.request import RequestView
from gateway.front.tenants import resolve_tenant
from gateway.policy import Match, PolicySet, match


@dataclass(frozen=True, slots=True)
class Located:
    #: the canonical path (what is matched is what is forwarded)
    path: str
    tenant: str
    match: Match


#: host plus raw path longer than this are not remembered (real API paths are far shorter)
MAX_KEY_BYTES = 512


class Locator:
    def __init__(self, settings: Settings, size: int = 4096) -> None:
        self.settings = settings
        self.size = size
        self._policies: PolicySet | None = None
        self._memo: dict[tuple[str, str, bytes], Located] = {}

    def locate(self, policies: PolicySet, request: RequestView, raw_path: bytes) -> Located:
        """Also sets `request.path`, before a refusal is raised when the path itself was fine."""
        if policies is not self._policies:  # reloaded: every remembered route may have changed
            self._memo.clear()
            self._policies = policies
        key = (request.host, request.method, raw_path)
        found = self._memo.get(key)
        if found is None:
            request.path = canonical_path(raw_path)
            tenant = resolve_tenant(self.settings, request.path, request.host)
            found = Located(request.path, tenant.tenant, match(policies, tenant.tenant, request.method, tenant.rest))
            if len(raw_path) + len(request.host) <= MAX_KEY_BYTES:
                if len(self._memo) >= self.size:
                    self._memo.clear()
                self._memo[key] = found
        request.path = found.path
        return found
