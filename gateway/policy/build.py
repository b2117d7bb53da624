"""One schema-valid policy document -> `Route` values, with every semantic problem reported.

The schema has already checked types and unknown keys; this checks what needs
the settings or spans keys: tenants, upstreams, patterns, built-in targets,
label profiles, and combinations that cannot work.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from gateway.authn.sources import unusable
from gateway.config.settings import Settings
from gateway.endpoints.builtins import REGISTRY as BUILTIN_KINDS
from gateway.endpoints.builtins import BuiltinUse
from gateway.front.paths import is_canonical
from gateway.labels.registry import HEADERS
from gateway.permissions.template import TemplateError, compile_template
from gateway.policy.model import ANY_METHOD, Builtin, Forward, Pattern, Permission, RateLimit, Requirement, Route
from gateway.policy.pattern import PatternError, parse_pattern, parse_strip_prefix
from gateway.policy.source import line_of
from gateway.principal import Kind

Location = tuple[Any, ...]
DEFAULT_TIMEOUT, DEFAULT_IDLE_TIMEOUT = 30.0, 300.0


@dataclass
class FileContext:
    path: Path
    document: Any
    settings: Settings
    label_profiles: frozenset[str]
    problems: list[str] = field(default_factory=list)

    def where(self, location: Location) -> str:
        return f"{self.path}:{line_of(self.document, location)}"

    def problem(self, location: Location, message: str) -> None:
        self.problems.append(f"{self.where(location)}: {message}")


def file_tenants(ctx: FileContext) -> list[str]:
    """The tenants a file's routes belong to (problems reported, unknown ones dropped)."""
    doc = ctx.document
    if "tenant" in doc and "tenants" in doc:
        ctx.problem(("tenants",), "use either 'tenant' or 'tenants', not both")
        return []
    names = [doc["tenant"]] if "tenant" in doc else list(doc.get("tenants", []))
    if not names and doc.get("routes"):
        ctx.problem(("routes",), "routes need 'tenant: NAME' or 'tenants: [...]' at the top of the file")
    for name in names:
        if name not in ctx.settings.tenants:
            key = "tenant" if "tenant" in doc else "tenants"
            ctx.problem((key,), f"unknown tenant {name!r} (not in GATEWAY_TENANTS)")
    return [n for n in names if n in ctx.settings.tenants]


def build_routes(ctx: FileContext, tenants: list[str], skip: set[int]) -> list[Route]:
    routes: list[Route] = []
    for index, item in enumerate(ctx.document.get("routes") or []):
        if index not in skip:
            routes.extend(build_route(ctx, ("routes", index), item, tenants))
    return routes


def build_route(ctx: FileContext, loc: Location, item: Mapping[str, Any], tenants: list[str]) -> list[Route]:
    before = len(ctx.problems)
    patterns = _patterns(ctx, loc, item)
    methods = frozenset(item["methods"]) | ({"HEAD"} if "GET" in item["methods"] else set())
    params = _common_params(patterns)
    anonymous, allow = _allow(ctx, loc, item, params)
    organization = _organization_param(ctx, loc, item, params, anonymous)
    rate_limit = _rate_limit(ctx, (*loc, "rate_limit"), item.get("rate_limit"), anonymous)
    target = _target(ctx, loc, item, patterns, tenants, anonymous)
    _check_combination(ctx, loc, item, anonymous, target)
    for tenant in tenants:
        _check_tenant(ctx, loc, tenant, allow)
    if len(ctx.problems) > before or target is None:
        return []
    timeout = float(item.get("timeout", DEFAULT_TIMEOUT))
    template = Route(
        id=item["id"],
        tenant="",
        pattern=patterns[0],
        methods=methods,
        allow=allow,
        anonymous=anonymous,
        target=target,
        labels=item.get("labels", HEADERS),
        stream=bool(item.get("stream", False)),
        websocket=bool(item.get("websocket", False)),
        timeout=timeout,
        idle_timeout=float(item.get("idle_timeout", max(timeout, DEFAULT_IDLE_TIMEOUT))),
        source=ctx.where(loc),
        organization_param=organization,
        rate_limit=rate_limit,
    )
    return [
        replace(template, id=f"{tenant}:{item['id']}", tenant=tenant, pattern=pattern)
        for tenant in tenants
        for pattern in patterns
    ]


