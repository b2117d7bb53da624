"""Which forwarded headers are believed: only those sent by a trusted proxy.

`GATEWAY_TRUSTED_PROXIES` lists the CIDRs whose `X-Forwarded-*` and `X-Request-Id`
count. From anyone else they are ignored (and stripped by gateway.forward.headers).
"""

from __future__ import annotations

import ipaddress
import itertools
import re
import secrets
from functools import lru_cache
from typing import NamedTuple

from gateway.config.load import Network

_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")


# a NamedTuple, not a frozen dataclass: built per request (docs/performance.md, "Measurements behind the code")
class Origin(NamedTuple):
    client_ip: str
    scheme: str
    host: str
    request_id: str
    #: the X-Forwarded-For value to send upstream
    forwarded_for: str


class TrustedProxies:
    def __init__(self, networks: tuple[Network, ...]) -> None:
        self.networks = networks
        self._trusted = lru_cache(maxsize=4096)(self._check)

    def _check(self, ip: str) -> bool:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(addr in net for net in self.networks)

    def trusts(self, ip: str) -> bool:
        return bool(self.networks) and self._trusted(ip)

    def origin(self, peer: str, scheme: str, headers: list[tuple[bytes, bytes]]) -> Origin:
        host = b""
        xff = xfp = xfh = rid = None
        for name, value in headers:
            if name == b"host":  # two Host lines are ambiguous: "a,b" fails tenants' host check (400)
                host = value if not host else host + b"," + value
            elif name == b"x-forwarded-for":
                xff = value if xff is None else xff + b", " + value
            elif name == b"x-forwarded-proto":
                xfp = value
            elif name == b"x-forwarded-host":
                xfh = value
            elif name == b"x-request-id":
                rid = value
        if not self.trusts(peer):
            return Origin(peer, scheme, host.decode("latin-1"), new_request_id(), peer)
        chain = [p.strip() for p in (xff or b"").decode("latin-1").split(",") if p.strip()]
        client = _first_untrusted(self, chain) or peer
        return Origin(
            client_ip=client,
            scheme=_scheme(xfp, scheme),
            host=(xfh.decode("latin-1").split(",")[0].strip() if xfh else host.decode("latin-1")),
            request_id=rid.decode() if rid and _REQUEST_ID.fullmatch(rid) else new_request_id(),
            forwarded_for=", ".join([*chain, peer]),
        )


def _first_untrusted(proxies: TrustedProxies, chain: list[str]) -> str | None:
    """Walk X-Forwarded-For from the right; the first hop we do not trust is the client."""
    for hop in reversed(chain):
        if not proxies.trusts(hop):
            return hop
    return chain[0] if chain else None


_ID_PREFIX = secrets.token_hex(6)
_ID_COUNTER = itertools.count(1)


def new_request_id() -> str:
    """Unique per process (random prefix) and cheap (a counter): no syscall per request."""
    return f"{_ID_PREFIX}{next(_ID_COUNTER):010x}"


def _scheme(xfp: bytes | None, default: str) -> str:
    value = xfp.decode("latin-1").split(",")[0].strip().lower() if xfp else default
    return value if value in ("http", "https") else default
