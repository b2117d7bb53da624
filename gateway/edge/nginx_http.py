"""The `http`-level part of the edge configuration: upstreams, the decision cache, and the
maps every server reads (which requests nginx may forward itself, what it believes of the
peer, what it takes out of a request it forwards).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from gateway.config.settings import Network, Settings
from gateway.edge.plan import EdgePlan, methods_of, pcre_literal

#: a target nginx may route itself: the gateway's canonical path as sent (no percent-encoding,
#: no dot or empty segment, no ';' or '\'), then any query
PLAIN = r"^(?:/(?!\.\.?(?:[/?]|$))[-A-Za-z0-9._~!$&'()*+,=:@]+)*/?(?:\?.*)?$"
#: the cache of decisions (`proxy_cache` on the decision location)
CACHE_ZONE = "ory_gateway_decisions"
GATEWAY_UPSTREAM = "ory_gateway"


@dataclass(frozen=True, slots=True)
class Believed:
    """What nginx sends on as the client's address, scheme, host and request id: from its own
    connection, or from a trusted peer's `X-Forwarded-*` (as the gateway would believe them)."""

    forwarded_for: str = "$remote_addr"
    proto: str = "$scheme"
    host: str = "$http_host"
    request_id: str = "$request_id"


TRUSTED = Believed("$edge_forwarded_for", "$edge_proto", "$edge_forwarded_host", "$edge_request_id")


def upstream_name(upstream: str) -> str:
    return "edge_" + upstream.replace("-", "_")


def method_variables(plan: EdgePlan) -> dict[frozenset[str], str]:
    """One `map` per set of methods an edge location takes: methods -> its variable."""
    sets = sorted({m for r in plan.edge_routes if (m := methods_of(r)) is not None}, key=sorted)
    return {methods: f"$edge_takes_{i}" for i, methods in enumerate(sets, 1)}


def cookie_variables(settings: Settings) -> dict[str, str]:
    """Tenant -> the variable holding `Cookie` without that tenant's session cookie (one map per
    cookie name)."""
    names = sorted({t.session_cookie_name for t in settings.tenants.values()})
    by_name = {name: f"$edge_cookie_{i}" for i, name in enumerate(names, 1)}
    return {t.name: by_name[t.session_cookie_name] for t in settings.tenants.values()}


def http_block(
    plan: EdgePlan, settings: Settings, gateway: str, cache_dir: str, trusted: Sequence[Network]
) -> list[str]:
    lines = [*_upstreams(plan, settings, gateway), ""]
    if settings.edge_cache_ttl:
        lines += [
            f"# decisions nginx may reuse: GATEWAY_EDGE_CACHE_TTL ({settings.edge_cache_ttl} s) at most, never past",
            "# the credential's expiry (each /decisions answer's X-Accel-Expires). A cache file names its key,",
            "# which holds the credential: keep this directory on tmpfs, readable by nginx only.",
            f"proxy_cache_path {cache_dir} levels=1:2 keys_zone={CACHE_ZONE}:10m max_size=128m"
            f" inactive={max(10, 2 * settings.edge_cache_ttl)}s use_temp_path=off;",
            "",
        ]
    lines += _routing_maps(plan)
    lines += _believed_maps(trusted)
    lines += _credential_maps(settings)
    lines += _refreshed_cookie_map()
    return lines


def _upstreams(plan: EdgePlan, settings: Settings, gateway: str) -> list[str]:
    lines = [f"upstream {GATEWAY_UPSTREAM} {{", f"    server {gateway};", "    keepalive 64;", "}"]
    for name in plan.upstreams:
        parts = urlsplit(settings.upstreams[name])
        port = parts.port or (443 if parts.scheme == "https" else 80)
        host = f"[{parts.hostname}]" if parts.hostname and ":" in parts.hostname else parts.hostname
        lines += [f"upstream {upstream_name(name)} {{", f"    server {host}:{port};", "    keepalive 64;", "}"]
    return lines


def _routing_maps(plan: EdgePlan) -> list[str]:
    lines = [
        "# nginx forwards a request itself only when its target is plain (what the gateway matches, as",
        "# sent), it has no Origin (CORS answers are the gateway's) and asks for no protocol upgrade",
        *_map("$request_uri", "$edge_plain", [(f'"~{PLAIN}"', "1")], "0"),
        *_map('"$edge_plain:$http_origin:$http_upgrade"', "$edge_to_gateway", [('"1::"', "0")], "1"),
        *_map("$http_upgrade", "$edge_connection", [('""', '""')], "upgrade"),
    ]
    for methods, variable in method_variables(plan).items():
        lines.append(f"# a request nginx may forward itself for an edge route taking {', '.join(sorted(methods))}")
        lines += _map('"$edge_to_gateway:$request_method"', variable, [(f'"0:{m}"', "1") for m in sorted(methods)], "0")
    return [*lines, ""]


