"""`gateway edge nginx`: the whole edge configuration, an `http`-block include.

    render(settings, policies, Options(...)) -> str

`gateway.edge.plan` decides what nginx forwards itself and in which order it tries the
paths; `nginx_http` writes the upstreams, the decision cache and the maps; `nginx_server`
one server per set of hosts. docs/edge.md explains every part.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.config.settings import Network, Settings
from gateway.edge import nginx_http
from gateway.edge.nginx_http import TRUSTED, Believed, http_block, method_variables
from gateway.edge.nginx_server import ServerRenderer
from gateway.edge.plan import EdgePlan, Through, plan
from gateway.policy import PolicySet


@dataclass(frozen=True, slots=True)
class Options:
    #: nginx's `listen` (a port, or address:port)
    listen: str
    #: host:port nginx reaches the gateway at
    gateway: str
    #: where nginx keeps the decisions it may reuse
    cache_dir: str
    #: peers whose X-Forwarded-* nginx believes
    trusted: tuple[Network, ...]


def render(settings: Settings, policies: PolicySet, options: Options) -> str:
    edge = plan(settings, policies)
    believed = TRUSTED if options.trusted else Believed()
    wait = max([60.0, *(max(r.timeout, r.idle_timeout) + 5 for rs in policies.routes.values() for r in rs)])
    servers = ServerRenderer(settings, options.listen, believed, method_variables(edge), wait)
    lines = [*_header(edge, settings), ""]
    lines += http_block(edge, settings, options.gateway, options.cache_dir, options.trusted)
    for server in edge.servers:
        lines += ["", *servers.server(server)]
    return "\n".join(lines) + "\n"


def _header(edge: EdgePlan, settings: Settings) -> list[str]:
    through = [r for routes in edge.routes.values() for r in routes if isinstance(r, Through)]
    return [
        "# The Ory gateway's edge: nginx forwards the routes of the locations below itself, after asking",
        "# the gateway's /decisions about each request; everything else goes to the gateway. Rendered by",
        f"# `gateway edge nginx` from the environment and {settings.policies_dir.name}/: render it again after a",
        "# change (until then a location whose route changed hands its requests to the gateway).",
        "# Include it in nginx's http block (nginx >= 1.22; `pcre_jit on;` in the main context helps).",
        f"# {len(edge.edge_routes)} routes at nginx, {len(through)} through the gateway (`gateway check` says why).",
        "# docs/edge.md explains each part.",
    ]


__all__ = ["Options", "nginx_http", "render"]
