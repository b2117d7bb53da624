"""`forward_plan`: the upstream request an allowed request becomes, decided before it is sent."""

from __future__ import annotations

from gateway.forward.proxy import ForwardPlan, timeouts_of
from gateway.front.paths import quote_path
from gateway.labels.scope import Prepared
from gateway.policy import Forward, Match


def forward_plan(
    method: str, match: Match, target: Forward, prepared: Prepared, headers: list[tuple[bytes, bytes]]
) -> ForwardPlan:
    """The upstream request: the canonical path re-encoded, the query as the label profile
    left it, and the route's timeout (its idle timeout for a long-lived answer)."""
    route = match.route
    path = quote_path(match.upstream_path)
    query = prepared.query
    long_lived = route.stream or prepared.long_lived
    return ForwardPlan(
        upstream=target.upstream,
        method=method,
        path_and_query=path + "?" + query.decode("latin-1") if query else path,
        headers=headers,
        body=prepared.body,
        timeouts=timeouts_of(route.idle_timeout if long_lived else route.timeout),
        whole=prepared.whole,
        stream=prepared.stream,
        error_whole=prepared.error_whole,
        long_lived=long_lived,
    )
