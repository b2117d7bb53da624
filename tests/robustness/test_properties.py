"""Differential property tests through live gateways (hypothesis).

(a) the path the gateway authorized is the path the upstream received;
(b) Durably receives exactly one organization, the caller's (real Durably, `world`);
(c) no header the gateway owns reaches the upstream with a client-chosen value;
(d) label rewriting is idempotent (pure).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway import labels as L
from gateway.errors import GatewayError
from gateway.forward.headers import CONSUMED, OWNED, normalise
from gateway.front.paths import canonical_path, quote_path
from gateway.front.tenants import resolve_tenant
from gateway.labels.scope import TENANT_LABEL, Scope
from gateway.labels.trigger import parse_strict_json
from gateway.load import load_all
from gateway.policy import Forward, match
from tests.robustness.conftest import Backends
from tests.robustness.support import LIVE_EXAMPLES, policies_dir, robust_env
from tests.support.labels import org_filters
from tests.support.processes import Proc, gateway_process
from tests.support.rawhttp import raw_request
from tests.support.world import World

LIVE = settings(max_examples=LIVE_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PURE = settings(max_examples=200, deadline=None)
UVICORN_REJECT = b"Invalid HTTP request received."


@pytest.fixture(scope="module")
def gw(backends: Backends) -> Iterator[tuple[Proc, Any, Any]]:
    """A gateway with tests/robustness/policies; plus the settings and policies it loaded."""
    env = robust_env(backends.emulator.base_url, "http://127.0.0.1:9", backends.rec.url, backends.faulty.url)
    with policies_dir() as folder:
        env["GATEWAY_POLICIES_DIR"] = str(folder)
        settings_, policies = load_all(env)
        with gateway_process(env) as proc:
            yield proc, settings_, policies


# --- (a) the path authorized is the path forwarded ------------------------------------------

_PIECES = [
    "a",
    "b",
    "Z",
    "0",
    "~",
    "-",
    "_",
    "@",
    ":",
    "!",
    "$",
    "'",
    "(",
    "*",
    "+",
    ",",
    "=",
    "&",
    ".",
    "..",
    "...",
    "%2e",
    "%2E",
    "%2e%2e",
    ".%2e",
    "%2f",
    "%2F",
    "%25",
    "%252e",
    "%252f",
    "%5c",
    "%5C",
    "\\",
    ";",
    "%3b",
    "%3B",
    "%00",
    "%0a",
    "%20",
    "%09",
    "%41",
    "%7e",
    "%7E",
    "%C3%A9",
    "%c3",
    "%ff",
    "%",
    "%g1",
    "%2",
    "é",
    "\u2024",
    "\uff0e",
    "%EF%BC%8E",
    "%EF%BC%8F",
    "%E2%80%8B",
    "%E2%81%84",
    "#",
    "?",
    "?x=1",
    "%3F",
    "%23",
    "\x7f",
    "\x01",
    "[",
    "]",
    "{",
    "}",
    "|",
    "^",
    "`",
    '"',
    "<",
    ">",
]
_PREFIXES = [
    "/p",
    "/customer/p",
    "/dealer/p",
    "/admin/p",
    "/u/1/items",
    "/customer/u/x/items",
    "/k",
    "/dealer/k",
    "/e",
    "/admin/e",
    "/P",
    "/customerx/p",
    "",
    "//p",
    "/./p",
    "/customer/../admin/p",
    "p",
    "@evil/p",
    "*",
    "/p/",
    "/api/durably",
    "/partner-api",
    "/h",
]


@st.composite
def targets(draw: st.DrawFn) -> bytes:
    segments = draw(st.lists(st.lists(st.sampled_from(_PIECES), min_size=0, max_size=3).map("".join), max_size=5))
    separators = draw(st.lists(st.sampled_from(["/", "/", "/", "//"]), min_size=len(segments), max_size=len(segments)))
    path = draw(st.sampled_from(_PREFIXES)) + "".join(s + seg for s, seg in zip(separators, segments, strict=True))
    return path.encode("utf-8")


def oracle(settings_: Any, policies: Any, target: bytes) -> str | None:
    """The target the upstream must receive (the pipeline's own steps, in process), or None.

    A fragment is refused by the gateway's protocol (httptools would drop it silently).
    """
    if b"#" in target:
        return None
    raw_path, _, query = target.partition(b"?")
    try:
        path = canonical_path(raw_path)
        tenant = resolve_tenant(settings_, path, None)
        found = match(policies, tenant.tenant, "GET", tenant.rest)
    except GatewayError:
        return None
    if not found.route.anonymous or not isinstance(found.route.target, Forward):
        return None  # needs a credential (or is a built-in): never reaches the recorder
    forwarded = quote_path(found.upstream_path)
    return forwarded + "?" + query.decode("latin-1") if query else forwarded


@LIVE
@given(target=targets())
def test_authorized_path_is_forwarded_path(gw: tuple[Proc, Any, Any], backends: Backends, target: bytes) -> None:
    proc, settings_, policies = gw
    backends.clear()
    if b"\r" in target or b"\n" in target or b" " in target:
        return
    resp = raw_request(proc.url, "GET", target)
    got = [r["target"] for r in backends.recorded()]
    expected = oracle(settings_, policies, target)
    if 200 <= resp.status < 300:
        assert expected is not None, (target, resp.status)
        assert got == [expected], (target, got, expected)
        return
    assert 400 <= resp.status < 500, (target, resp.status, resp.body)
    assert got == [], (target, got)
    if expected is not None:  # the model says allow: only uvicorn's own parser may refuse first
        assert resp.body == UVICORN_REJECT, (target, resp.status, resp.body, expected)


@pytest.mark.parametrize(
    ("target", "forwarded"),
    [
        (b"/u/%41/items/b", "/v1/items/A/items/b"),  # path_prefix replaces the static part before {id}
        (b"/dealer/k/x", "/dealer/k/x"),  # strip_tenant_prefix: false
        (b"/p/%7e%7E", "/p/~~"),  # unreserved escapes decoded once, consistently
        (b"/p/%C3%A9?q=%2e%2e", "/p/%C3%A9?q=%2e%2e"),  # the query is forwarded as sent
    ],
)
def test_forwarded_path_examples(gw: tuple[Proc, Any, Any], backends: Backends, target: bytes, forwarded: str) -> None:
    proc, settings_, policies = gw
    backends.clear()
    assert raw_request(proc.url, "GET", target).status == 200
    assert [r["target"] for r in backends.recorded()] == [forwarded] == [oracle(settings_, policies, target)]


# --- (b) Durably receives exactly one organization, the caller's ------------------------------

_NAMES = [
    "label.organizationId",
    "label%2EorganizationId",
    "label%2eorganizationId",
    "label.organizationid",
    "LABEL.ORGANIZATIONID",
    "label[organizationId]",
    "label%5BorganizationId%5D",
    "%6cabel.organizationId",
    "label.organizationId%20",
    "+label.organizationId",
    "label.organization%49d",
    "label%252EorganizationId",
    "label.%6frganizationId",
    "label.organizationId%00",
    "label.tenant",
    "label.Tenant",
    "label%2Etenant",
    "label.team",
    "labels.organizationId",
    "label.organizationId.x",
    "limit",
    "jobName",
    "status",
]
_VALUES = [
    "org-acme",
    "org-globex",
    "org-partner",
    "",
    "org%2Dglobex",
    "org-globex%00",
    "a+b",
    "%",
    "customer",
    "dealer",
    "5",
    "echo",
    "org-globex&label.organizationId=org-globex",
]
CALLERS = {"alice": ("org-acme", "customer"), "bob": ("org-globex", "customer"), "dave": ("org-acme", "dealer")}


class DurablyTap:
    """What Durably received since the last mark (its own recorder, kept-alive client)."""

    def __init__(self, world: World) -> None:
        self.url = world.durably.base_url + "/__recorder/requests"
        self.http = httpx.Client(timeout=15)
        self.seq = self._all()[-1]["seq"] if self._all() else 0

    def _all(self) -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = self.http.get(self.url).json()
        return got

    def since(self) -> list[dict[str, Any]]:
        new = [r for r in self._all() if r["seq"] > self.seq]
        if new:
            self.seq = new[-1]["seq"]
        return new


@pytest.fixture(scope="module")
def durably(world: World) -> Iterator[tuple[World, DurablyTap, dict[str, str]]]:
    tokens = {who: world.session(who) for who in CALLERS}
    with world.client() as http:  # one run per organization, so cross-org data exists to leak
        for who in CALLERS:
            tenant = CALLERS[who][1]
            body = {"jobName": "echo", "input": {"who": who}}
            r = http.post(
                f"/{tenant}/api/durably/trigger", json=body, headers={"Authorization": f"Bearer {tokens[who]}"}
            )
            assert r.status_code == 200, r.text
    tap = DurablyTap(world)
    yield world, tap, tokens
    tap.http.close()


def _durably_filters(query: str, key: str) -> list[str]:
    return org_filters(query.encode("latin-1"), key)


@LIVE
@given(
    who=st.sampled_from(sorted(CALLERS)),
    params=st.lists(st.tuples(st.sampled_from(_NAMES), st.sampled_from(_VALUES)), max_size=6),
    sep=st.sampled_from(["&", "&&", "&;"]),
)
def test_list_query_carries_only_the_callers_org(
    durably: tuple[World, DurablyTap, dict[str, str]], who: str, params: list[tuple[str, str]], sep: str
) -> None:
    world, tap, tokens = durably
    org, tenant = CALLERS[who]
    query = sep.join(f"{n}={v}" for n, v in params)
    tap.since()
    resp = raw_request(
        world.url,
        "GET",
        f"/{tenant}/api/durably/runs?{query}".encode(),
        [(b"Authorization", f"Bearer {tokens[who]}".encode())],
    )
    seen = tap.since()
    if not seen:  # refused by the gateway
        assert resp.status in (400, 403), (query, resp.status, resp.body)
        return
    assert len(seen) == 1, seen  # forwarded (Durably may still refuse, e.g. limit=x is its 400)
    assert resp.status in (200, 400), (query, resp.status, resp.body)
    upstream_query = seen[0]["path"].partition("?")[2]
    assert _durably_filters(upstream_query, "organizationId") == [org], upstream_query
    assert _durably_filters(upstream_query, TENANT_LABEL) == [tenant], upstream_query
    if resp.status != 200:
        return
    for run in json.loads(resp.body):  # the answer holds only the caller's runs
        assert run["labels"].get("organizationId") == org and run["labels"].get(TENANT_LABEL) == tenant, run


@pytest.mark.parametrize("query", ["label.organizationId%00=org-acme", "label.team%20=x", "label.=x", "label.a%3Fb=1"])
def test_label_filter_durably_cannot_parse_is_refused(
    durably: tuple[World, DurablyTap, dict[str, str]], query: str
) -> None:
    """Hole found by the property above: these reached Durably, which answered 500."""
    world, tap, tokens = durably
    tap.since()
    resp = raw_request(
        world.url,
        "GET",
        f"/customer/api/durably/runs?{query}".encode(),
        [(b"Authorization", f"Bearer {tokens['alice']}".encode())],
    )
    assert resp.status == 400 and b"invalid_label_filter" in resp.body, resp.body
    assert tap.since() == []


_KEYS = [
    '"organizationId"',
    '"organization\\u0049d"',
    '"\\u006frganizationId"',
    '"organizationid"',
    '"OrganizationId"',
    '"tenant"',
    '"Tenant"',
    '"t\\u0065nant"',
    '"team"',
    '"a.b/c"',
    '"bad key"',
]
_LABEL_VALUES = [
    '"org-acme"',
    '"org-globex"',
    '"org-partner"',
    '""',
    '"customer"',
    '"dealer"',
    "1",
    "null",
    '["org-globex"]',
    '{"x":"org-globex"}',
    '"org-acme\\u0000"',
]


@st.composite
def trigger_bodies(draw: st.DrawFn) -> bytes:
    def labels() -> str:
        pairs = draw(st.lists(st.tuples(st.sampled_from(_KEYS), st.sampled_from(_LABEL_VALUES)), max_size=4))
        return "{" + ",".join(f"{k}:{v}" for k, v in pairs) + "}"

    fields = ['"jobName":"echo"', '"input":{"labels":' + labels() + "}"]
    for _ in range(draw(st.integers(0, 2))):
        fields.append(draw(st.sampled_from(['"labels":', '"l\\u0061bels":', '"Labels":'])) + labels())
    if draw(st.booleans()):
        fields.append('"idempotencyKey":' + draw(st.sampled_from(['"k1"', '"org-globex:k1"', "1", '""'])))
    order = draw(st.permutations(fields))
    return ("{" + ",".join(order) + "}").encode()


@LIVE
@given(who=st.sampled_from(sorted(CALLERS)), body=trigger_bodies())
def test_trigger_body_carries_only_the_callers_org(
    durably: tuple[World, DurablyTap, dict[str, str]], who: str, body: bytes
) -> None:
    world, tap, tokens = durably
    org, tenant = CALLERS[who]
    tap.since()
    resp = raw_request(
        world.url,
        "POST",
        f"/{tenant}/api/durably/trigger".encode(),
        [(b"Authorization", f"Bearer {tokens[who]}".encode()), (b"Content-Type", b"application/json")],
        body,
    )
    seen = tap.since()
    if resp.status >= 400 and not seen:
        assert resp.status in (400, 403, 415), (body, resp.status, resp.body)
        return
    assert len(seen) == 1, (body, seen)
    forwarded = parse_strict_json(seen[0]["body"].encode("utf-8"))  # one copy of every key, or this raises
    labels = forwarded["labels"]
    assert labels["organizationId"] == org and labels[TENANT_LABEL] == tenant, forwarded
    assert sorted(k for k in labels if k.casefold() in ("organizationid", "tenant")) == ["organizationId", "tenant"]
    key = forwarded.get("idempotencyKey")
    assert key is None or key.startswith(L.encode_org(f"{tenant}:{org}") + ":"), key


# --- (c) owned headers never carry a client-chosen value -------------------------------------

_OWNED = sorted(OWNED)
MARK = "~zz~"  # '~' is in no value the gateway sets (base64url, hex, IPs, names)


@st.composite
def spoofed(draw: st.DrawFn) -> list[tuple[bytes, bytes]]:
    out = []
    for _ in range(draw(st.integers(1, 6))):
        name = draw(st.sampled_from(_OWNED))
        chars = [
            draw(st.sampled_from([c.lower(), c.upper()])) if c != "-" else draw(st.sampled_from("-_.")) for c in name
        ]
        value = MARK + draw(st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=12))
        out.append(("".join(chars).encode(), value.encode()))
    if draw(st.booleans()):
        out.append((b"Connection", b", ".join(n for n, _ in out[: draw(st.integers(1, len(out)))])))
    return out


@LIVE
@given(headers=spoofed(), who=st.sampled_from(["alice", "partner-inventory:inventory:read", None]))
def test_owned_headers_are_the_gateways(
    gw: tuple[Proc, Any, Any], backends: Backends, headers: list[tuple[bytes, bytes]], who: str | None
) -> None:
    proc, _, _ = gw
    backends.faulty.clear()
    backends.clear()
    auth = [] if who is None else [(b"Authorization", f"Bearer {backends.token(who)}".encode())]
    tenant = "dealer" if who and ":" in who else "customer"
    target = f"/{tenant}/{'h' if who else 'p'}/x".encode()
    resp = raw_request(proc.url, "GET", target, headers + auth)
    if who is None:  # /p goes to the recorder
        recorded = [r["headers"] for r in backends.recorded()]
    else:
        recorded = [r["headers"] for r in backends.faulty.requests()]
    if who is not None and any(normalise(n) in CONSUMED for n, _ in headers):
        # a chosen organization the gateway reads: the client's value is no organization id
        assert resp.status == 400 and recorded == [], resp.body
        return
    assert resp.status == 200, resp.body
    assert len(recorded) == 1
    for name, value in recorded[0]:
        if normalise(name.encode("latin-1")) in OWNED:
            assert MARK not in value, (name, value, headers)
    names = [normalise(n.encode("latin-1")) for n, _ in recorded[0]]
    for owned in ("x-tenant", "x-request-id", "x-forwarded-for"):
        assert names.count(owned) == 1, (owned, names)
    if who is not None:
        assert names.count("x-org-id") == 1 and names.count("x-identity-assertion") == 1, names


# --- (d) label rewriting is idempotent ---------------------------------------------------------

_QUERY_PARTS = st.lists(
    st.tuples(st.sampled_from([*_NAMES, "runId", "x", "", "label.", "label[]"]), st.sampled_from(_VALUES)),
    max_size=6,
)
_ORGS = st.sampled_from(["org-acme", "org-globex", "a:b", "é", "a&b=c", "%41", "x y"])


@PURE
@given(parts=_QUERY_PARTS, org=_ORGS, raw=st.binary(max_size=40))
def test_rewrite_query_is_idempotent(parts: list[tuple[str, str]], org: str, raw: bytes) -> None:
    for query in ("&".join(f"{n}={v}" for n, v in parts).encode(), raw):
        once = L.rewrite_query(query, "organizationId", org)
        assert L.rewrite_query(once, "organizationId", org) == once
        assert org_filters(once, "organizationId") == [org]
        scope = Scope(L.durably_profile(), org, "customer")
        try:
            scoped = scope.query(query)
        except L.LabelError as exc:  # a label filter key Durably would refuse with a 500
            assert exc.code == "invalid_label_filter"
            continue
        assert scope.query(scoped) == scoped


@PURE
@given(body=trigger_bodies(), org=_ORGS)
def test_rewrite_trigger_is_idempotent(body: bytes, org: str) -> None:
    try:
        once = L.rewrite_trigger_body(body, "application/json", org, namespace_keys=False)
    except L.LabelError:
        return
    assert L.rewrite_trigger_body(once, "application/json", org, namespace_keys=False) == once
    try:
        namespaced = L.rewrite_trigger_body(body, "application/json", org)
    except L.LabelError as exc:  # only the key check is left to refuse
        assert exc.code == "invalid_key"
        return
    # the stamp is idempotent; only the key namespacing is applied once per request
    assert L.rewrite_trigger_body(namespaced, "application/json", org, namespace_keys=False) == namespaced


_EVENT_LABELS = st.sampled_from(
    [
        '{"organizationId":"org-acme"}',
        '{"organizationId":"org-globex"}',
        "{}",
        "null",
        '{"organizationId":["org-acme"]}',
    ]
)


@st.composite
def sse_streams(draw: st.DrawFn) -> bytes:
    out = []
    for _ in range(draw(st.integers(0, 6))):
        end = draw(st.sampled_from(["\n", "\r\n", "\r"]))
        kind = draw(st.sampled_from(["data", "comment", "retry", "garbage", "multi"]))
        if kind == "data":
            out.append(f'id: 1{end}data: {{"labels":{draw(_EVENT_LABELS)}}}{end}{end}')
        elif kind == "multi":
            out.append(f'data: {{"labels":{end}data: {draw(_EVENT_LABELS)}}}{end}{end}')
        elif kind == "comment":
            out.append(f": keep-alive{end}{end}")
        elif kind == "retry":
            out.append(f"retry: 1000{end}{end}")
        else:
            out.append(f"data: not json{end}{end}")
    return "".join(out).encode()


@PURE
@given(stream=sse_streams())
def test_sse_filter_is_idempotent(stream: bytes) -> None:
    def run(data: bytes) -> bytes:
        f = L.SseLabelFilter("organizationId", "org-acme")
        return f.feed(data) + f.flush()

    once = run(stream)
    assert run(once) == once
    assert b"org-globex" not in once


def test_no_gateway_header_spelling_slips_through() -> None:
    """Every owned header in every `_`/`.`/case spelling normalises to the owned name."""
    for name in OWNED:
        for variant in (name.upper(), name.replace("-", "_"), name.replace("-", "."), name.title()):
            assert normalise(variant.encode()) == name
    assert re.fullmatch(r"[a-z0-9-]+", "".join(OWNED))
