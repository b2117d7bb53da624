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

from gateway.config.settings import Network
from gateway.front.request import RequestView

_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")


# a NamedTuple, not a frozen dataclass: built per request (docs/performance.md)
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

    def origin_of(self, peer: str, scheme: str, request: RequestView) -> Origin:
        """Who is calling, read from the request's header index (`RequestView.first`)."""
        first, repeated = request.first, request.repeated
        # two Host lines are ambiguous: "a,b" fails tenants' host check (400)
        host = first.get(b"host", b"") if repeated is None else b",".join(repeated.get(b"host", ()))
        if not self.networks or not self._trusted(peer):
            request_id = f"{_ID_PREFIX}{next(_ID_COUNTER):010x}"  # new_request_id(), one call fewer per request
            return Origin(peer, scheme, host.decode("latin-1"), request_id, peer)
        if repeated is None:
            xff, xfp = first.get(b"x-forwarded-for"), first.get(b"x-forwarded-proto")
            xfh, rid = first.get(b"x-forwarded-host"), first.get(b"x-request-id")
        else:
            xff = b", ".join(repeated[b"x-forwarded-for"]) if b"x-forwarded-for" in repeated else None
            xfp, xfh, rid = (repeated.get(n, (None,))[-1] for n in _LAST_WINS)
        chain = [p.strip() for p in (xff or b"").decode("latin-1").split(",") if p.strip()]
        client = _first_untrusted(self, chain) or peer
        return Origin(
            client_ip=client,
            scheme=_scheme(xfp, scheme),
            host=(xfh.decode("latin-1").split(",")[0].strip() if xfh else host.decode("latin-1")),
            request_id=rid.decode() if rid and _REQUEST_ID.fullmatch(rid) else new_request_id(),
            forwarded_for=", ".join([*chain, peer]),
        )


#: forwarded headers of which the last copy counts
_LAST_WINS = (b"x-forwarded-proto", b"x-forwarded-host", b"x-request-id")


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
