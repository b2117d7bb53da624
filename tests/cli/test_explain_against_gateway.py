"""`gateway explain` against the gateway itself: every shipped route, asked for by every seeded
person and client of its tenant, through the real gateway (forward-auth `/decisions/<path>`:
the same `decide`, with the emulator's Kratos, Hydra and Keto behind it) and through
`explain` with the flags that say what Ory holds for them (`--as`, `--roles`, `--scopes`,
`--org`, `--subject`, and `--keto-denies` when the emulator's Keto says no). The decisions
agree: allow or deny, and the status whenever the route accepts the caller's kind.

What the flags cannot say is left out, and said here: a person is a member of the
organization a request acts for with `--roles` (so organizations a person does not belong to,
and a person of several who chooses none, are not asked about); and a credential of a kind
the route does not take is refused by authentication (401) where explain, which has no
credential, names the kind (403) - both deny.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import yaml

from gateway.cli.explain import explain
from gateway.cli.explanation import Caller, Explanation
from gateway.config.settings import Settings
from gateway.load import load_all
from gateway.orgs.memberships import read_memberships
from gateway.policy import PolicySet, Route
from gateway.principal import Kind, Membership
from tests.support.seed import API_KEYS, CLIENTS, PASSWORDS, SEED
from tests.support.world import Auth, World

#: an allowed request that needs the gateway in the path (labels, built-ins): allowed by `decide`
NEEDS_PROXY = "needs the gateway in the request path"


@dataclass(frozen=True, slots=True)
class Persona:
    #: the `auth` fixture's name for its credential
    who: str
    tenant: str
    kind: Kind
    subject: str
    memberships: tuple[Membership, ...] = ()
    #: a person's roles outside any organization; a client's scopes
    roles: frozenset[str] = frozenset()
    scopes: frozenset[str] = frozenset()
    #: a client's organization
    organization: str | None = None


@dataclass(frozen=True, slots=True)
class Case:
    route: Route
    method: str
    path: str
    persona: Persona
    caller: Caller

    @property
    def name(self) -> str:
        return f"{self.method} {self.path} as {self.persona.who} ({self.caller.organization or 'no org'})"


def personas(settings: Settings) -> list[Persona]:
    """Every seeded person and client with a credential, from what Ory holds for them (a
    person's memberships read as the gateway reads them)."""
    seed = yaml.safe_load(SEED.read_text())["projects"]
    names = {(tenant, email): name for name, (tenant, email, _) in PASSWORDS.items()}
    found: list[Persona] = []
    for tenant, project in seed.items():
        for identity in project.get("identities", []):
            if identity.get("totp_secret") or identity.get("lookup_secrets"):
                continue  # a password session of theirs is aal1: whoami refuses it until the second factor
            t = settings.tenants[tenant]
            held = read_memberships(identity, t.memberships_path, t.org_paths, t.roles_path)
            name = names[(tenant, identity["traits"]["email"])]
            found.append(Persona(name, tenant, "human", identity["id"], held.items, held.loose_roles))
        for client in project.get("clients", []):  # those the `auth` fixture has a token for (Basic auth)
            if client["client_id"] in CLIENTS and client.get("token_endpoint_auth_method") != "client_secret_post":
                who, scopes = f"machine:{client['client_id']}:{client['scope']}", frozenset(client["scope"].split())
                org = client["metadata"]["organization_id"]
                found.append(Persona(who, tenant, "machine", client["client_id"], scopes=scopes, organization=org))
    return found


def cases(settings: Settings, policies: PolicySet) -> Iterator[Case]:
    everyone = personas(settings)
    for tenant, routes in policies.routes.items():
        for route in routes:
            for method in sorted(route.methods - {"HEAD"}):
                for persona in (p for p in everyone if p.tenant == tenant):
                    for org, caller in choices(route, persona):
                        yield Case(route, method, f"/{tenant}{fill(route, org, persona)}", persona, caller)


def choices(route: Route, p: Persona) -> Iterator[tuple[str | None, Caller]]:
    """(the organization in the path, the flags) for each organization the request may act for."""
    if p.kind == "machine":
        for in_path in (p.organization, "org-elsewhere") if route.organization_param else (p.organization,):
            yield in_path, Caller("machine", scopes=p.scopes, organization=p.organization, subject=p.subject)
        return
    if not p.memberships:
        if not route.organization_param:
            yield None, Caller("human", roles=p.roles, subject=p.subject)
        return
    for m in p.memberships:
        yield m.organization, Caller("human", roles=m.roles, organization=m.organization, subject=p.subject)


def fill(route: Route, org: str | None, p: Persona) -> str:
    values = {"org": org or "org-acme", "report": "q3" if org == "org-acme" else "forecast"}
    values["id"] = "11111111-1111-4111-8111-111111111111"  # alice, whom staff look up
    path = route.pattern.text
    for param in route.pattern.params:
        path = path.replace(f"{{{param}}}", values.get(param, "x"))
    return path


@dataclass(frozen=True, slots=True)
class Answer:
    allowed: bool
    status: int
    detail: str


def through_gateway(world: World, auth: Auth, case: Case) -> Answer:
    headers = dict(auth(case.persona.who))
    if case.caller.organization is not None:  # --org is X-Organization-Id
        headers["X-Organization-Id"] = case.caller.organization
    resp = httpx.request(case.method, f"{world.url}/decisions{case.path}", headers=headers, timeout=15)
    detail = resp.json().get("error_description", "") if resp.content else ""
    allowed = resp.status_code == 200 or (resp.status_code == 403 and NEEDS_PROXY in detail)
    return Answer(allowed, 200 if allowed else resp.status_code, detail)


def keto_allows(world: World, tenant: str, tuple_text: str) -> bool:
    """The emulator's Keto on `Namespace:object#relation@subject`."""
    namespace, rest = tuple_text.split(":", 1)
    obj, rest = rest.split("#", 1)
    relation, subject = rest.split("@", 1)
    params = {"namespace": namespace, "object": obj, "relation": relation, "subject_id": subject}
    headers = {"Authorization": f"Bearer {API_KEYS[tenant]}"}
    resp = httpx.get(f"{world.emulator.project_url(tenant)}/relation-tuples/check", params=params, headers=headers)
    return resp.status_code == 200 and resp.json()["allowed"] is True


def through_explain(world: World, settings: Settings, policies: PolicySet, case: Case) -> Explanation:
    result = explain(settings, policies, case.method, case.path, case.caller)
    if result.permissions:  # what Keto holds for the tuple the route asks about
        allows = keto_allows(world, case.persona.tenant, result.permissions[0])
        caller = dataclasses.replace(case.caller, keto_allows=allows)
        result = explain(settings, policies, case.method, case.path, caller)
    return result


@pytest.fixture(scope="module")
def shipped(world: World) -> tuple[Settings, PolicySet]:
    return load_all(world.env)


def test_explain_decides_every_shipped_route_as_the_gateway_does(
    world: World, auth: Auth, shipped: tuple[Settings, PolicySet]
) -> None:
    settings, policies = shipped
    seen: set[str] = set()
    decisions = {True: 0, False: 0}
    differences = []
    for case in cases(settings, policies):
        gateway = through_gateway(world, auth, case)
        explained = through_explain(world, settings, policies, case)
        seen.add(case.route.id)
        decisions[gateway.allowed] += 1
        same_kind = case.route.anonymous or case.persona.kind in case.route.kinds
        expected = (gateway.allowed, gateway.status if same_kind else None)
        found = (explained.decision == "allow", explained.status if same_kind else None)
        if found != expected:
            differences.append(
                f"{case.name}: gateway {expected} {gateway.detail!r}, explain {found} {explained.detail!r}"
            )
    assert differences == []
    every_route = {route.id for routes in policies.routes.values() for route in routes}
    assert seen == every_route
    assert decisions[True] >= 20 and decisions[False] >= 20  # both outcomes, many times
