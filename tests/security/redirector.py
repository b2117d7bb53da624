"""A tiny upstream that answers every request with a redirect, in a thread of the test
process: ``GET /redirect/x?to=<url>`` -> ``302 Location: <url>`` (as an upstream that
echoes ``return_to`` would). It records the targets it was asked for."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class Redirector:
    def __init__(self, server: ThreadingHTTPServer) -> None:
        self.server = server
        self.targets: list[str] = []

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"


@contextmanager
def redirector() -> Iterator[Redirector]:
    state: list[Redirector] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state[0].targets.append(self.path)
            to = parse_qs(urlsplit(self.path).query).get("to", ["/"])[0]
            self.send_response(302)
            self.send_header("Location", to)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.append(Redirector(server))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state[0]
    finally:
        server.shutdown()
        server.server_close()
