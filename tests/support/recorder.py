"""A recording upstream, run as its own process: answers every request with a small
JSON echo and keeps what it received (method, raw target, headers, body) for tests.

    python -m tests.support.recorder --port 9000

`GET /__recorder/requests` lists the recordings, `DELETE /__recorder/requests` clears them;
a request whose sender went away before the end of its body is recorded with
`"complete": false` and the part of the body that came.
Paths under `/sse/` answer with a never-ending event stream (one event per 0.2 s);
`/big/<n>` answers with n bytes (`0123456789` repeated), streamed in 64 KiB chunks.
Paths containing `/cors/` answer with the upstream's own CORS headers (`*`, credentials):
the gateway must never pass them on. Paths containing `/status/<n>/` answer with status n
and a cookie of the upstream's own (`Set-Cookie: app_cookie=upstream; Path=/`).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import re
from typing import Any

import uvicorn

RECORDED: list[dict[str, Any]] = []


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    target = scope.get("raw_path", b"").decode("latin-1")
    if scope.get("query_string"):
        target += "?" + scope["query_string"].decode("latin-1")
    if target.startswith("/__recorder/requests"):
        if scope["method"] == "DELETE":
            RECORDED.clear()
        await _json(send, 200, RECORDED)
        return
    body = b""
    complete = False
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            complete = message["type"] == "http.request"  # else the sender went away mid-body
            break
    RECORDED.append(
        {
            "method": scope["method"],
            "target": target,
            "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in scope["headers"]],
            "body_b64": base64.b64encode(body).decode(),
            "complete": complete,
        }
    )
    if target.startswith("/sse/"):
        await _sse(send)
        return
    if target.startswith("/big/"):
        await _big(send, int(target[len("/big/") :].split("?")[0]))
        return
    extra = CORS_ANSWER if "/cors/" in target else []
    asked = _STATUS.search(target)
    if asked:
        extra = [*extra, OWN_COOKIE]
    status = int(asked.group(1)) if asked else 200
    await _json(send, status, {"ok": True, "path": target, "padding": "x" * 100}, extra)


#: `/status/<n>/`: the status to answer with
_STATUS = re.compile(r"/status/([1-5][0-9][0-9])/")
#: the cookie an upstream sets itself, on a `/status/<n>/` answer
OWN_COOKIE = (b"set-cookie", b"app_cookie=upstream; Path=/")

#: what a careless upstream says about CORS
CORS_ANSWER = [
    (b"access-control-allow-origin", b"*"),
    (b"Access-Control-Allow-Credentials", b"true"),
    (b"access-control-allow-methods", b"GET, POST, PUT, DELETE"),
    (b"access-control-expose-headers", b"*"),
]


async def _json(send: Any, status: int, doc: object, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps(doc).encode()
    headers = [(b"content-type", b"application/json"), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _big(send: Any, size: int) -> None:
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/octet-stream")]}
    )
    pattern = b"0123456789" * 6554  # 65540 bytes
    sent = 0
    while sent < size:
        chunk = pattern[: min(len(pattern), size - sent)]
        sent += len(chunk)
        await send({"type": "http.response.body", "body": chunk, "more_body": sent < size})


async def _sse(send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
    n = 0
    while True:
        n += 1
        try:
            await send({"type": "http.response.body", "body": f"data: {n}\n\n".encode(), "more_body": True})
        except OSError:  # the client went away
            return
        await asyncio.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    # never-ending streams (/sse/) are cut 1 s into a stop instead of holding it up
    uvicorn.run(
        app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False, timeout_graceful_shutdown=1
    )


if __name__ == "__main__":
    main()
