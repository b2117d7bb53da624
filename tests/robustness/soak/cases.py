"""Who calls what in the soak, what each call must get, and who is entitled to what.

Principals come from the seed (gateway/demo/seed.yaml): alice (customer, org-acme member),
bob (org-globex member), carol (org-acme viewer, by session cookie as a browser sends it),
dana (member of org-acme and viewer of org-globex, choosing one per request), the customer
machine `customer-gateway` (org-acme, jobs:read) and the dealer partner `partner-inventory`
(org-partner, inventory:read jobs:read jobs:write). Every request names its sender and a
sequence number in its query (`who=`, `seq=`), so what an upstream received can be tied to
the call that sent it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ALICE = "11111111-1111-4111-8111-111111111111"
BOB = "22222222-2222-4222-8222-222222222222"
CAROL = "33333333-3333-4333-8333-333333333333"
DANA = "55555555-5555-4555-8555-555555555555"
SUBJECTS = {
    "alice": ALICE,
    "bob": BOB,
    "carol": CAROL,
    "dana": DANA,
    "cgw": "customer-gateway",
    "partner": "partner-inventory",
}
JOBS = "/api/durably"
#: a marker written into every trigger's input: MK.<tenant>.<organization>.<seq>
MARKER = re.compile(rb"MK\.([a-z]+)\.(org-[a-z]+)\.\d+")

Grant = tuple[str, str, str]  # (tenant, subject, organization)
READERS: frozenset[Grant] = frozenset(
    {
        ("customer", ALICE, "org-acme"),
        ("customer", BOB, "org-globex"),
        ("customer", CAROL, "org-acme"),
        ("customer", DANA, "org-acme"),
        ("customer", DANA, "org-globex"),
        ("customer", "customer-gateway", "org-acme"),
        ("dealer", "partner-inventory", "org-partner"),
    }
)
WRITERS: frozenset[Grant] = frozenset(
    {
        ("customer", ALICE, "org-acme"),
        ("customer", BOB, "org-globex"),
        ("customer", DANA, "org-acme"),
        ("dealer", "partner-inventory", "org-partner"),
    }
)
#: reports (Keto): (tenant, subject, organization, report path)
REPORTS: frozenset[tuple[str, str, str, str]] = frozenset(
    {
        ("customer", ALICE, "org-acme", "/orgs/org-acme/reports/q3"),
        ("customer", DANA, "org-globex", "/orgs/org-globex/reports/forecast"),
        ("customer", BOB, "org-globex", "/orgs/org-globex/reports/forecast"),
    }
)
#: what each route family of the echo upstream (`faulty`) admits, by its first path segment
FAULTY_GRANTS = {"h": READERS, "w": WRITERS}
#: the WebSocket route (/<tenant>/live/**): people with a role, machines with inventory:read
LIVE_GRANTS = READERS - {("customer", "customer-gateway", "org-acme")}


@dataclass(frozen=True)
class Case:
    """One kind of call: `status` is its answer outside faults; `org` the (tenant,
    organization) the upstream and the answer must carry when it is allowed."""

    name: str
    who: str | None  # a principal above, "bogus", or None (anonymous)
    method: str
    path: str  # without the who/seq query
    status: int
    org: tuple[str, str] | None = None
    upstream: str = "faulty"  # "faulty" (echo), "durably", or "keto" (a report, via faulty)
    choose: str | None = None  # X-Organization-Id
    spoof: bool = False  # sends forged identity headers too
    trigger: bool = False  # a Durably trigger with a marker in its input

    @property
    def needs_ory(self) -> bool:
        return self.who is not None


def _c(name: str, who: str | None, method: str, path: str, status: int, org: str | None = None, **kw: object) -> Case:
    tenant = path.split("/")[1]
    return Case(name, who, method, path, status, (tenant, org) if org else None, **kw)  # type: ignore[arg-type]


CASES: tuple[Case, ...] = (
    # the echo upstream: reads (/h) and writes (/w)
    _c("alice-read", "alice", "GET", "/customer/h/x", 200, "org-acme", spoof=True),
    _c("alice-write", "alice", "POST", "/customer/w/x", 200, "org-acme"),
    _c("alice-chooses-globex", "alice", "GET", "/customer/h/x", 403, choose="org-globex"),
    _c("bob-read", "bob", "GET", "/customer/h/x", 200, "org-globex", spoof=True),
    _c("bob-write", "bob", "POST", "/customer/w/x", 200, "org-globex"),
    _c("carol-cookie-read", "carol", "GET", "/customer/h/x", 200, "org-acme"),
    _c("carol-cookie-write", "carol", "POST", "/customer/w/x", 403),
    _c("dana-acme-read", "dana", "GET", "/customer/h/x", 200, "org-acme", choose="org-acme"),
    _c("dana-globex-read", "dana", "GET", "/customer/h/x", 200, "org-globex", choose="org-globex"),
    _c("dana-acme-write", "dana", "POST", "/customer/w/x", 200, "org-acme", choose="org-acme"),
    _c("dana-globex-write", "dana", "POST", "/customer/w/x", 403, choose="org-globex"),
    _c("dana-no-choice", "dana", "GET", "/customer/h/x", 400),
    _c("partner-read", "partner", "GET", "/dealer/h/x", 200, "org-partner", spoof=True),
    _c("partner-write", "partner", "POST", "/dealer/w/x", 200, "org-partner"),
    _c("partner-on-customer", "partner", "GET", "/customer/h/x", 401),
    _c("cgw-read", "cgw", "GET", "/customer/h/x", 200, "org-acme"),
    _c("cgw-write", "cgw", "POST", "/customer/w/x", 403),
    _c("alice-on-dealer", "alice", "GET", "/dealer/h/x", 401),
    _c("anonymous", None, "GET", "/customer/h/x", 401),
    _c("bogus-token", "bogus", "GET", "/customer/h/x", 401),
    _c("public", None, "GET", "/customer/p/x", 200),
    # reports: Ory Permissions (Keto) decides
    _c("alice-report", "alice", "GET", "/customer/orgs/org-acme/reports/q3", 200, "org-acme", upstream="keto"),
    _c("dana-acme-report", "dana", "GET", "/customer/orgs/org-acme/reports/q3", 403, upstream="keto"),
    _c("dana-report", "dana", "GET", "/customer/orgs/org-globex/reports/forecast", 200, "org-globex", upstream="keto"),
    _c("bob-report", "bob", "GET", "/customer/orgs/org-globex/reports/forecast", 200, "org-globex", upstream="keto"),
    _c("bob-acme-report", "bob", "GET", "/customer/orgs/org-acme/reports/q3", 403, upstream="keto"),
    # Durably: triggers and lists, scoped to the caller's organization
    _c("alice-trigger", "alice", "POST", f"/customer{JOBS}/trigger", 200, "org-acme", upstream="durably", trigger=True),
    _c("bob-trigger", "bob", "POST", f"/customer{JOBS}/trigger", 200, "org-globex", upstream="durably", trigger=True),
    _c(
        "dana-trigger",
        "dana",
        "POST",
        f"/customer{JOBS}/trigger",
        200,
        "org-acme",
        upstream="durably",
        trigger=True,
        choose="org-acme",
    ),
    _c(
        "dana-globex-trigger",
        "dana",
        "POST",
        f"/customer{JOBS}/trigger",
        403,
        "org-globex",
        upstream="durably",
        trigger=True,
        choose="org-globex",
    ),
    _c("carol-trigger", "carol", "POST", f"/customer{JOBS}/trigger", 403, "org-acme", upstream="durably", trigger=True),
    _c(
        "partner-trigger",
        "partner",
        "POST",
        f"/dealer{JOBS}/trigger",
        200,
        "org-partner",
        upstream="durably",
        trigger=True,
    ),
    _c(
        "alice-list-globex",
        "alice",
        "GET",
        f"/customer{JOBS}/runs?limit=20&label.organizationId=org-globex",
        200,
        "org-acme",
        upstream="durably",
    ),
    _c("bob-list", "bob", "GET", f"/customer{JOBS}/runs?limit=20", 200, "org-globex", upstream="durably"),
    _c(
        "dana-globex-list",
        "dana",
        "GET",
        f"/customer{JOBS}/runs?limit=20",
        200,
        "org-globex",
        upstream="durably",
        choose="org-globex",
    ),
    _c("cgw-list", "cgw", "GET", f"/customer{JOBS}/runs?limit=20", 200, "org-acme", upstream="durably"),
    _c("partner-list", "partner", "GET", f"/dealer{JOBS}/runs?limit=20", 200, "org-partner", upstream="durably"),
    _c("alice-reads-bobs-run", "alice", "GET", f"/customer{JOBS}/run?runId=", 404, "org-acme", upstream="durably"),
)
