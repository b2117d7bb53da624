"""`gateway` command line: serve, check, explain, emulate, demo, token, revoke, edge.

Bad input gives one line per problem on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from gateway.config.problems import ConfigError
from gateway.config.settings import Settings
from gateway.config.view import redacted
from gateway.load import load_all, load_settings
from gateway.orgs.sources import REGISTRY as MEMBERSHIP_SOURCES
from gateway.policy import Forward, PolicySet, Requirement, Route


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    try:
        code: int = args.run(args)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return code


def _parser() -> argparse.ArgumentParser:
    from gateway import demo
    from gateway.cli import edge, explain, revoke, token
    from gateway.emulator import cli as emulate

    parser = argparse.ArgumentParser(prog="gateway", description="Ory-backed multi-tenant identity gateway")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    serve = sub.add_parser("serve", help="run the proxy from environment configuration")
    serve.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    serve.set_defaults(run=_serve)
    check = sub.add_parser("check", help="validate env + policies and print the effective configuration")
    check.add_argument("--json", action="store_true", help="machine-readable output")
    check.add_argument("--edge", action="store_true", help="also fail on what would stop `gateway edge nginx`")
    check.set_defaults(run=_check)
    exp = sub.add_parser("explain", help="the decision for a hypothetical request, without network calls")
    explain.add_arguments(exp)
    exp.set_defaults(run=lambda a: explain.run(a, *load_all(os.environ)))
    emu = sub.add_parser(
        "emulate", help="Ory-compatible local server for development and tests (in memory, not for production)"
    )
    emulate.add_arguments(emu)
    emu.set_defaults(run=emulate.run)
    dem = sub.add_parser("demo", help="emulator + sample job service + gateway, with curl commands to try")
    demo.add_arguments(dem)
    dem.set_defaults(run=demo.run)
    tok = sub.add_parser("token", help="client-credentials token from a tenant's Hydra")
    token.add_arguments(tok)
    tok.set_defaults(run=lambda a: token.run(a, load_settings(os.environ)))
    rev = sub.add_parser("revoke", help="evict a session or token from every replica's decision cache")
    revoke.add_arguments(rev)
    rev.set_defaults(run=lambda a: revoke.run(a, load_settings(os.environ)))
    edg = sub.add_parser("edge", help="a front proxy configuration: nginx forwards, the gateway decides")
    edge.add_arguments(edg)
    edg.set_defaults(run=lambda a: edge.run(a, *load_all(os.environ)))
    return parser


def _check(args: argparse.Namespace) -> int:
    settings, policies = load_all(os.environ)
    doc = redacted(settings)
    shown = doc["tenants"]
    assert isinstance(shown, dict)
    for name, tenant in settings.tenants.items():  # the membership source's own settings, what it asks
        shown[name].update(MEMBERSHIP_SOURCES[tenant.memberships].shown(tenant, policies.tenant_roles(name)))
    doc["routes"] = {tenant: [_describe(r, policies) for r in routes] for tenant, routes in policies.routes.items()}
    doc["edge"] = _edge(settings, policies, fail=args.edge)
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        _print_check(doc)
    return 0


def _edge(settings: Settings, policies: PolicySet, *, fail: bool) -> dict[str, object]:
    """Edge mode (`gateway edge nginx`): where each route goes, and what would stop it working
    (problems with `--edge`, else shown as warnings)."""
    from gateway.cli.edge import describe
    from gateway.edge.plan import plan
    from gateway.edge.problems import default_gateway, edge_problems, resolves

    edge = plan(settings, policies)
    problems = edge_problems(settings, edge, default_gateway(settings), resolves)
    if fail and problems:
        raise ConfigError(problems)
    return {"cache_ttl": settings.edge_cache_ttl, "routes": describe(edge), "warnings": problems}


def _describe(route: Route, policies: PolicySet) -> str:
    target = route.target
    where = f"upstream {target.upstream}" if isinstance(target, Forward) else f"builtin {target.name}"
    if isinstance(target, Forward) and target.strip_prefix is not None:
        where += f" without {target.strip_prefix.text}"
    who = "anyone" if route.anonymous else "; ".join(_requirement(r) for r in route.allow)
    methods = ",".join(sorted(route.methods))
    profile = policies.label_profiles.get(route.labels)
    labels = route.labels if profile is None or profile.recheck_lists else f"{route.labels}, lists NOT re-checked"
    org = f", organization from {{{route.organization_param}}}" if route.organization_param else ""
    limit = f", at most {route.rate_limit}" if route.rate_limit is not None else ""
    head = f"{methods} {route.pattern.text} -> {where} (labels {labels}{org}{limit})"
    return f"{head} for {who}  [{route.id} @ {route.source}]"


def _requirement(req: Requirement) -> str:
    parts = [
        f"{name} {' & '.join(v) if 'all' in name else ' | '.join(v)}"
        for name, v in (
            ("roles any", req.roles_any),
            ("roles all", req.roles_all),
            ("scopes any", req.scopes_any),
            ("scopes all", req.scopes_all),
        )
        if v
    ]
    if req.permission is not None:
        p = req.permission
        parts.append(f"permission {p.namespace}:{p.object}#{p.relation}")
    if req.aal is not None:
        parts.append(f"a second factor ({req.aal})")
    if req.max_age is not None:
        parts.append(f"a sign-in within {req.max_age} s")
    return f"{req.kind}" + (f" with {', '.join(parts)}" if parts else "")


def _print_check(doc: dict[str, object]) -> None:
    routes = doc.pop("routes")
    tenants = doc.pop("tenants")
    edge = doc.pop("edge")
    for key, value in doc.items():
        print(f"{key}: {json.dumps(value)}")
    assert isinstance(tenants, dict) and isinstance(routes, dict)
    for name, tenant in tenants.items():
        print(f"\ntenant {name}:")
        for key, value in tenant.items():
            print(f"  {key}: {json.dumps(value)}")
        print("  routes:")
        for line in routes.get(name, []):
            print(f"    {line}")
    _print_edge(edge)


def _print_edge(edge: object) -> None:
    assert isinstance(edge, dict)
    print(f"\nedge (gateway edge nginx; decisions reused {edge['cache_ttl']} s at most):")
    for tenant, lines in edge["routes"].items():
        print(f"  tenant {tenant}:")
        for line in lines:
            print(f"    {line}")
    for warning in edge["warnings"]:
        print(f"  warning: {warning}")


def _serve(args: argparse.Namespace) -> int:
    import functools

    import uvicorn

    from gateway.policy.isolated import load_isolated
    from gateway.server.factory import build_app
    from gateway.server.protocol import HeaderLimitsProtocol

    settings = load_settings(os.environ)
    # every problem is listed before uvicorn starts; the load runs in a child (see the module)
    policies = load_isolated(settings.policies_dir, settings)
    # one worker: this process serves what it loaded; several: each worker loads its own
    app = build_app(settings, policies) if args.workers == 1 else "gateway.server.factory:app"
    uvicorn.run(
        app,
        factory=args.workers > 1,
        host=settings.listen_host,
        port=settings.listen_port,
        loop="uvloop",
        interface="asgi3",  # said, not guessed: the app's __call__ returns its handler's coroutine
        # httptools plus a request-head deadline (408) and size bound (431): gateway.server.protocol
        http=functools.partial(HeaderLimitsProtocol, limits=settings.limits),  # type: ignore[arg-type]
        workers=args.workers,
        access_log=False,
        proxy_headers=False,
        server_header=False,
        date_header=False,
        timeout_keep_alive=30,
        timeout_graceful_shutdown=max(1, int(settings.limits.shutdown_timeout)),
        limit_concurrency=settings.limits.max_streams * 4,
        log_config=None,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
