"""Web origins: the one normal form, and each tenant's trusted origins from the environment.

An origin is ``scheme://host[:port]`` (RFC 6454): scheme ``http`` or ``https``, a host
name or IP literal, an optional port, and nothing else. `normalise_origin` gives the one
form every comparison uses (lower-case scheme and host, the default port ``:80`` /
``:443`` dropped); anything else - a path (even a lone ``/``), a query, user-info, a
wildcard, ``null``, another scheme - is not an origin at all (None). Configured origins
and the `Origin` header of a request are compared in this form, exactly: no suffix,
prefix or pattern matching.

``GATEWAY_TENANT_<T>_TRUSTED_ORIGINS`` (comma list) names the origins whose pages may
send the tenant's session cookie on requests that change state, and which get CORS
answers. Unset, it defaults to the tenant's ``HOSTS`` as ``https://`` origins plus the
origin of ``GATEWAY_PUBLIC_URL``. A malformed entry is a problem naming the variable.
"""

from __future__ import annotations

import functools
import re

from gateway.config.env import EnvReader

_DEFAULT_PORTS = {"http": "80", "https": "443"}
#: scheme :// host (reg-name or bracketed IPv6) [: port], and nothing after it
_ORIGIN = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://"
    r"(?P<host>[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])"
    r"(?::(?P<port>[0-9]{1,5}))?"
)


@functools.lru_cache(maxsize=1024)
def normalise_origin(text: str) -> str | None:
    """The normal form of origin `text`, or None when `text` is not an http(s) origin."""
    found = _ORIGIN.fullmatch(text)
    if found is None:
        return None
    scheme, host, port = found.group("scheme").lower(), found.group("host").lower(), found.group("port")
    if scheme not in _DEFAULT_PORTS or host.startswith(".") or host.endswith(".") or ".." in host:
        return None
    if port is not None and not 0 < int(port) < 65536:
        return None
    if port is None or port.lstrip("0") == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{int(port)}"


def origin_of_url(url: str) -> str | None:
    """The origin of an absolute http(s) URL (its scheme, host and port)."""
    scheme, sep, rest = url.partition("://")
    return normalise_origin(f"{scheme}://{rest.split('/', 1)[0]}") if sep else None


def default_origins(hosts: tuple[str, ...], public_url: str) -> tuple[str, ...]:
    """A tenant's trusted origins when none are configured: its hosts as `https://` origins,
    then the origin of `GATEWAY_PUBLIC_URL`, without duplicates."""
    candidates = [o for o in (normalise_origin(f"https://{host}") for host in hosts) if o]
    public = origin_of_url(public_url)
    return tuple(dict.fromkeys(candidates + ([public] if public else [])))


def read_origins(r: EnvReader, name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    """The tenant's trusted origins, normalised, without duplicates, in the order given."""
    raw = r.get(name)
    if raw is None:
        return default
    found: list[str] = []
    for entry in (e.strip() for e in raw.split(",")):
        if not entry:
            continue
        origin = normalise_origin(entry)
        if origin is None:
            r.problem(name, f"not an origin: {entry!r} (want scheme://host[:port]: http or https, no path or wildcard)")
        elif origin not in found:
            found.append(origin)
    return tuple(found)
