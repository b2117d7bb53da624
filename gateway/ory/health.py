"""What a tenant's Ory calls said last, per service: the tenant health `GET /_gateway/tenants`
and `gateway_tenant_up{tenant,service}` report (`gateway.endpoints.tenants`).

Every call through the Ory boundary (`gateway.ory.http`) records its outcome here: an answer
is "up"; a timeout, a refused connection, a 5xx or a 429 is "down" with its reason. A call
refused by the tenant's own pool (`ory_saturated`) records nothing: that is the gateway's bound,
not Ory's state. Between real calls a low-rate background probe (`TenantProbe`) asks each
service's `/health/alive`. Readiness never reads any of it (`gateway.endpoints.health`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from gateway.cache import Clock
from gateway.config.settings import TenantSettings

SERVICES = ("kratos", "hydra", "keto")


@dataclass(slots=True)
class ServiceState:
    up: bool
    #: epoch seconds since the service has been in this state
    since: float
    reason: str
    #: monotonic seconds of the last outcome recorded (the probe leaves a busy service alone)
    heard: float = 0.0


def services_of(tenant: TenantSettings) -> dict[str, str]:
    """The Ory services the tenant uses, by name, with the base URL each is probed at."""
    found = {"kratos": tenant.kratos_public_url}
    if hydra := tenant.hydra_public_url or tenant.hydra_admin_url:
        found["hydra"] = hydra
    if tenant.keto_read_url:
        found["keto"] = tenant.keto_read_url
    return found


class TenantHealth:
    """One tenant's services, each up or down since a time, with the reason."""

    def __init__(self, tenant: str, services: Iterable[str], clock: Clock = time.time) -> None:
        self.tenant = tenant
        self._clock = clock
        now = clock()
        self.services = {name: ServiceState(False, now, "not checked yet") for name in services}

    def record(self, service: str, reason: str) -> None:
        """The outcome of one call to `service` ("" when it answered, else why not)."""
        state = self.services.get(service.split(" ", 1)[0])  # "kratos admin of tenant x" is Kratos
        if state is None:
            return
        state.heard = time.monotonic()
        up = not reason
        if up != state.up:
            state.since = self._clock()
        state.up, state.reason = up, reason or "answering"

    def quiet_since(self, service: str) -> float:
        """Monotonic seconds since the last outcome recorded for `service`."""
        return time.monotonic() - self.services[service].heard

    def view(self) -> dict[str, dict[str, object]]:
        return {name: {"up": s.up, "since": _rfc3339(s.since), "reason": s.reason} for name, s in self.services.items()}


def _rfc3339(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