def _believed_maps(trusted: Sequence[Network]) -> list[str]:
    """`TRUSTED`'s variables, from a peer in `trusted` (nothing when nginx trusts nobody)."""
    if not trusted:
        return []
    geo = ["geo $edge_trusted_peer {", "    default 0;", *(f"    {network} 1;" for network in trusted), "}"]
    maps = [
        ("$edge_forwarded_for", "$http_x_forwarded_for", [('"~^1(?<edge_chain>.+)$"', '"$edge_chain, $remote_addr"')]),
        (
            "$edge_proto",
            "$http_x_forwarded_proto",
            [('"~*^1\\s*https\\s*(?:,|$)"', "https"), ('"~*^1\\s*http\\s*(?:,|$)"', "http")],
        ),
        ("$edge_forwarded_host", "$http_x_forwarded_host", [('"~^1\\s*(?<edge_xfh>[^,\\s]+)"', "$edge_xfh")]),
        ("$edge_request_id", "$http_x_request_id", [('"~^1(?<edge_rid>[A-Za-z0-9._:-]{1,128})$"', "$edge_rid")]),
    ]
    defaults = {"$edge_forwarded_for": "$remote_addr", "$edge_proto": "$scheme"}
    defaults |= {"$edge_forwarded_host": "$http_host", "$edge_request_id": "$request_id"}
    lines = ["# peers whose X-Forwarded-* and X-Request-Id nginx believes (GATEWAY_TRUSTED_PROXIES but nginx itself)"]
    lines += geo
    for variable, header, entries in maps:
        lines += _map(f'"$edge_trusted_peer{header}"', variable, entries, defaults[variable])
    return [*lines, ""]


def _credential_maps(settings: Settings) -> list[str]:
    """What a forwarded request of an authenticated route loses: the credential the gateway
    consumed (`$edge_consumes` names the route's tenant; empty for anonymous routes)."""
    cookies = cookie_variables(settings)
    lines = [
        "# the credential the gateway consumed never reaches an upstream (anonymous routes keep it)",
        *_map("$edge_consumes", "$edge_authorization", [('""', "$http_authorization")], '""'),
        *_map("$edge_consumes", "$edge_session_token", [('""', "$http_x_session_token")], '""'),
        *_map("$edge_consumes", "$edge_cookie", list(cookies.items()), "$http_cookie"),
    ]
    names = {t.session_cookie_name: cookies[t.name] for t in settings.tenants.values()}
    for name, variable in sorted(names.items()):
        lines += _cookie_map(name, variable)
    return [*lines, ""]


def _refreshed_cookie_map() -> list[str]:
    """`$edge_set_cookie`: the decision's refreshed session cookie for the gateway's answer to a
    denied request, unless that answer sets the cookie itself (it asked Kratos again: a step-up
    is never answered from its cache)."""
    entries = [('""', "$decided_set_cookie")]
    comment = "# a denial the gateway answers carries the decision's refreshed session cookie, once"
    return [comment, *_map("$upstream_http_set_cookie", "$edge_set_cookie", entries, '""', volatile=True), ""]


def _cookie_map(name: str, variable: str) -> list[str]:
    """`Cookie` without the session cookie `name`: twice (a request the gateway only allows with
    one value) drops the whole header; else the pair goes, the other cookies stay."""
    n = pcre_literal(name)
    entries = [
        (f'"~(?:^|;)\\s*{n}=.*;\\s*{n}="', '""'),
        (f'"~^{n}=[^;]*$"', '""'),
        (f'"~^{n}=[^;]*;\\s*(?<edge_after>.*)$"', "$edge_after"),
        (f'"~^(?<edge_before>.*?);\\s*{n}=[^;]*(?<edge_after>(?:;.*)?)$"', '"$edge_before$edge_after"'),
    ]
    return [f"# Cookie without {name}", *_map("$http_cookie", variable, entries, "$http_cookie")]


def _map(
    source: str, variable: str, entries: Iterable[tuple[str, str]], default: str, *, volatile: bool = False
) -> list[str]:
    """A `map`; `volatile`: evaluated at each use (never a value read before the source was set)."""
    lines = ["    volatile;"] if volatile else []
    lines += (f"    {k} {v};" for k, v in entries)
    return [f"map {source} {variable} {{", *lines, f"    default {default};", "}"]