def _patterns(ctx: FileContext, loc: Location, item: Mapping[str, Any]) -> list[Pattern]:
    if ("path" in item) == ("paths" in item):
        ctx.problem(loc, f"route {item['id']!r} needs exactly one of 'path' or 'paths'")
        return []
    key = "path" if "path" in item else "paths"
    patterns: list[Pattern] = []
    for text in [item["path"]] if key == "path" else item["paths"]:
        try:
            patterns.append(parse_pattern(text))
        except PatternError as exc:
            ctx.problem((*loc, key), f"route {item['id']!r}: {exc}")
    return patterns


def _common_params(patterns: list[Pattern]) -> tuple[str, ...]:
    """The parameters every pattern of the route has (what a template or `organization` may use)."""
    if not patterns:
        return ()
    return tuple(p for p in patterns[0].params if all(p in other.params for other in patterns[1:]))


def _allow(
    ctx: FileContext, loc: Location, item: Mapping[str, Any], params: tuple[str, ...]
) -> tuple[bool, tuple[Requirement, ...]]:
    allow = item["allow"]
    if allow == "anonymous":
        return True, ()
    requirements: list[Requirement] = []
    for kind, spec in allow.items():
        if kind == "human" and spec.get("scopes"):
            ctx.problem((*loc, "allow", kind), "scopes apply to machine principals only; use roles")
        permission = _permission(ctx, (*loc, "allow", kind, "permission"), spec.get("permission"), params)
        requirements.append(_requirement(kind, spec, permission))
    return False, tuple(requirements)


def _requirement(kind: Kind, spec: Mapping[str, Any], permission: Permission | None) -> Requirement:
    roles, scopes = spec.get("roles", {}), spec.get("scopes", {})
    return Requirement(
        kind=kind,
        roles_any=tuple(roles.get("any", ())),
        roles_all=tuple(roles.get("all", ())),
        scopes_any=tuple(scopes.get("any", ())),
        scopes_all=tuple(scopes.get("all", ())),
        permission=permission,
        aal=spec.get("aal"),
        max_age=spec.get("max_age"),
    )


def _permission(
    ctx: FileContext, loc: Location, spec: Mapping[str, str] | None, params: tuple[str, ...]
) -> Permission | None:
    """The compiled permission check; its object template may use `params` (every pattern's) and {org}."""
    if spec is None:
        return None
    try:
        parts = compile_template(spec["object"], params)
    except TemplateError as exc:
        ctx.problem((*loc, "object"), str(exc))
        return None
    return Permission(spec["namespace"], spec["object"], spec["relation"], parts)


def _organization_param(
    ctx: FileContext, loc: Location, item: Mapping[str, Any], params: tuple[str, ...], anonymous: bool
) -> str | None:
    spec = item.get("organization")
    if spec is None:
        return None
    param: str = spec["param"]
    if param not in params:
        known = ", ".join(f"{{{p}}}" for p in params) or "none"
        ctx.problem((*loc, "organization", "param"), f"{{{param}}} is not a parameter of every path (known: {known})")
    if anonymous:
        ctx.problem((*loc, "organization"), "an anonymous route has no caller to choose an organization for")
    return param


SECONDS_PER = {"s": 1, "m": 60, "h": 3600, "d": 86400}
#: keys that need a caller
CALLER_KEYS = frozenset({"organization", "principal", "client_id"})


def _rate_limit(ctx: FileContext, loc: Location, spec: Mapping[str, Any] | None, anonymous: bool) -> RateLimit | None:
    """The route's rate limit (the schema checked its shape)."""
    if spec is None:
        return None
    if anonymous and spec["key"] in CALLER_KEYS:
        ctx.problem(
            (*loc, "key"), f"an anonymous route has no caller to count by {spec['key']}: use tenant or client_address"
        )
    per: str = spec["per"]
    return RateLimit(int(spec["requests"]), int(per[:-1]) * SECONDS_PER[per[-1]], spec["key"], per)


def _target(
    ctx: FileContext,
    loc: Location,
    item: Mapping[str, Any],
    patterns: list[Pattern],
    tenants: list[str],
    anonymous: bool,
) -> Forward | Builtin | None:
    if ("forward" in item) == ("builtin" in item):
        ctx.problem(loc, f"route {item['id']!r} needs exactly one of 'forward' or 'builtin'")
        return None
    if "forward" in item:
        return _forward(ctx, (*loc, "forward"), item["forward"], patterns)
    return _builtin(ctx, loc, item["builtin"], patterns, tenants, anonymous)


