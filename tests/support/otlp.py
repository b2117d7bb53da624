"""An OTLP/HTTP trace receiver, run as its own process: decodes every
`ExportTraceServiceRequest` (protobuf, gzip or not) that arrives at `POST /v1/traces` with
the official `opentelemetry-proto` classes and keeps the spans, and the raw bodies, for tests.

    python -m tests.support.otlp --port 4318 [--fail 503 | --stall]

`GET /__otlp/spans` lists the spans decoded so far (names, ids in hex, parent, kind,
attributes, status, resource), `GET /__otlp/raw` the bodies as received (base64),
`DELETE /__otlp/spans` forgets both. `--fail N` answers every export with status N (after
counting it), `--stall` never answers an export: a collector that is down or hung.

    with otlp_receiver() as collector:
        spans = collector.trace(trace_id, count=4)   # by name, once four have arrived
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gzip
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from tests.support.polling import eventually
from tests.support.processes import free_port

SPANS: list[dict[str, Any]] = []
RAW: list[bytes] = []
EXPORTS = {"received": 0}
MODE: dict[str, Any] = {"fail": None, "stall": False}
KINDS = {0: "unspecified", 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
STATUS = {0: "unset", 1: "ok", 2: "error"}


def value(any_value: AnyValue) -> Any:
    which = any_value.WhichOneof("value")
    if which == "array_value":
        return [value(v) for v in any_value.array_value.values]
    return getattr(any_value, which) if which else None


def attributes(pairs: Any) -> dict[str, Any]:
    return {kv.key: value(kv.value) for kv in pairs if isinstance(kv, KeyValue)}


def decode(body: bytes) -> list[dict[str, Any]]:
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    spans = []
    for resource_spans in request.resource_spans:
        resource = attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(
                    {
                        "name": span.name,
                        "trace_id": span.trace_id.hex(),
                        "span_id": span.span_id.hex(),
                        "parent_span_id": span.parent_span_id.hex(),
                        "kind": KINDS.get(span.kind, str(span.kind)),
                        "attributes": attributes(span.attributes),
                        "status": STATUS.get(span.status.code, str(span.status.code)),
                        "status_message": span.status.message,
                        "trace_state": span.trace_state,
                        "resource": resource,
                        "scope": scope_spans.scope.name,
                    }
                )
    return spans


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    path, method = scope["path"], scope["method"]
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    if path == "/__otlp/spans":
        if method == "DELETE":
            SPANS.clear()
            RAW.clear()
        await _answer(send, 200, json.dumps({"spans": SPANS, "exports": EXPORTS["received"]}).encode())
    elif path == "/__otlp/raw":
        await _answer(send, 200, json.dumps([base64.b64encode(b).decode() for b in RAW]).encode())
    elif path == "/v1/traces" and method == "POST":
        await _export(scope, body, send)
    else:
        await _answer(send, 404, b"{}")


async def _export(scope: dict[str, Any], body: bytes, send: Any) -> None:
    EXPORTS["received"] += 1
    if MODE["stall"]:
        await asyncio.Event().wait()
    if MODE["fail"] is not None:
        await _answer(send, MODE["fail"], b"{}")
        return
    headers = dict(scope["headers"])
    if headers.get(b"content-encoding") == b"gzip":
        body = gzip.decompress(body)
    RAW.append(body)
    SPANS.extend(decode(body))
    answer = ExportTraceServiceResponse().SerializeToString()
    await _answer(send, 200, answer, b"application/x-protobuf")


async def _answer(send: Any, status: int, body: bytes, content_type: bytes = b"application/json") -> None:
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", content_type)]})
    await send({"type": "http.response.body", "body": body})


class Collector:
    """Client for the receiver process."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.endpoint = url + "/v1/traces"

    def spans(self) -> list[dict[str, Any]]:
        spans: list[dict[str, Any]] = httpx.get(self.url + "/__otlp/spans").json()["spans"]
        return spans

    def exports(self) -> int:
        return int(httpx.get(self.url + "/__otlp/spans").json()["exports"])

    def raw(self) -> list[bytes]:
        return [base64.b64decode(b) for b in httpx.get(self.url + "/__otlp/raw").json()]

    def clear(self) -> None:
        httpx.delete(self.url + "/__otlp/spans")

    def trace(self, trace_id: str, count: int, timeout: float = 15.0) -> dict[str, dict[str, Any]]:
        """The spans of one trace by name, once `count` of them have arrived."""

        def mine() -> list[dict[str, Any]]:
            return [s for s in self.spans() if s["trace_id"] == trace_id]

        eventually(lambda: len(mine()) >= count, timeout=timeout, what=lambda: f"{count} spans of {trace_id}: {mine()}")
        return {span["name"]: span for span in mine()}


@contextmanager
def otlp_receiver(*flags: str) -> Iterator[Collector]:
    """The receiver on a free port (flags: `--fail N`, `--stall`), stopped when the block ends."""
    from tests.support.processes import answers, spawn

    url = f"http://127.0.0.1:{free_port()}"
    args = [sys.executable, "-m", "tests.support.otlp", "--port", url.rsplit(":", 1)[1], *flags]
    proc = spawn(args, url, answers(url + "/__otlp/spans"))
    try:
        yield Collector(url)
    finally:
        proc.kill()  # a stalled export would hold a polite stop


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--fail", type=int, default=None, help="answer every export with this status")
    parser.add_argument("--stall", action="store_true", help="never answer an export")
    args = parser.parse_args()
    MODE.update(fail=args.fail, stall=args.stall)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
