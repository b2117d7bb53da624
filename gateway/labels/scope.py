"""Organization scoping of forwarded requests, by the route's label profile.

The pure rewriting lives in gateway.labels; this module adds what needs the network
(looking up a run's labels before a run-level call) and picks the response filter.

Two labels are enforced on a Durably-shaped service: the organization label of the
profile (`organizationId`) and `tenant`, so the same organization id in two tenants
never shares runs. Shared keys (idempotency, concurrency) are namespaced by both.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass

from cachetools import LRUCache

from gateway import labels as L
from gateway.errors import Forbidden, NotFound, NotVisible, UnsupportedMediaType
from gateway.forward.proxy import Body, BodyFilter, Upstreams
from gateway.front.exchange import Exchange
from gateway.observe import tracing
from gateway.policy import Forward, Match, PolicySet
from gateway.principal import Principal

TENANT_LABEL = "tenant"


@dataclass(frozen=True, slots=True)
class Prepared:
    query: bytes
    body: Body
    #: applied to a 2xx response body read whole (bounded), or to a 2xx stream chunk by chunk
    whole: Callable[[bytes], bytes] | None = None
    stream: Callable[[], BodyFilter] | None = None
    #: applied to a non-2xx response body (bounded), e.g. to un-namespace keys quoted in a 409
    error_whole: Callable[[bytes], bytes] | None = None
    #: client headers that no longer describe the forwarded body
    drop_headers: frozenset[str] = frozenset()
    content_type: str | None = None
    long_lived: bool = False


#: (caller, upstream name) -> the caller's signed identity assertion for that upstream
Assert = Callable[[Principal, str], str]


#: runs whose owner is kept (about 300 bytes each); an older one is fetched again when asked about
OWNERS = 10_000


class OrgScope:
    def __init__(self, upstreams: Upstreams, body_limit: int, assertion: Assert | None = None) -> None:
        self.upstreams = upstreams
        self.body_limit = body_limit
        #: run look-ups carry the caller's assertion, like the request they check (a service
        #: that verifies assertions, docs/durably-contract.md, answers them as the caller)
        self.assertion = assertion
        #: (upstream, run id) -> its labels' owner, for the runs asked about most recently
        self._owners: LRUCache[tuple[str, str], tuple[str | None, str | None]] = LRUCache(maxsize=OWNERS)

    async def prepare(
        self, ex: Exchange, match: Match, principal: Principal | None, body: Body, policies: PolicySet
    ) -> Prepared:
        if not match.route.injects_labels:  # identity headers only
            return Prepared(query=ex.request.raw_query, body=body)
        profile = policies.label_profiles.get(match.route.labels)
        if profile is None:  # the loader checks names; fail closed anyway
            raise NotFound("no such label profile", reason="unknown_label_profile")
        if principal is None or not principal.organization:
            raise Forbidden("this route is scoped to an organization and the caller has none", reason="no_organization")
        scope = Scope(profile, principal.organization, match.route.tenant)
        op = L.classify(profile, ex.request.method, match.upstream_path)
        if op is None:
            raise NotFound("no such operation", reason="unknown_operation")
        ex.log["operation"] = op.name
        return await self._prepare(ex, match, scope, op, body, principal)

    async def _prepare(
        self, ex: Exchange, match: Match, scope: Scope, op: L.Operation, body: Body, principal: Principal
    ) -> Prepared:
        if op.kind == "trigger":
            _identity_encoding(ex)
            raw = body if isinstance(body, bytes) else await ex.read_body(self.body_limit)
            content_type = (ex.request.header(b"content-type") or b"").decode("latin-1") or None
            new = scope.trigger(raw, content_type)
            return Prepared(
                b"",
                new,
                error_whole=scope.unnamespace,
                drop_headers=frozenset({"content-type", "content-encoding"}),
                content_type="application/json",
            )
        if op.kind in ("list", "list_stream"):
            query = scope.query(ex.request.raw_query)
            if op.stream:
                return Prepared(query, body, stream=scope.sse_filter, long_lived=True)
            return Prepared(query, body, whole=scope.filter_list if scope.profile.recheck_lists else None)
        if op.is_run_level:
            run_id, body = await self._run_id(ex, scope, op, body)
            await self._check_owner(ex, match, scope, run_id, principal)
            query = L.canonical_run_query(run_id, scope.profile.run_id_param) if op.run_id_from == "query" else b""
            stream = scope.sse_filter if op.stream else None
            return Prepared(query, body, stream=stream, long_lived=op.stream)
        return Prepared(ex.request.raw_query, body)  # passthrough

    async def _run_id(self, ex: Exchange, scope: Scope, op: L.Operation, body: Body) -> tuple[str, Body]:
        if op.run_id_from == "query":
            return L.run_id_from_query(ex.request.raw_query, scope.profile.run_id_param), body
        raw = body if isinstance(body, bytes) else await ex.read_body(self.body_limit)
        content_type = (ex.request.header(b"content-type") or b"").decode("latin-1") or None
        return L.run_id_from_body(raw, content_type, scope.profile.run_id_param)

    async def _check_owner(self, ex: Exchange, match: Match, scope: Scope, run_id: str, principal: Principal) -> None:
        target = match.route.target
        assert isinstance(target, Forward)
        key = (target.upstream, run_id)
        owner = self._owners.get(key)
        if owner is None:
            owner = await self._lookup(ex, target.upstream, scope, run_id, principal)
            if owner is not None:
                self._owners[key] = owner  # labels are immutable: the owner never changes
        if owner != scope.owner:
            p = scope.profile
            raise NotVisible(p.not_found_status, p.not_found_body, p.not_found_content_type)

    async def _lookup(
        self, ex: Exchange, upstream: str, scope: Scope, run_id: str, principal: Principal
    ) -> tuple[str | None, str | None] | None:
        p = scope.profile
        path = f"{p.base_path}{p.lookup_path}?{L.canonical_run_query(run_id, p.run_id_param).decode()}"
        headers = [(b"x-request-id", ex.origin.request_id.encode()), *tracing.outgoing()]
        if self.assertion is not None:
            headers.append((b"x-identity-assertion", self.assertion(principal, upstream).encode("ascii")))
        got = await self.upstreams.fetch(upstream, "GET", path, headers, 10.0)
        if got.status != 200:
            return None
        return scope.owner_of(got.body)


def _identity_encoding(ex: Exchange) -> None:
    """An inspected body is parsed as sent and forwarded re-serialised: no content coding."""
    for value in ex.request.header_values(b"content-encoding"):
        if value.strip().lower() not in (b"", b"identity"):
            raise UnsupportedMediaType("the body must not be content-encoded", reason="content_encoding")


class Scope:
    """One caller's organization and tenant, applied through a profile."""

    def __init__(self, profile: L.LabelProfile, org: str, tenant: str) -> None:
        self.profile, self.org, self.tenant = profile, org, tenant
        self.owner = (org, tenant)

    def query(self, raw: bytes) -> bytes:
        args = (raw, self.profile.label_key, self.profile.label_key_pattern, self.org, self.tenant)
        return _scoped_query(*args) if len(raw) <= 512 else _scoped_query.__wrapped__(*args)

    @property
    def namespace(self) -> str:
        """What shared keys are namespaced by: tenant and organization (no ':' in tenant names)."""
        return f"{self.tenant}:{self.org}"

    def unnamespace(self, body: bytes) -> bytes:
        """Durably quotes the namespaced key in its 409; the client gets its own key back."""
        return L.unnamespace_text(self.namespace, body.decode("utf-8", "replace")).encode("utf-8")

    def trigger(self, body: bytes, content_type: str | None) -> bytes:
        stamped = L.rewrite_trigger(self.profile, body, content_type, self.org, self.namespace)
        return L.rewrite_trigger_body(
            stamped,
            "application/json",
            self.tenant,
            TENANT_LABEL,
            labels_field=self.profile.labels_field,
            label_key_pattern=self.profile.label_key_pattern,
            namespace_keys=False,
        )

    def filter_list(self, body: bytes) -> bytes:
        return L.filter_list_by(body, {self.profile.label_key: self.org, TENANT_LABEL: self.tenant})

    def sse_filter(self) -> BodyFilter:
        return _Chain(L.SseLabelFilter(self.profile.label_key, self.org), L.SseLabelFilter(TENANT_LABEL, self.tenant))

    def owner_of(self, run_body: bytes) -> tuple[str | None, str | None] | None:
        try:
            run = json.loads(run_body)
        except ValueError:
            return None
        labels = run.get("labels") if isinstance(run, dict) else None
        if not isinstance(labels, dict):
            return None
        org, tenant = labels.get(self.profile.label_key), labels.get(TENANT_LABEL)
        return (org if isinstance(org, str) else None, tenant if isinstance(tenant, str) else None)


@functools.lru_cache(maxsize=4096)  # the same few queries (often none) from each caller, again and again
def _scoped_query(raw: bytes, label_key: str, key_pattern: str, org: str, tenant: str) -> bytes:
    L.check_label_filters(raw, key_pattern)  # else the upstream 500s
    return L.rewrite_query(L.rewrite_query(raw, label_key, org), TENANT_LABEL, tenant)


class _Chain:
    """Two SSE label filters in a row: an event passes only if both labels are the caller's."""

    def __init__(self, first: L.SseLabelFilter, second: L.SseLabelFilter) -> None:
        self.first, self.second = first, second

    def feed(self, chunk: bytes) -> bytes:
        return self.second.feed(self.first.feed(chunk))

    def finish(self) -> bytes:
        return self.second.feed(self.first.flush()) + self.second.flush()

    @property
    def between_events(self) -> bool:
        return self.first.between_events and self.second.between_events
