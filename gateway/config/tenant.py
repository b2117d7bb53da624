"""One tenant's settings from its `GATEWAY_TENANT_<T>_*` variables (cloud or self-hosted).

The mode decides the defaults: in cloud mode every Ory URL derives from
`https://<slug>.projects.oryapis.com`, the API key is every admin token and the session
cookie is `ory_session_<slug without dashes>`. Every other variable is a row of
`gateway.config.tenant_fields.FIELDS`, read in the table's order.
"""

from __future__ import annotations

import re
from typing import Any

from gateway.config.env import EnvReader
from gateway.config.settings import TenantSettings, tenant_env_prefix
from gateway.config.tenant_fields import FIELDS, Defaults


def tenant_settings(r: EnvReader, name: str, public_url: str) -> TenantSettings | None:
    """The tenant's settings, or None when they are too broken to build (problems recorded)."""
    p = tenant_env_prefix(name)
    defaults = _defaults(r, p, public_url)
    if defaults is None:
        return None
    for f in FIELDS:
        defaults.read[f.name] = f.read(r, p + f.suffix, f.default_for(defaults))
    values = defaults.read
    if not _usable(r, p, values):
        return None
    slug = r.get(p + "PROJECT_SLUG") if defaults.mode == "cloud" else None
    return TenantSettings(name=name, mode=defaults.mode, project_slug=slug, **values)


def _defaults(r: EnvReader, p: str, public_url: str) -> Defaults | None:
    mode = r.get(p + "MODE")
    if mode is None:
        present = any(k.startswith(p) for k in r.env)
        r.problem(
            p + "MODE", "is required (cloud or self-hosted)" if present else "tenant is listed but has no settings"
        )
        return None
    if mode == "self-hosted":
        return Defaults("self-hosted", None, None, "ory_kratos_session", public_url)
    if mode != "cloud":
        r.problem(p + "MODE", f"unknown mode {mode!r} (cloud or self-hosted)")
        return None
    slug, key = r.get(p + "PROJECT_SLUG"), r.get(p + "API_KEY")
    if slug is None or not re.fullmatch(r"[a-z0-9][a-z0-9-]*", slug):
        r.problem(p + "PROJECT_SLUG", "required in cloud mode (the Ory Network project slug)")
        return None
    if key is None:
        r.problem(p + "API_KEY", "required in cloud mode (the project API key, ory_pat_...)")
    return Defaults(
        "cloud", f"https://{slug}.projects.oryapis.com", key, f"ory_session_{slug.replace('-', '')}", public_url
    )


def _usable(r: EnvReader, p: str, values: dict[str, Any]) -> bool:
    """What holds between fields; False when the tenant cannot be built at all."""
    for service in ("kratos", "hydra"):
        if values[f"{service}_admin_url"] is not None and values[f"{service}_admin_token"] is None:
            r.problem(p + f"{service.upper()}_ADMIN_TOKEN", f"missing admin token for {p}{service.upper()}_ADMIN_URL")
    if (values["client_id"] is None) != (values["client_secret"] is None):
        r.problem(p + ("CLIENT_SECRET" if values["client_secret"] is None else "CLIENT_ID"), "set both or neither")
    if values["kratos_public_url"] is None:
        if r.get(p + "KRATOS_PUBLIC_URL") is None:  # (a malformed one is a problem already)
            r.problem(p + "KRATOS_PUBLIC_URL", "required in self-hosted mode")
        return False
    return True
