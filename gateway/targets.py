"""Where an authorized request goes: an upstream (through its label profile) or a built-in."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from gateway.assertion import AssertionSigner
from gateway.config import Settings
from gateway.decision import Decision
from gateway.errors import BadRequest, NotFound
from gateway.exchange import Exchange
from gateway.headers import upstream_request_headers
from gateway.identity import identity_headers
from gateway.orgscope import OrgScope, Prepared
from gateway.paths import quote_path
from gateway.policy import Builtin, Forward, Match
from gateway.principal import Principal
from gateway.proxy import Body, Timeouts, Upstreams

Handler = Callable[[Exchange, Match, Principal | None], Awaitable[None]]


class Targets:
    def __init__(
        self,
        settings: Settings,
        upstreams: Upstreams,
        signer: AssertionSigner,
        orgscope: OrgScope,
        builtins: Mapping[str, Handler],
    ) -> None:
        self.settings = settings
        self.upstreams = upstreams
        self.signer = signer
        self.orgscope = orgscope
        self.builtins = builtins

    async def dispatch(self, ex: Exchange, decision: Decision) -> None:
        match, principal = decision.match, decision.principal
        target = match.route.target
        if isinstance(target, Builtin):
            handler = self.builtins.get(target.name)
            if handler is None:  # the loader rejects unknown builtins; fail closed anyway
                raise NotFound("no such route", reason="unknown_builtin")
            await handler(ex, match, principal)
            return
        await self.forward(ex, decision, target)

    async def forward(self, ex: Exchange, decision: Decision, target: Forward) -> None:
        match, principal = decision.match, decision.principal
        route = match.route
        if ex.request.header(b"upgrade") is not None and not route.websocket:
            raise BadRequest("protocol upgrades are not allowed on this route", reason="upgrade_refused")
        body = await self._body(ex)
        prepared = await self.orgscope.prepare(ex, match, principal, body, decision.policies)
        path = quote_path(match.upstream_path)
        query = prepared.query
        path_and_query = path + "?" + query.decode("latin-1") if query else path
        headers = self._headers(ex, match, principal, prepared)
        long_lived = route.stream or prepared.long_lived
        timeouts = Timeouts(
            total=None if long_lived else route.timeout, idle=route.idle_timeout if long_lived else None
        )
        ex.log["upstream"] = target.upstream
        ex.status = await self.upstreams.forward(
            target.upstream, ex.request.method, path_and_query, headers, prepared.body,
            ex.send, timeouts, prepared.whole, prepared.stream,
        )  # fmt: skip

    async def _body(self, ex: Exchange) -> Body:
        if not ex.has_body():
            return None
        declared = ex.request.header(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) <= 64 << 10:
            return await ex.read_body(64 << 10)
        return ex.stream_body()

    def _headers(
        self, ex: Exchange, match: Match, principal: Principal | None, prepared: Prepared
    ) -> list[tuple[str, str]]:
        kept = upstream_request_headers(ex.request.headers, drop=prepared.drop_headers)
        headers = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in kept]
        audience = match.route.target.upstream if isinstance(match.route.target, Forward) else "gateway"
        headers += identity_headers(principal, match.route.tenant, ex.origin, audience, self.signer)
        if prepared.content_type is not None:
            headers.append(("Content-Type", prepared.content_type))
        return headers
