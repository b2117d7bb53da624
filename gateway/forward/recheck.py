"""`StreamRecheck`: the principal of an open stream (SSE, streamed run, WebSocket), checked
again every GATEWAY_STREAM_RECHECK_SECONDS as when it opened - authentication, organization,
authorization and permission - through the pipeline's own stages, so through the same caches
and their revocations. A failure (revoked, expired, demoted, or Ory unreachable) ends it."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping

from gateway.authn.authenticator import Authenticator
from gateway.authz import authorize
from gateway.decision import Decision
from gateway.errors import Forbidden, GatewayError
from gateway.front.exchange import Exchange
from gateway.orgs.stage import OrgStage
from gateway.permissions.checker import TenantPermissions

log = logging.getLogger("gateway")


class StreamRecheck:
    def __init__(
        self,
        authn: Mapping[str, Authenticator],
        orgs: Mapping[str, OrgStage],
        permissions: Mapping[str, TenantPermissions],
        interval: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.authn, self.orgs, self.permissions = authn, orgs, permissions
        self.interval = interval
        self.clock = clock

    async def until_refused(self, ex: Exchange, decision: Decision) -> GatewayError:
        """Returns the error that ends the stream (never returns while the principal holds)."""
        first = decision.principal
        assert first is not None
        route, tenant = decision.match.route, decision.tenant
        authn, orgs, permissions = self.authn.get(tenant), self.orgs.get(tenant), self.permissions.get(tenant)
        while True:
            await asyncio.sleep(self.interval)
            try:
                if authn is None or orgs is None or permissions is None:
                    raise Forbidden("the principal can no longer be verified", reason="stream_recheck_failed")
                now = await authn.authenticate(ex.request, route.kinds)
                now = await orgs.choose(ex.request, decision.match, now, decision.policies.tenant_roles(tenant))
                authorize(route, now, self.clock())
                await permissions.require(decision.match, now)  # a removed membership or permission ends it
                if (now.subject, now.organization, now.tenant) != (first.subject, first.organization, first.tenant):
                    raise Forbidden("the principal changed", reason="stream_principal_changed")
            except GatewayError as error:  # fail closed
                log.info("stream ended by re-check", extra={"request_id": ex.origin.request_id, "reason": error.reason})
                return error
