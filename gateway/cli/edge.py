"""`gateway edge nginx [--out FILE]`: the nginx configuration of edge mode (docs/edge.md).

nginx forwards the routes the gateway decides without the body, after asking `/decisions`
(decisions cached for GATEWAY_EDGE_CACHE_TTL seconds at most); everything else goes to the
gateway. Rendered from the environment and policies, like `gateway serve` reads them; a
problem that would stop it from working (`gateway.edge.problems`) is one line each and no
output. `gateway check` shows the same plan (`describe`) and, with `--edge`, fails on the
same problems.
"""

from __future__ import annotations

import argparse
import ipaddress
import re
import sys
from pathlib import Path

from gateway.config.problems import ConfigError
from gateway.config.settings import Network, Settings
from gateway.edge.nginx import Options, render
from gateway.edge.plan import EdgePlan, Through, plan
from gateway.edge.problems import default_gateway, edge_problems, nginx_trusts, resolves
from gateway.policy import PolicySet

CACHE_DIR = "/var/cache/nginx/ory-gateway"
_LISTEN = re.compile(r"(?:(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):)?[0-9]{1,5}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    which = parser.add_subparsers(title="proxies", metavar="PROXY", dest="proxy", required=True)
    nginx = which.add_parser("nginx", help="an nginx configuration (an http-block include)")
    nginx.add_argument("--out", type=Path, help="write it here (default: standard output)")
    nginx.add_argument("--listen", default="8000", help="nginx's listen: PORT or ADDRESS:PORT (default 8000)")
    nginx.add_argument("--gateway", help="HOST:PORT nginx reaches the gateway at (default: from GATEWAY_LISTEN)")
    nginx.add_argument("--cache-dir", default=CACHE_DIR, help=f"nginx's decision cache (default {CACHE_DIR})")
    nginx.add_argument(
        "--trusted-proxies",
        help="CIDRs whose X-Forwarded-* nginx believes (default: GATEWAY_TRUSTED_PROXIES without loopback)",
    )
    nginx.add_argument("--no-resolve", action="store_true", help="do not check that upstream host names resolve here")


def run(args: argparse.Namespace, settings: Settings, policies: PolicySet) -> int:
    options = _options(args, settings)
    edge = plan(settings, policies)
    problems = edge_problems(settings, edge, options.gateway, None if args.no_resolve else resolves)
    if problems:
        raise ConfigError(problems)
    text = render(settings, policies, options)
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.write_text(text)
        print(f"{args.out}: {len(edge.edge_routes)} routes at nginx", file=sys.stderr)
    return 0


def describe(edge: EdgePlan) -> dict[str, list[str]]:
    """Per tenant, where each route goes: `nginx`, or the gateway and why (`gateway check`)."""
    return {
        tenant: [
            f"{r.route.id} {r.route.pattern.text}: the gateway ({r.why})"
            if isinstance(r, Through)
            else f"{r.id} {r.pattern.text}: nginx"
            for r in routes
        ]
        for tenant, routes in edge.routes.items()
    }


def _options(args: argparse.Namespace, settings: Settings) -> Options:
    problems = []
    if not _LISTEN.fullmatch(args.listen):
        problems.append(f"--listen: want PORT or ADDRESS:PORT, got {args.listen!r}")
    gateway = args.gateway or default_gateway(settings)
    if not _LISTEN.fullmatch(gateway) or ":" not in gateway:
        problems.append(f"--gateway: want HOST:PORT, got {gateway!r}")
    trusted = nginx_trusts(settings.trusted_proxies) if args.trusted_proxies is None else _networks(args, problems)
    if not args.cache_dir.startswith("/"):
        problems.append(f"--cache-dir: want an absolute path, got {args.cache_dir!r}")
    if problems:
        raise ConfigError(problems)
    return Options(args.listen, gateway, args.cache_dir, trusted)


def _networks(args: argparse.Namespace, problems: list[str]) -> tuple[Network, ...]:
    found: list[Network] = []
    for raw in filter(None, args.trusted_proxies.replace(" ", ",").split(",")):
        try:
            found.append(ipaddress.ip_network(raw, strict=False))
        except ValueError:
            problems.append(f"--trusted-proxies: not a CIDR: {raw!r}")
    return tuple(found)
