"""The floor for this stack: a raw-ASGI proxy with one aiohttp session and nothing else
(no auth, no header hygiene, no logs). `bench.hot` measures the gateway against it.

    uvicorn bench.minproxy:app  (MINPROXY_UPSTREAM=http://127.0.0.1:PORT)
"""

from __future__ import annotations

import os
from typing import Any

import aiohttp
from yarl import URL

UPSTREAM = os.environ.get("MINPROXY_UPSTREAM", "http://127.0.0.1:8081")
_session: list[aiohttp.ClientSession] = []


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    async with _session[0].get(URL(UPSTREAM + scope["path"], encoded=True)) as resp:
        body = await resp.read()
        headers = [(b"content-type", resp.headers.get("content-type", "application/json").encode())]
        await send({"type": "http.response.start", "status": resp.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            connector = aiohttp.TCPConnector(limit=256)
            _session.append(
                aiohttp.ClientSession(connector=connector, auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar())
            )
            await send({"type": "lifespan.startup.complete"})
        else:
            await _session[0].close()
            await send({"type": "lifespan.shutdown.complete"})
            return
