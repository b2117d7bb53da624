"""Tenants that share an Ory project: found, reported by `gateway check`, and refused unless
the operator says how their people and clients are told apart.

Two tenants share a Kratos when their Kratos public or admin URLs are the same, and a Hydra
when their Hydra public or admin URLs or issuers are (compared as scheme, host, port and path;
cloud mode derives them all from the project slug). A Kratos session names no tenant and a
Hydra token names only its client, so on a shared project one tenant would accept the
other's people and partners. Hence:

- every tenant on a shared Hydra lists the OAuth2 clients it accepts (`CLIENT_IDS`); a token
  of any other client is refused (`client_not_accepted`);
- every tenant on a shared Kratos lists the identity schemas of its people
  (`IDENTITY_SCHEMAS`), and no schema is listed by two of them; a session of another schema
  is refused (`identity_schema_not_accepted`).

Anything less is a problem line; `describe` says what is shared and how it is kept apart.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from urllib.parse import urlsplit

from gateway.config.env import EnvReader
from gateway.config.settings import TenantSettings

#: per service, the settings that name the project, and the setting that tells tenants apart
SERVICES = {
    "Kratos": (("kratos_public_url", "kratos_admin_url"), "IDENTITY_SCHEMAS"),
    "Hydra": (("hydra_public_url", "hydra_admin_url", "hydra_issuer"), "CLIENT_IDS"),
}


def same_place(url: str) -> str:
    """A URL as sharing compares it: lower-case scheme and host, the port said, no trailing slash."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme.lower()}://{(parts.hostname or '').lower()}:{port}{parts.path.rstrip('/')}"


def shared(tenants: Mapping[str, TenantSettings], service: str) -> list[tuple[str, tuple[str, ...]]]:
    """(the URL, the tenants on it) for every project of `service` more than one tenant uses."""
    fields, _ = SERVICES[service]
    users: dict[str, set[str]] = {}
    places: dict[str, str] = {}
    for tenant in tenants.values():
        for url in {getattr(tenant, f) for f in fields} - {None}:
            place = same_place(url)
            places.setdefault(place, url)
            users.setdefault(place, set()).add(tenant.name)
    found = {(place, tuple(sorted(names))) for place, names in users.items() if len(names) > 1}
    return [(places[place], names) for place, names in sorted(found)]


def check(r: EnvReader, tenants: Mapping[str, TenantSettings]) -> None:
    """A problem line for every shared project whose tenants are not told apart."""
    for service in SERVICES:
        for url, names in shared(tenants, service):
            for problem in _untold(service, url, [tenants[n] for n in names]):
                r.problem(*problem)


def _untold(service: str, url: str, group: list[TenantSettings]) -> Iterator[tuple[str, str]]:
    _, variable = SERVICES[service]
    others = {t.name: ", ".join(o.name for o in group if o is not t) for t in group}
    for tenant in group:
        if not _apart(tenant, variable):
            yield (
                tenant.env_prefix + variable,
                f"tenant shares {service} {url} with {others[tenant.name]}: list the {_what(variable)} it accepts",
            )
    if variable == "IDENTITY_SCHEMAS":
        yield from _overlaps(group)


def _overlaps(group: list[TenantSettings]) -> Iterator[tuple[str, str]]:
    for i, tenant in enumerate(group):
        for other in group[i + 1 :]:
            common = tenant.identity_schemas & other.identity_schemas
            if common:
                yield (
                    other.env_prefix + "IDENTITY_SCHEMAS",
                    f"schema {', '.join(sorted(common))} is also {tenant.name}'s: a person would belong to both",
                )


def _some(names: list[str], shown: int = 5) -> str:
    """`names` for a problem line: a long list cut short."""
    more = len(names) - shown
    return ", ".join(names[:shown]) + (f" and {more} more" if more > 0 else "")


def _apart(tenant: TenantSettings, variable: str) -> bool:
    return bool(tenant.identity_schemas if variable == "IDENTITY_SCHEMAS" else tenant.client_ids)


def _what(variable: str) -> str:
    return "identity schemas of its people" if variable == "IDENTITY_SCHEMAS" else "OAuth2 clients"


def describe(tenants: Mapping[str, TenantSettings]) -> list[str]:
    """`gateway check`'s lines: what is shared, and what tells the tenants apart."""
    lines: list[str] = []
    for service, (_, variable) in SERVICES.items():
        for url, names in shared(tenants, service):
            apart = "; ".join(f"{n}: {', '.join(sorted(_names(tenants[n], variable)))}" for n in names)
            by = "identity schema" if variable == "IDENTITY_SCHEMAS" else "OAuth2 client"
            lines.append(f"{', '.join(names)} share {service} {url}, told apart by {by} ({apart})")
    return lines


def _names(tenant: TenantSettings, variable: str) -> frozenset[str]:
    if variable == "IDENTITY_SCHEMAS":
        return tenant.identity_schemas
    return tenant.client_ids | ({tenant.client_id} if tenant.client_id else set())
