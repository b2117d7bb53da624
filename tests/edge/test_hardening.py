"""One source for what a front nginx must clear and set: the gateway's own header lists
(`gateway.forward.headers`, `gateway.endpoints.forward_auth.DESCRIBING`). Both the shipped
forward-auth recipe (deploy/forward-auth/nginx.conf) and the configuration `gateway edge nginx`
renders must carry every line those lists call for; the real-nginx tests (tests/security,
tests/edge) then show what each line does."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from gateway.edge.nginx import Options, render
from gateway.endpoints.forward_auth import DESCRIBING
from gateway.forward.headers import CONSUMED, CREDENTIALS, FORWARDING_HEADERS, HOP_BY_HOP, IDENTITY_HEADERS
from gateway.load import load_all
from tests.support.processes import ROOT
from tests.support.seed import gateway_env

#: every header a forwarded request's client copy must be replaced or removed of (the trace
#: context aside: the recipe copies the decision's, the edge passes the caller's on)
FORWARDED = IDENTITY_HEADERS | FORWARDING_HEADERS | CONSUMED | CREDENTIALS | (HOP_BY_HOP - {"transfer-encoding"})
#: every header that could describe another request to the gateway
DECIDED = DESCRIBING | {"x-forwarded-prefix"}
#: a configuration: its whole text, the block forwarding to upstreams, the decision's block
Config = Callable[[], tuple[str, str, str]]


def block(text: str, head: str) -> str:
    """The body of the first block whose head starts with `head`, nested blocks included."""
    start = text.index(head)
    depth, i = 0, text.index("{", start)
    for j in range(i, len(text)):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            return text[i + 1 : j]
    raise AssertionError(f"{head}: unbalanced")


def set_headers(body: str) -> set[str]:
    return {name.lower() for name in re.findall(r"^\s*proxy_set_header\s+(\S+)", body, re.MULTILINE)}


def recipe() -> tuple[str, str, str]:
    text = (ROOT / "deploy" / "forward-auth" / "nginx.conf").read_text()
    return text, block(text, "location ~ ^/(?:customer|dealer|admin)/"), block(text, "location = /_decision")


def edge() -> tuple[str, str, str]:
    env = gateway_env(8080, "http://127.0.0.1:4455", "http://127.0.0.1:3001", "http://127.0.0.1:3002")
    settings, policies = load_all(env | {"GATEWAY_TRUSTED_PROXIES": "127.0.0.1/32"})
    text = render(settings, policies, Options("8000", "127.0.0.1:8080", "/var/cache/nginx/ory-gateway", ()))
    return text, block(text, "location / {"), block(text, 'location = "/_edge;decision"')


@pytest.mark.parametrize("config", [recipe, edge], ids=["forward-auth recipe", "edge"])
def test_every_header_the_gateway_owns_is_replaced_or_removed_before_the_upstream(config: Config) -> None:
    text, forwarding, _ = config()
    assert not FORWARDED - set_headers(forwarding), sorted(FORWARDED - set_headers(forwarding))
    # aliases (X_User_Id, x.user.id) are dropped before anything reads them
    assert re.search(r"^\s*underscores_in_headers off;", text, re.MULTILINE)
    assert re.search(r"^\s*ignore_invalid_headers on;", text, re.MULTILINE)


@pytest.mark.parametrize("config", [recipe, edge], ids=["forward-auth recipe", "edge"])
def test_the_decision_is_about_the_request_as_it_arrived_and_carries_no_body(config: Config) -> None:
    _, _, decision = config()
    assert not DECIDED - set_headers(decision), sorted(DECIDED - set_headers(decision))
    assert re.search(r"proxy_pass http://\w+/decisions\$request_uri;", decision)
    for line in ("proxy_method $request_method;", "proxy_pass_request_body off;", "internal;"):
        assert line in decision
    assert {"content-length", "transfer-encoding"} <= set_headers(decision)


def answering(text: str, forwarding: str) -> dict[str, str]:
    """The blocks a forwarded request's answer can come from: the forwarding block, and every
    named location its `error_page`s lead to (theirs too), by name."""
    found, todo = {"forwarding": forwarding}, [forwarding]
    while todo:
        for name in re.findall(r"^\s*error_page [^;@]*(@\w+);", todo.pop(), re.MULTILINE):
            if name not in found:
                found[name] = block(text, f"location {name} ")
                todo.append(found[name])
    return found


@pytest.mark.parametrize("config", [recipe, edge], ids=["forward-auth recipe", "edge"])
def test_every_answer_after_a_decision_carries_its_refreshed_session_cookie(config: Config) -> None:
    text, forwarding, _ = config()
    assert "auth_request_set $decided_set_cookie $upstream_http_set_cookie;" in forwarding
    blocks = answering(text, forwarding)
    assert len(blocks) >= 4  # the forwarding block and its denials' (and the upstream's errors')
    for name, body in blocks.items():
        assert re.search(r"^\s*add_header Set-Cookie \$(decided|edge)_set_cookie always;", body, re.MULTILINE), name
