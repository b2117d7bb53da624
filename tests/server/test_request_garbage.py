"""A request's objects are freed by reference counting when it ends, not left as a cycle for the
collector (gateway/app.py): under load, cycles made per request meant a young collection every
few hundred requests, and a request still running at one (a stream, a slow upstream) was promoted
with all it held, to wait for a full collection."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from typing import Any

import pytest

from gateway.app import GatewayApp
from gateway.front.exchange import Exchange
from gateway.policy.reload import PolicyStore
from tests.support.builders import make_settings, seed_policies


@pytest.fixture
def no_collector() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


async def _request(app: GatewayApp, path: str) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"gateway.test")],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8080),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def _exchanges() -> int:
    return sum(isinstance(o, Exchange) for o in gc.get_objects())


@pytest.mark.usefixtures("no_collector")
def test_an_answered_request_leaves_no_cycle_behind() -> None:
    settings = make_settings()
    app = GatewayApp(settings, PolicyStore(settings.policies_dir, settings, initial=seed_policies(settings)))
    before = _exchanges()
    for path, status in (("/nowhere/at/all", 404), ("/customer/api/durably/runs", 401)):  # no route; no credential
        sent = asyncio.run(_request(app, path))
        assert sent[0]["status"] == status
    assert _exchanges() == before  # freed as the request ended, with the collector off
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        left = [type(o).__qualname__ for o in gc.garbage if type(o).__module__.startswith("gateway.")]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert left == []
