"""What would stop a rendered edge configuration from working, one line per problem.

- the gateway must believe what nginx passes on (client address, scheme, host), so
  GATEWAY_TRUSTED_PROXIES must hold the address nginx connects from: loopback when the
  gateway is reached on loopback, and not empty otherwise;
- nginx resolves an upstream's host name once, when it starts, and refuses to start when a
  name does not resolve: every upstream nginx forwards to must resolve (where this runs).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

from gateway.config.settings import Network, Settings
from gateway.edge.plan import EdgePlan

Resolver = Callable[[str, int], object]


def edge_problems(settings: Settings, plan: EdgePlan, gateway: str, resolve: Resolver | None) -> list[str]:
    found = _trust(settings.trusted_proxies, gateway)
    if resolve is not None:
        found += _unresolved(settings, plan, resolve)
    return found


def default_gateway(settings: Settings) -> str:
    """host:port nginx reaches the gateway at, from GATEWAY_LISTEN (an any-address is loopback)."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(settings.listen_host, settings.listen_host)
    return f"[{host}]:{settings.listen_port}" if ":" in host else f"{host}:{settings.listen_port}"


def nginx_trusts(trusted: tuple[Network, ...]) -> tuple[Network, ...]:
    """The peers nginx believes: the gateway's trusted proxies without loopback, which stands for
    nginx itself beside the gateway."""
    return tuple(n for n in trusted if not n.is_loopback)


def resolves(host: str, port: int) -> object:
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)


def _trust(trusted: tuple[Network, ...], gateway: str) -> list[str]:
    host = urlsplit(f"//{gateway}").hostname or ""
    try:
        peer = ipaddress.ip_address("127.0.0.1" if host == "localhost" else host)
    except ValueError:
        peer = None
    if peer is not None and peer.is_loopback and not any(peer in n for n in trusted):
        size = 32 if peer.version == 4 else 128
        return [
            f"GATEWAY_TRUSTED_PROXIES: add {peer}/{size}: the gateway must believe the client address, "
            "scheme and host nginx passes on from beside it"
        ]
    if not trusted:
        return [
            "GATEWAY_TRUSTED_PROXIES: list the address nginx connects from: the gateway must believe what it passes on"
        ]
    return []


def _unresolved(settings: Settings, plan: EdgePlan, resolve: Resolver) -> list[str]:
    found = []
    for name in plan.upstreams:
        url = urlsplit(settings.upstreams[name])
        host = url.hostname or ""
        try:
            resolve(host, url.port or (443 if url.scheme == "https" else 80))
        except OSError:
            variable = f"GATEWAY_UPSTREAM_{name.upper().replace('-', '_')}_URL"
            found.append(
                f"{variable}: nginx cannot reach upstream {name}: {host!r} does not resolve here "
                "(nginx resolves it once, when it starts; --no-resolve renders anyway)"
            )
    return found
