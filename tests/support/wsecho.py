"""A websocket echo upstream, run as its own process: echoes frames and, first, the
identity headers it was given (so tests see what the upstream received).

    python -m tests.support.wsecho --port 9001 [--record FILE]

With ``--record FILE`` each handshake (path and headers) is appended to FILE as a JSON line.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from aiohttp import WSMsgType, web

RECORD_TO: list[Any] = []  # the open --record file, if any


async def echo(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    seen = {k.lower(): v for k, v in request.headers.items()}
    if RECORD_TO:
        RECORD_TO[0].write(json.dumps({"path": request.path_qs, "headers": list(request.headers.items())}) + "\n")
        RECORD_TO[0].flush()
    await ws.send_str(json.dumps({"path": request.path_qs, "headers": seen}))
    async for message in ws:
        if message.type == WSMsgType.TEXT:
            await ws.send_str("echo:" + message.data)
        elif message.type == WSMsgType.BINARY:
            await ws.send_bytes(message.data)
    return ws


async def health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--record", help="append each handshake to this file (JSON lines)")
    args = parser.parse_args()
    if args.record:
        RECORD_TO.append(open(args.record, "a"))  # noqa: SIM115 - open for the process's life
    app = web.Application()
    app.router.add_get("/health", health)
    app.router.add_get("/{tail:.*}", echo)
    web.run_app(app, host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()
