"""The `server` blocks of the edge configuration.

Each server hands a request to the gateway (`@gateway`, reached by `return 418`) unless it is
plain and one of its edge locations takes it; there nginx asks `/decisions` about the request
as it arrived (the decision cached per credential and request), and on a 200 forwards it with
the decision's identity headers. A denial, or a decision nginx could not get, goes to the
gateway too, which answers exactly as it does alone (JSON body, `WWW-Authenticate`,
`Retry-After`, the browser's login redirect). A refreshed session cookie the decision carries
(`Set-Cookie`, in an answer nginx never caches) goes to the client with whatever answers the
request: the upstream's response, the gateway's, or nginx's own error.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from gateway.config.settings import Settings
from gateway.edge.nginx_http import CACHE_ZONE, GATEWAY_UPSTREAM, Believed, upstream_name
from gateway.edge.plan import Group, Location, Server, methods_of
from gateway.edge.route_key import route_key
from gateway.endpoints.forward_auth import DESCRIBING
from gateway.endpoints.registry import ENDPOINTS
from gateway.forward.headers import CORS_RESPONSE, FORWARDING_HEADERS, HOP_BY_HOP, IDENTITY_HEADERS
from gateway.policy import Forward, Route

#: internal locations (';' is refused by the gateway in any path: no route can be shadowed)
DECISION = '"/_edge;decision"'
MALFORMED = '"/_edge;malformed"'
#: identity headers copied from the decision (X-Request-Id is nginx's own, like the forwarding ones)
COPIED = sorted(IDENTITY_HEADERS - {"x-request-id"})
SET_BY_NGINX = {"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"}
#: hop-by-hop headers nginx writes itself for the upstream connection (Connection is set below)
NGINX_FRAMES = {"connection", "transfer-encoding"}
#: response headers an upstream (or, through it, the gateway) must not use to steer nginx
STEERING = "X-Accel-Redirect X-Accel-Expires X-Accel-Limit-Rate X-Accel-Buffering X-Accel-Charset"
DEFAULT_TIMEOUT = 30.0
EMPTY = '""'
#: the decision's refreshed session cookie, on every answer to the request it was decided for
#: (`always`: at any status; an empty value adds no header)
SET_COOKIE = "add_header Set-Cookie $decided_set_cookie always;"


def title(name: str) -> str:
    return "-".join(part.capitalize() for part in name.split("-"))


def decided(name: str) -> str:
    return "$decided_" + name.removeprefix("x-").replace("-", "_")


class ServerRenderer:
    def __init__(
        self, settings: Settings, listen: str, believed: Believed, methods: dict[frozenset[str], str], wait: float
    ) -> None:
        self.settings = settings
        self.listen = listen
        self.believed = believed
        #: methods an edge location takes -> the variable that says whether the request's is one
        self.methods = methods
        #: seconds nginx waits on the gateway: longer than any route's own timeout
        self.wait = wait

    def server(self, server: Server) -> list[str]:
        default = not server.hosts
        names = " ".join(server.hosts) if server.hosts else '""'
        body = [
            f"listen {self.listen}{' default_server' if default else ''};",
            f"server_name {names};",
            *self._hardening(),
            "# the gateway's own endpoints",
            *(f"location = {e.path} {{ return 418; }}" for e in ENDPOINTS),
            *(f"location ^~ {e.path}/ {{ return 418; }}" for e in ENDPOINTS if e.subtree),
            "",
            *_block("location /", self._edge_common() + self._groups(server.groups) + ["return 418;"]),
            *self._decision(),
            *self._gateway(),
            *self._errors(),
        ]
        return _block("server", body)

    def _hardening(self) -> list[str]:
        limits = self.settings.limits
        return [
            "# X_User_Id, x.user.id: a header spelt with '_' or '.' reaches neither the gateway nor an upstream",
            "underscores_in_headers off;",
            "ignore_invalid_headers on;",
            "server_tokens off;",
            "default_type application/json;",
            "client_max_body_size 0;  # the gateway bounds the bodies it reads (GATEWAY_MAX_BODY_BYTES)",
            f"client_header_timeout {limits.header_timeout:g}s;  # GATEWAY_HEADER_TIMEOUT",
            f"client_body_timeout {limits.body_timeout:g}s;  # GATEWAY_BODY_TIMEOUT (between reads here)",
            f"large_client_header_buffers 4 {max(1, limits.max_header_bytes // 1024)}k;  # GATEWAY_MAX_HEADER_BYTES",
            "recursive_error_pages on;",
            f"error_page 400 {MALFORMED};  # a request nginx refuses itself (malformed, two Host lines)",
            "error_page 418 = @gateway;",
            "",
        ]

    def _edge_common(self) -> list[str]:
        """What every request nginx forwards itself gets (the nested locations inherit it)."""
        return [
            "# a denial, or no decision: the gateway answers (its status, body, WWW-Authenticate, Retry-After)",
            "error_page 401 403 418 500 = @gateway;",
            "error_page 502 = @edge_bad_gateway;",
            "error_page 504 = @edge_upstream_timeout;",
            *(f"auth_request_set {decided(n)} $upstream_http_{n.replace('-', '_')};" for n in COPIED),
            "auth_request_set $decided_set_cookie $upstream_http_set_cookie;",
            *self._upstream_headers(),
            *self._upstream_answer(),
            "",
        ]

    def _upstream_headers(self) -> list[str]:
        b = self.believed
        cleared = sorted((FORWARDING_HEADERS - SET_BY_NGINX) | (HOP_BY_HOP - NGINX_FRAMES) | {"x-organization-id"})
        return [
            "# identity headers: the decision's in every spelling, or none",
            *(f"proxy_set_header {title(n)} {decided(n)};" for n in COPIED),
            f"proxy_set_header X-Request-Id {b.request_id};",
            f"proxy_set_header X-Forwarded-For {b.forwarded_for};",
            f"proxy_set_header X-Forwarded-Proto {b.proto};",
            f"proxy_set_header X-Forwarded-Host {b.host};",
            "# the credential the gateway consumed (authenticated routes), what only a proxy may say",
            "proxy_set_header Authorization $edge_authorization;",
            "proxy_set_header X-Session-Token $edge_session_token;",
            "proxy_set_header Cookie $edge_cookie;",
            'proxy_set_header X-Edge-Route "";',
            *(f'proxy_set_header {title(n)} "";' for n in cleared),
            'proxy_set_header Connection "";',
            "proxy_http_version 1.1;",
        ]

    def _upstream_answer(self) -> list[str]:
        return [
            "# the gateway owns CORS, the request id and a refreshed session cookie; an upstream never steers nginx",
            *(f"proxy_hide_header {title(n)};" for n in sorted(CORS_RESPONSE)),
            "proxy_hide_header X-Request-Id;",
            f"add_header X-Request-Id {self.believed.request_id} always;",
            SET_COOKIE,
            f"proxy_ignore_headers {STEERING};",
            "proxy_redirect off;",
            "proxy_request_buffering off;",
            "proxy_max_temp_file_size 0;",
            "proxy_connect_timeout 5s;",
            f"proxy_read_timeout {DEFAULT_TIMEOUT:g}s;",
            f"proxy_send_timeout {DEFAULT_TIMEOUT:g}s;",
        ]

    def _groups(self, groups: tuple[Group, ...]) -> list[str]:
        lines: list[str] = []
        for group in groups:
            nested = [line for loc in group.locations for line in self._location(loc, group.tenant)]
            if group.prefix:
                lines += _block(f"location ^~ {group.prefix}/", [*nested, "return 418;"])
                lines.append(f"location = {group.prefix} {{ return 418; }}")
            else:
                lines += [f"# tenant {group.tenant} at the root", *nested]
        return lines

    def _location(self, location: Location, tenant: str) -> list[str]:
        head = f'location ~ "{location.regex}"'
        edge = location.edge
        if edge is None:
            ids = ", ".join(sorted({r.id for r in location.routes}))
            return [f"# {ids}: the gateway", f"{head} {{ return 418; }}"]
        return [_comment(edge), *_block(head, self._forward(edge, tenant, location.target))]

    def _forward(self, route: Route, tenant: str, path: str) -> list[str]:
        target = route.target
        assert isinstance(target, Forward)
        url = urlsplit(self.settings.upstreams[target.upstream])
        methods = methods_of(route)
        takes = "$edge_to_gateway" if methods is None else f"{self.methods[methods]} = 0"
        lines = [
            f"if ({takes}) {{ return 418; }}",
            f'set $edge_route "{route_key(route)}";',
            f"set $edge_consumes {EMPTY if route.anonymous else tenant};",
            "set $edge_path $uri;",
            f"auth_request {DECISION};",
        ]
        if route.timeout != DEFAULT_TIMEOUT:
            lines += [f"proxy_read_timeout {route.timeout:g}s;", f"proxy_send_timeout {route.timeout:g}s;"]
        if url.scheme == "https":
            lines += _tls(url.hostname or "")
        base = url.path.rstrip("/")
        lines.append(f"proxy_pass {url.scheme}://{upstream_name(target.upstream)}{base}{path}$is_args$args;")
        return lines

    def _decision(self) -> list[str]:
        b = self.believed
        body = [
            "internal;",
            "# the request as it arrived: its own method, its target after /decisions; never a body",
            f"proxy_pass http://{GATEWAY_UPSTREAM}/decisions$request_uri;",
            "proxy_method $request_method;",
            "proxy_pass_request_body off;",
            'proxy_set_header Content-Length "";',
            'proxy_set_header Transfer-Encoding "";',
            *(f'proxy_set_header {title(n)} "";' for n in sorted(DESCRIBING | {"x-forwarded-prefix"})),
            "proxy_set_header X-Edge-Route $edge_route;",
            "proxy_set_header Host $http_host;",
            f"proxy_set_header X-Forwarded-For {b.forwarded_for};",
            f"proxy_set_header X-Forwarded-Proto {b.proto};",
            "proxy_set_header X-Forwarded-Host $host;  # the host this server was chosen by",
            f"proxy_set_header X-Request-Id {b.request_id};",
            'proxy_set_header Connection "";',
            "proxy_http_version 1.1;",
            "# a 401 reaches auth_request as a 403: the gateway's own answer then carries its WWW-Authenticate once",
            "proxy_intercept_errors on;",
            "error_page 401 = @edge_denied;",
            "proxy_read_timeout 30s;",
            *self._cache(),
        ]
        return ["", *_block(f"location = {DECISION}", body), "location @edge_denied { return 403; }"]

    def _cache(self) -> list[str]:
        if not self.settings.edge_cache_ttl:
            return []
        key = "|".join(
            (
                "$request_method",
                "$host",
                "$edge_path",
                self.believed.proto,
                "$http_authorization",
                "$http_x_session_token",
                "$http_cookie",
                "$http_x_organization_id",
                "$http_origin",
                "$http_sec_fetch_site",
            )
        )
        return [
            "# every input of the decision: method, host, path, scheme, credential, organization, page",
            f"proxy_cache {CACHE_ZONE};",
            f'proxy_cache_key "{key}";',
            "proxy_ignore_headers Cache-Control Expires;  # X-Accel-Expires alone says how long",
            "# an answer with a refreshed session cookie is never stored (X-Accel-Expires: 0, and nginx stores",
            "# no answer with Set-Cookie): a reused decision never carries one",
            "# no proxy_cache_lock: a request waiting on it polls every 500 ms; when a decision expires",
            "# the requests in flight ask the gateway at once, and its own decision cache answers them",
        ]

    def _gateway(self) -> list[str]:
        b = self.believed
        body = [
            f"proxy_pass http://{GATEWAY_UPSTREAM}$request_uri;",
            "proxy_set_header Host $http_host;",
            f"proxy_set_header X-Forwarded-For {b.forwarded_for};",
            f"proxy_set_header X-Forwarded-Proto {b.proto};",
            f"proxy_set_header X-Forwarded-Host {b.host};",
            f"proxy_set_header X-Request-Id {b.request_id};",
            'proxy_set_header X-Edge-Route "";',
            "proxy_set_header Upgrade $http_upgrade;",
            "proxy_set_header Connection $edge_connection;",
            "proxy_http_version 1.1;",
            "proxy_buffering off;  # streams flow as the gateway writes them",
            "proxy_request_buffering off;",
            f"proxy_ignore_headers {STEERING};",
            "proxy_redirect off;",
            f"proxy_read_timeout {self.wait:g}s;",
            f"proxy_send_timeout {self.wait:g}s;",
            "error_page 502 504 = @edge_gateway_unavailable;",
            "add_header Set-Cookie $edge_set_cookie always;  # after a denial: the decision's refreshed cookie",
        ]
        return ["", *_block("location @gateway", body)]

    def _errors(self) -> list[str]:
        rid = self.believed.request_id
        answers = {
            f"= {MALFORMED}": (400, "bad_request", "malformed or ambiguous request"),
            "@edge_bad_gateway": (502, "bad_gateway", "the upstream could not be reached"),
            "@edge_upstream_timeout": (504, "upstream_timeout", "the upstream did not answer in time"),
            "@edge_gateway_unavailable": (502, "bad_gateway", "the gateway could not be reached"),
        }
        headers = ["add_header Cache-Control no-store always;", f"add_header X-Request-Id {rid} always;", SET_COOKIE]
        lines = ["", "# what nginx answers itself: JSON, as the gateway would"]
        for name, (status, code, text) in answers.items():
            body = f'{{"error":"{code}","error_description":"{text}","request_id":"{rid}"}}'
            internal = ["internal;"] if name.startswith("=") else []
            lines += _block(f"location {name}", [*internal, *headers, f"return {status} '{body}';"])
        return lines


def _comment(route: Route) -> str:
    target = route.target
    assert isinstance(target, Forward)
    methods = ",".join(sorted(route.methods))
    who = "anyone" if route.anonymous else "/".join(route.kinds)
    file, _, line = route.source.rpartition(":")
    return f"# {route.id}: {methods} {route.pattern.text} -> {target.upstream} for {who}  [{Path(file).name}:{line}]"


def _tls(host: str) -> list[str]:
    return [
        "proxy_ssl_server_name on;",
        f"proxy_ssl_name {host};",
        "proxy_ssl_verify on;",
        "proxy_ssl_trusted_certificate /etc/ssl/certs/ca-certificates.crt;",
        "proxy_ssl_session_reuse on;",
    ]


def _block(head: str, body: list[str]) -> list[str]:
    return [f"{head} {{", *(f"    {line}" if line else "" for line in body), "}"]
