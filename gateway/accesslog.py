"""One JSON access-log line per request; never a secret, cookie or token.

Fields: ts, request_id, method, path (canonical, no query string), client (the address
believed per GATEWAY_TRUSTED_PROXIES), status, duration_ms, ory_ms / upstream_ms (when
those were called), and what the pipeline learned (tenant, rule, kind, principal, org,
decision, reason, upstream, ...). Denials by authentication or authorization (401/403)
also go to `gateway.audit` as `{"event": "denied", ...}`.
"""

from __future__ import annotations

import logging
import time

import orjson

from gateway.exchange import Exchange
from gateway.metrics import RequestTimes

access = logging.getLogger("gateway.access")
audit = logging.getLogger("gateway.audit")

AUDITED = frozenset({401, 403})


def emit(ex: Exchange, times: RequestTimes | None = None, duration: float | None = None) -> None:
    status = ex.status
    if status in AUDITED and audit.isEnabledFor(logging.INFO):
        audit.info(orjson.dumps({
            "event": "denied", "ts": round(time.time(), 3), "request_id": ex.origin.request_id,
            "client": ex.origin.client_ip, "method": ex.request.method, "path": _path(ex), "status": status,
            "tenant": ex.log.get("tenant"), "rule": ex.log.get("rule"), "kind": ex.log.get("kind"),
            "principal": ex.log.get("principal"), "org": ex.log.get("org"), "reason": ex.log.get("reason"),
        }).decode())  # fmt: skip
    if not access.isEnabledFor(logging.INFO):
        return
    if duration is None:
        duration = time.perf_counter() - ex.started
    record: dict[str, object] = {
        "ts": round(time.time(), 3),
        "request_id": ex.origin.request_id,
        "method": ex.request.method,
        "path": _path(ex),
        "client": ex.origin.client_ip,
        "status": status,
        "duration_ms": round(duration * 1000, 3),
    }
    if times is not None:
        if times.ory:
            record["ory_ms"] = round(times.ory * 1000, 3)
        if times.upstream:
            record["upstream_ms"] = round(times.upstream * 1000, 3)
    record.update(ex.log)
    access.info(orjson.dumps(record).decode())


def _path(ex: Exchange) -> str:
    return ex.request.path or ex.raw_path.decode("latin-1")[:512]
