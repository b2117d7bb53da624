"""The tenant settings, declared once: one `Field` per `GATEWAY_TENANT_<T>_<NAME>` variable.

A field's name is its `TenantSettings` attribute; upper-cased, it is the variable's suffix.
The table also says how the value is read and checked (one problem line naming the variable),
its default (in cloud mode most defaults derive from the project slug and API key: `Defaults`)
and how `gateway check` shows it (secrets as ***). `gateway.config.tenant` reads a tenant
through it, in the table's order (a default may use a field read before it); a
`GATEWAY_TENANT_*` variable the table does not name is an unknown variable.

Adding a tenant setting is a `TenantSettings` attribute, a row here, and its documentation.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from gateway.config.env import EnvReader
from gateway.config.origins import default_origins, read_origins
from gateway.config.settings import SAFE_JWT_ALGS, TOKEN_FORMATS, TRANSPORTS, canonical_host

#: the variables that choose how the rest are read, before any `Field`
MODE_VARIABLES = ("MODE", "PROJECT_SLUG", "API_KEY")


@dataclass(frozen=True, slots=True)
class Defaults:
    """What a tenant's defaults derive from."""

    mode: Literal["cloud", "self-hosted"]
    #: cloud: `https://<slug>.projects.oryapis.com`, serving every Ory API of the project
    project_url: str | None
    #: cloud: the project API key (the admin token of every Ory API)
    api_key: str | None
    #: Kratos' session cookie name for the mode (cloud: `ory_session_<slug without dashes>`)
    cookie: str
    #: `GATEWAY_PUBLIC_URL` (browsers come back to it after signing in)
    public_url: str
    #: the fields read so far, by name
    read: dict[str, Any] = field(default_factory=dict)


#: reads a variable: (reader, variable name, default) -> the value (problems recorded on the reader)
Read = Callable[[EnvReader, str, Any], Any]


@dataclass(frozen=True, slots=True)
class Field:
    #: the `TenantSettings` attribute; upper-cased, the variable's suffix
    name: str
    read: Read
    #: the value when the variable is unset: a value, or computed from the tenant's `Defaults`
    default: Any = None
    #: `gateway check` shows *** instead of the value
    secret: bool = False
    #: `gateway check` shows it (a membership source shows its own settings: `gateway.orgs.sources`)
    shown: bool = True

    @property
    def suffix(self) -> str:
        return self.name.upper()

    def default_for(self, defaults: Defaults) -> Any:
        return self.default(defaults) if callable(self.default) else self.default


# -- readers: each returns the default when the variable is unset ---------------------------


def text(r: EnvReader, name: str, default: str | None) -> str | None:
    return r.get(name, default)


def url(r: EnvReader, name: str, default: str | None) -> str | None:
    return r.url(name, default)


def seconds(r: EnvReader, name: str, default: float) -> float:
    return r.number(name, default)


def count(r: EnvReader, name: str, default: int) -> int:
    """A whole number of at least 1."""
    value = r.number(name, default, lambda v: v >= 1 and v == int(v))
    return int(value) if value >= 1 and value == int(value) else default


def choice(options: tuple[str, ...], what: str) -> Read:
    """One of `options`; anything else is a problem and the default."""
    listed = f"{', '.join(options[:-1])} or {options[-1]}"

    def read(r: EnvReader, name: str, default: str) -> str:
        value = r.get(name, default) or default
        if value not in options:
            r.problem(name, f"unknown {what} {value!r} ({listed})")
            return default
        return value

    return read


def algorithms(r: EnvReader, name: str, default: frozenset[str]) -> frozenset[str]:
    raw = r.get(name)
    algs = default if raw is None else frozenset(raw.replace(",", " ").split())
    if not algs or not algs <= SAFE_JWT_ALGS:
        r.problem(name, f"only asymmetric algorithms are allowed: {sorted(SAFE_JWT_ALGS)}")
    return algs


def cookie_name(r: EnvReader, name: str, default: str) -> str:
    value = r.get(name, default) or default
    if not re.fullmatch(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+", value):
        r.problem(name, f"not a valid cookie name: {value!r}")
    return value


def hosts(r: EnvReader, name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    found: list[str] = []
    for raw in (r.get(name) or "").split(","):
        if not raw.strip():
            continue
        host = canonical_host(raw)
        if not re.fullmatch(r"[a-z0-9.-]+|\[[0-9a-f:.]+\]", host):
            r.problem(name, f"not a host name: {raw.strip()!r}")
        found.append(host)
    return tuple(found) or default


def names(r: EnvReader, name: str, default: frozenset[str]) -> frozenset[str]:
    """A comma list of identifiers (client ids, schema ids)."""
    raw = r.get(name)
    return default if raw is None else frozenset(n.strip() for n in raw.split(",") if n.strip())


def paths(r: EnvReader, name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = r.get(name)
    return default if raw is None else tuple(raw.split(","))


def _return_to(d: Defaults) -> tuple[str, ...]:
    """The tenant's hosts and the gateway's own (a browser sent to the login from a page here
    must be able to come back)."""
    own: tuple[str, ...] = d.read["hosts"]
    public = urlsplit(d.public_url).hostname
    return own if not public or canonical_host(public) in own else (*own, canonical_host(public))


FIELDS: tuple[Field, ...] = (
    Field("transport", choice(TRANSPORTS, "transport"), "cookie-or-bearer"),
    Field("session_cookie_name", cookie_name, lambda d: d.cookie),
    Field("hosts", hosts, ()),
    Field("trusted_origins", read_origins, lambda d: default_origins(d.read["hosts"], d.public_url)),
    Field("kratos_public_url", url, lambda d: d.project_url),
    Field("kratos_admin_url", url, lambda d: d.project_url),
    Field("kratos_admin_token", text, lambda d: d.api_key, secret=True),
    Field("hydra_public_url", url, lambda d: d.project_url),
    Field("hydra_admin_url", url, lambda d: d.project_url),
    Field("hydra_admin_token", text, lambda d: d.api_key, secret=True),
    Field("client_id", text),
    Field("client_secret", text, secret=True),
    Field("token_format", choice(TOKEN_FORMATS, "token format"), "auto"),
    Field("jwt_algorithms", algorithms, frozenset({"RS256"})),
    Field("memberships", text, "metadata"),
    Field("memberships_path", text, "metadata_public.memberships", shown=False),
    Field("org_paths", paths, ("metadata_public.organization_id", "organization_id"), shown=False),
    Field("roles_path", text, "metadata_public.roles", shown=False),
    Field("keto_read_url", url, lambda d: d.project_url),
    Field("keto_write_url", url, lambda d: d.project_url),
    Field("keto_token", text, lambda d: d.api_key, secret=True),
    Field("timeout", seconds, 2.0),
    Field("ory_max_connections", count, 64),
    Field("ory_queue_timeout", seconds, 0.25),
    Field("hydra_issuer", text, lambda d: d.read["hydra_public_url"]),
    Field("jwt_audience", text),
    Field("login_url", url),
    Field("return_to_hosts", hosts, _return_to),
    Field("session_jwks_url", url),
    Field("session_jwt_algorithms", algorithms, frozenset({"ES256"})),
    Field("client_ids", names, frozenset()),
    Field("identity_schemas", names, frozenset()),
)

#: every variable a tenant may set, as the suffix after `GATEWAY_TENANT_<T>_`
SUFFIXES = frozenset(MODE_VARIABLES) | {f.suffix for f in FIELDS}
