"""The route table of a project: every Kratos and Hydra path served, with its operation name."""

from __future__ import annotations

import re
from dataclasses import dataclass

from gateway.emulator import (
    hydra_admin,
    hydra_public,
    keto,
    kratos_admin,
    kratos_public,
    login,
    self_service,
    ui,
    whoami,
)
from gateway.emulator.context import Handler

ALL_BUT_DELETE = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "OPTIONS", "TRACE", "CONNECT"})


@dataclass(frozen=True)
class Route:
    methods: frozenset[str]
    pattern: re.Pattern[str]
    operation: str
    family: str  # "kratos", "hydra" or "keto": decides the error shape (and Keto's API-key rule)
    handler: Handler

    @property
    def admin(self) -> bool:
        return self.pattern.pattern.startswith("^/admin/")


def _route(methods: str | frozenset[str], path: str, operation: str, family: str, handler: Handler) -> Route:
    regex = "^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path) + "$"
    allowed = frozenset(methods.split()) if isinstance(methods, str) else methods
    return Route(allowed, re.compile(regex), operation, family, handler)


K, H, P = "kratos", "hydra", "keto"
ROUTES: tuple[Route, ...] = (
    _route(ALL_BUT_DELETE, "/sessions/whoami", "whoami", K, whoami.whoami),
    _route("GET", "/self-service/login/api", "login_flow_api", K, kratos_public.create_api_flow),
    _route("GET", "/self-service/login/browser", "login_flow_browser", K, kratos_public.create_browser_flow),
    _route("GET", "/self-service/login/flows", "get_login_flow", K, kratos_public.get_flow),
    _route("POST", "/self-service/login", "login_submit", K, login.submit_login),
    _route("DELETE", "/self-service/logout/api", "logout_api", K, kratos_public.logout_api),
    _route("GET", "/self-service/logout/browser", "logout_flow_browser", K, self_service.create_logout_flow),
    _route("GET", "/self-service/logout", "logout_browser", K, self_service.logout),
    _route("GET", "/self-service/errors", "get_flow_error", K, self_service.get_flow_error),
    _route("GET", "/ui/login", "ui_login", K, ui.login),
    _route("GET", "/ui/welcome", "ui_welcome", K, ui.welcome),
    _route("GET", "/ui/error", "ui_error", K, ui.error),
    _route("GET", "/schemas/{id}", "get_schema", K, kratos_public.identity_schema),
    _route("GET", "/health/alive", "health", K, kratos_public.health),
    _route("GET", "/health/ready", "health", K, kratos_public.health),
    _route("POST", "/admin/identities", "create_identity", K, kratos_admin.create_identity),
    _route("GET", "/admin/identities", "list_identities", K, kratos_admin.list_identities),
    _route("GET", "/admin/identities/{id}", "get_identity", K, kratos_admin.get_identity),
    _route("DELETE", "/admin/identities/{id}", "delete_identity", K, kratos_admin.delete_identity),
    _route(
        "GET",
        "/admin/identities/{id}/sessions",
        "list_identity_sessions",
        K,
        kratos_admin.list_identity_sessions,
    ),
    _route(
        "DELETE",
        "/admin/identities/{id}/sessions",
        "delete_identity_sessions",
        K,
        kratos_admin.delete_identity_sessions,
    ),
    _route("GET", "/admin/sessions", "list_sessions", K, kratos_admin.list_sessions),
    _route("GET", "/admin/sessions/{id}", "get_session", K, kratos_admin.get_session),
    _route("DELETE", "/admin/sessions/{id}", "disable_session", K, kratos_admin.disable_session),
    _route("PATCH", "/admin/sessions/{id}/extend", "extend_session", K, kratos_admin.extend_session),
    _route(
        "GET",
        "/.well-known/ory/tokenizer/{template}/jwks.json",
        "tokenizer_jwks",
        K,
        kratos_public.tokenizer_jwks,
    ),
    _route("POST", "/oauth2/token", "token", H, hydra_public.token),
    _route("POST", "/oauth2/revoke", "revoke", H, hydra_public.revoke),
    _route("GET", "/.well-known/jwks.json", "jwks", H, hydra_public.jwks),
    _route("GET", "/.well-known/openid-configuration", "discovery", H, hydra_public.discovery),
    _route("GET", "/.well-known/oauth-authorization-server", "discovery", H, hydra_public.discovery),
    _route("POST", "/admin/clients", "create_client", H, hydra_admin.create_client),
    _route("GET", "/admin/clients", "list_clients", H, hydra_admin.list_clients),
    _route("GET", "/admin/clients/{id}", "get_client", H, hydra_admin.get_client),
    _route("DELETE", "/admin/clients/{id}", "delete_client", H, hydra_admin.delete_client),
    _route("POST", "/admin/oauth2/introspect", "introspect", H, hydra_admin.introspect),
    _route("GET", "/admin/keys/{set}", "get_key_set", H, hydra_admin.get_key_set),
    _route("PUT", "/admin/identities/{id}", "update_identity", K, kratos_admin.update_identity),
    _route("GET POST", "/relation-tuples/check", "check", P, keto.check_mirror),
    _route("GET POST", "/relation-tuples/check/openapi", "check_openapi", P, keto.check_openapi),
    _route("POST", "/relation-tuples/batch/check", "batch_check", P, keto.batch_check),
    _route("GET", "/relation-tuples", "list_relationships", P, keto.list_relationships),
    _route("GET", "/relation-tuples/expand", "expand", P, keto.expand),
    _route("GET", "/namespaces", "list_namespaces", P, keto.list_namespaces),
    _route("PUT", "/admin/relation-tuples", "create_relationship", P, keto.create_relationship),
    _route("PATCH", "/admin/relation-tuples", "patch_relationships", P, keto.patch_relationships),
    _route("DELETE", "/admin/relation-tuples", "delete_relationships", P, keto.delete_relationships),
)


def match(method: str, path: str) -> tuple[Route, dict[str, str]] | tuple[None, bool]:
    """(route, path params) or (None, whether the path exists for another method)."""
    path_known = False
    for route in ROUTES:
        found = route.pattern.match(path)
        if found is None:
            continue
        if method in route.methods:
            return route, found.groupdict()
        path_known = True
    return None, path_known


def family_of(path: str) -> str:
    """Which error shape an unmatched path gets: Hydra's for its admin prefixes, Kratos' otherwise."""
    hydra_prefixes = ("/admin/clients", "/admin/oauth2", "/admin/keys", "/admin/trust", "/oauth2/")
    keto_prefixes = ("/relation-tuples", "/admin/relation-tuples", "/namespaces")
    return H if path.startswith(hydra_prefixes) else P if path.startswith(keto_prefixes) else K