def _forward(ctx: FileContext, loc: Location, spec: Mapping[str, Any], patterns: list[Pattern]) -> Forward:
    upstream, prefix = spec["upstream"], spec.get("path_prefix")
    strip = bool(spec.get("strip_tenant_prefix", True))
    stripped = _strip_prefix(ctx, loc, spec, patterns) if "strip_prefix" in spec else None
    if upstream not in ctx.settings.upstreams:
        known = ", ".join(sorted(ctx.settings.upstreams)) or "none"
        ctx.problem(
            (*loc, "upstream"),
            f"unknown upstream {upstream!r} (set GATEWAY_UPSTREAM_"
            f"{upstream.upper().replace('-', '_')}_URL; known: {known})",
        )
    if prefix is not None and not is_canonical(prefix):
        ctx.problem((*loc, "path_prefix"), f"path_prefix {prefix!r} is not a canonical path")
    if prefix is not None and not strip:
        ctx.problem((*loc, "path_prefix"), "path_prefix cannot be combined with strip_tenant_prefix: false")
    return Forward(upstream=upstream, strip_tenant_prefix=strip, path_prefix=prefix, strip_prefix=stripped)


def _strip_prefix(ctx: FileContext, loc: Location, spec: Mapping[str, Any], patterns: list[Pattern]) -> Pattern | None:
    here = (*loc, "strip_prefix")
    if "path_prefix" in spec:
        ctx.problem(here, "strip_prefix cannot be combined with path_prefix")
    if not spec.get("strip_tenant_prefix", True):
        ctx.problem(here, "strip_prefix cannot be combined with strip_tenant_prefix: false")
    stripped, problems = parse_strip_prefix(spec["strip_prefix"], patterns)
    for problem in problems:
        ctx.problem(here, problem)
    return stripped


def _builtin(
    ctx: FileContext,
    loc: Location,
    spec: Mapping[str, Any],
    patterns: list[Pattern],
    tenants: list[str],
    anonymous: bool,
) -> Builtin:
    """The route's built-in, checked by its registry entry (`gateway.endpoints.builtins`)."""
    name, here = spec["name"], (*loc, "builtin")
    options = {k: v for k, v in spec.items() if k != "name"}
    kind = BUILTIN_KINDS.get(name)
    if kind is None:
        ctx.problem((*here, "name"), f"unknown builtin {name!r} (known: {', '.join(sorted(BUILTIN_KINDS))})")
        return Builtin(name, options)
    for key in sorted(set(options) - kind.options):
        ctx.problem((*here, key), f"builtin {name} has no option {key!r}")
    for key in sorted(kind.options - set(options)):
        ctx.problem(here, f"builtin {name} needs option {key!r}")
    if anonymous and not kind.anonymous:
        ctx.problem((*loc, "allow"), f"{name} cannot be anonymous")
    if kind.options <= set(options):
        served = [ctx.settings.tenants[t] for t in tenants]
        use = BuiltinUse(name, options, patterns, served, ctx.settings)
        for where, message in kind.validate(use):
            ctx.problem((*loc, *where), message)
    return Builtin(name, options)


def _check_combination(
    ctx: FileContext,
    loc: Location,
    item: Mapping[str, Any],
    anonymous: bool,
    target: Forward | Builtin | None,
) -> None:
    labels = item.get("labels", HEADERS)
    if labels not in ctx.label_profiles:
        known = ", ".join(sorted(ctx.label_profiles))
        ctx.problem((*loc, "labels"), f"unknown label profile {labels!r} (known: {known})")
    if anonymous and isinstance(target, Forward) and labels in ctx.label_profiles - {HEADERS}:
        ctx.problem((*loc, "allow"), f"label profile {labels!r} needs an organization: cannot be anonymous")
    if item.get("websocket") and not {"GET", ANY_METHOD} & set(item["methods"]):
        ctx.problem((*loc, "websocket"), "websocket routes must allow GET (the handshake)")
    if "idle_timeout" in item and not item.get("stream") and not item.get("websocket"):
        ctx.problem((*loc, "idle_timeout"), "idle_timeout applies only to stream or websocket routes")


def _check_tenant(
    ctx: FileContext,
    loc: Location,
    tenant: str,
    allow: tuple[Requirement, ...],
) -> None:
    settings = ctx.settings.tenants[tenant]
    for requirement in allow:  # some credential source must serve each kind the route accepts
        if why := unusable(requirement.kind, settings):
            ctx.problem((*loc, "allow"), f"tenant {tenant!r} {why}: it cannot accept {requirement.kind}s")
        if requirement.permission is not None and settings.keto_read_url is None:
            where = (*loc, "allow", requirement.kind, "permission")
            ctx.problem(where, f"tenant {tenant!r} has no Ory Permissions (set {settings.env_prefix}KETO_READ_URL)")
