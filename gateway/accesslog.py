"""One JSON access-log line per request; never a secret, cookie or token."""

from __future__ import annotations

import logging
import time

import orjson

from gateway.exchange import Exchange

access = logging.getLogger("gateway.access")


def emit(ex: Exchange) -> None:
    if not access.isEnabledFor(logging.INFO):
        return
    record = {
        "request_id": ex.origin.request_id,
        "method": ex.request.method,
        "path": ex.request.path or ex.raw_path.decode("latin-1")[:512],
        "client": ex.origin.client_ip,
        "status": ex.status,
        "duration_ms": round((time.perf_counter() - ex.started) * 1000, 3),
        **ex.log,
    }
    access.info(orjson.dumps(record).decode())
