"""The metrics listener (`GATEWAY_METRICS_LISTEN`): Prometheus' own WSGI app on its own port,
in a daemon thread, with a few JSON pages beside `/metrics` (`/_gateway/tenants`).

Whoever reaches this port is trusted to read operational state, as with `/metrics`: keep it
on an internal network. Pages are rendered on the listener's thread from values the event
loop writes; they read copies.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

StartResponse = Callable[..., Any]


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return None


def start(
    host: str, port: int, registry: CollectorRegistry, pages: Mapping[str, Callable[[], bytes]]
) -> tuple[WSGIServer, threading.Thread]:
    metrics = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        page = pages.get(environ.get("PATH_INFO", ""))
        if page is None:
            return metrics(environ, start_response)  # type: ignore[no-any-return]
        body = page()
        start_response("200 OK", [("Content-Type", "application/json"), ("Cache-Control", "no-store")])
        return [body]

    family, address = _family(host, port)
    server_class = type("Listener", (ThreadingWSGIServer,), {"address_family": family})
    server: WSGIServer = make_server(address, port, app, server_class, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True, name="metrics-listener")
    thread.start()
    return server, thread


def _family(host: str, port: int) -> tuple[socket.AddressFamily, str]:
    """IPv4 or IPv6, as the address asks."""
    family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    return family, str(address[0])
