"""One JSON access-log line per request; never a secret, cookie or token.

Fields: ts, request_id, trace_id (the W3C trace the request belongs to: the caller's when
continued, exported or not), method, path (canonical, no query string), client (the address
believed per GATEWAY_TRUSTED_PROXIES), status, duration_ms, ory_ms / upstream_ms (when
those were called), and what the pipeline learned (tenant, rule, kind, principal, org,
decision, reason, upstream, ...). Denials by authentication or authorization (401/403)
also go to `gateway.audit` as `{"event": "denied", ...}`.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from typing import TextIO

import orjson

from gateway.front.exchange import Exchange
from gateway.observe.metrics import RequestTimes

access = logging.getLogger("gateway.access")
audit = logging.getLogger("gateway.audit")

AUDITED = frozenset({401, 403})
FLUSH_SECONDS = 0.1


class Sink:
    """Access lines, batched: one write per `FLUSH_SECONDS` instead of a flushed write per
    request (the logging module's per-record cost showed on the hot path: docs/performance.md)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream
        self._lines: list[str] = []
        self._timer: asyncio.TimerHandle | None = None

    def write(self, line: str) -> None:
        self._lines.append(line)
        if self._timer is None:
            try:
                self._timer = asyncio.get_running_loop().call_later(FLUSH_SECONDS, self.flush)
            except RuntimeError:  # no loop (tests, tools): write through
                self.flush()

    def flush(self) -> None:
        self._timer = None
        if self._lines:
            stream = self.stream or sys.stderr
            stream.write("\n".join(self._lines) + "\n")
            stream.flush()
            self._lines.clear()


SINK = Sink()


def emit(ex: Exchange, times: RequestTimes | None = None, duration: float | None = None) -> None:
    status = ex.status
    if status in AUDITED and audit.isEnabledFor(logging.INFO):
        audit.info(
            orjson.dumps(
                {
                    "event": "denied",
                    "ts": round(time.time(), 3),
                    "request_id": ex.origin.request_id,
                    "trace_id": ex.trace.trace_id,
                    "client": ex.origin.client_ip,
                    "method": ex.request.method,
                    "path": _path(ex),
                    "status": status,
                    "tenant": ex.log.get("tenant"),
                    "rule": ex.log.get("rule"),
                    "kind": ex.log.get("kind"),
                    "principal": ex.log.get("principal"),
                    "org": ex.log.get("org"),
                    "reason": ex.log.get("reason"),
                }
            ).decode()
        )
    if not access.isEnabledFor(logging.INFO):
        return
    if duration is None:
        duration = time.perf_counter() - ex.started
    origin = ex.origin
    # one dict literal; times in thousandths (`round(x, 3)` for these non-negative values, for
    # less: a tie may round the other way)
    record: dict[str, object] = {
        "ts": int(time.time() * 1000 + 0.5) / 1000,
        "request_id": origin.request_id,
        "trace_id": ex.trace.trace_id,
        "method": ex.request.method,
        "path": ex.request.path or ex.raw_path.decode("latin-1")[:512],
        "client": origin.client_ip,
        "status": status,
        "duration_ms": int(duration * 1_000_000 + 0.5) / 1000,
    }
    if times is not None:
        if times.ory:
            record["ory_ms"] = int(times.ory * 1_000_000 + 0.5) / 1000
        if times.upstream:
            record["upstream_ms"] = int(times.upstream * 1_000_000 + 0.5) / 1000
    record.update(ex.log)
    SINK.write(orjson.dumps(record).decode())


def _path(ex: Exchange) -> str:
    return ex.request.path or ex.raw_path.decode("latin-1")[:512]
