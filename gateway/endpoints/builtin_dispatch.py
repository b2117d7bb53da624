"""`BuiltinDispatch`: a route's built-in target answered by its handler (`gateway.endpoints.builtins`),
bound by id when the gateway is built."""

from __future__ import annotations

from collections.abc import Mapping

from gateway.decision import Decision
from gateway.endpoints.builtins import Handler
from gateway.errors import NotFound
from gateway.front.exchange import Exchange
from gateway.policy import Builtin


class BuiltinDispatch:
    def __init__(self, handlers: Mapping[str, Handler]) -> None:
        #: built-in id -> its handler for the running gateway
        self.handlers = handlers

    async def answer(self, ex: Exchange, decision: Decision, target: Builtin) -> None:
        handler = self.handlers.get(target.name)
        if handler is None:  # the loader rejects unknown builtins; fail closed anyway
            raise NotFound("no such route", reason="unknown_builtin")
        await handler(ex, decision.match, decision.principal)
