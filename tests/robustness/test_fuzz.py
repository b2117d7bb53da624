"""Fuzzing the parsers the gateway owns (hypothesis): they answer or refuse, never crash.

Each target runs ``FUZZ_EXAMPLES`` examples (default 200, a few seconds in CI). A longer run:

    FUZZ_EXAMPLES=20000 .venv/bin/pytest tests/robustness/test_fuzz.py -q
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gateway import labels as L
from gateway.config.problems import ConfigError
from gateway.errors import BadRequest
from gateway.front.paths import canonical_path, is_canonical, quote_path
from gateway.labels.trigger import parse_strict_json
from gateway.load import load_settings
from gateway.policy import PolicySet
from gateway.policy.loader import load_policies
from tests.robustness.support import FUZZ_EXAMPLES
from tests.robustness.test_properties import _NAMES, _PIECES, _VALUES, sse_streams, trigger_bodies
from tests.support.labels import org_filters
from tests.support.seed import gateway_env

FUZZ = settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ORG = "org-acme"


# --- path canonicalisation ---------------------------------------------------------------------

_PATHS = st.one_of(
    st.binary(max_size=60).map(lambda b: b"/" + b),
    st.binary(max_size=60),
    st.lists(st.sampled_from([*_PIECES, "/", "/", "//"]), max_size=12).map(lambda p: ("/" + "".join(p)).encode()),
)


@FUZZ
@given(raw=_PATHS)
@example(raw=b"/a/%2e%2E/b")
@example(raw=b"/\xef\xbc\x8e\xef\xbc\x8e/x")
def test_canonical_path_answers_or_refuses(raw: bytes) -> None:
    try:
        path = canonical_path(raw)
    except BadRequest as exc:
        assert exc.reason == "ambiguous_path" and exc.status == 400
        return
    assert path.startswith("/") and "//" not in path
    assert not re.search(r"(^|/)\.\.?(/|$)", path)
    assert is_canonical(path)
    assert canonical_path(quote_path(path).encode("ascii")) == path  # the forwarded form reads back the same


# --- policy loading ----------------------------------------------------------------------------

_KEYS = [
    "tenant",
    "tenants",
    "routes",
    "label_profiles",
    "id",
    "path",
    "paths",
    "methods",
    "allow",
    "forward",
    "upstream",
    "builtin",
    "name",
    "labels",
    "stream",
    "websocket",
    "timeout",
    "idle_timeout",
    "human",
    "machine",
    "roles",
    "scopes",
    "any",
    "all",
    "strip_tenant_prefix",
    "path_prefix",
    "description",
    "param",
    "operations",
    "label_key",
    "kind",
    "method",
    "<<",
    "?",
]
_SCALARS = st.one_of(
    st.sampled_from(
        [
            "customer",
            "dealer",
            "admin",
            "nobody",
            "jobs",
            "inventory",
            "GET",
            "POST",
            "*",
            "/a",
            "/a/{x}",
            "/a/**",
            "/**",
            "/a/../b",
            "/a//b",
            "/{x}/{x}",
            "anonymous",
            "durably",
            "headers",
            "oauth2_token",
            "identity_lookup",
            "r1",
            "R1",
            "",
            "/",
            "viewer",
            "jobs:read",
            "trigger",
        ]
    ),
    st.integers(-5, 100_000),
    st.floats(allow_nan=True),
    st.booleans(),
    st.none(),
    st.text(max_size=8),
)
_TREES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(_KEYS), inner, max_size=5)),
    max_leaves=25,
)
_ROUTE = st.fixed_dictionaries(
    {
        "id": st.sampled_from(["r1", "r2", "R", "x" * 120]),
        "methods": st.lists(_SCALARS, max_size=3),
        "allow": st.one_of(st.just("anonymous"), _TREES),
    },
    optional={
        "path": _SCALARS,
        "paths": st.lists(_SCALARS, max_size=3),
        "forward": _TREES,
        "builtin": _TREES,
        "labels": _SCALARS,
        "stream": _SCALARS,
        "timeout": _SCALARS,
        "idle_timeout": _SCALARS,
    },
)
_DOCUMENTS = st.one_of(
    _TREES,
    st.fixed_dictionaries(
        {"tenants": st.lists(_SCALARS, max_size=3), "routes": st.lists(_ROUTE, max_size=3)},
        optional={"label_profiles": _TREES},
    ),
)


def _settings() -> Any:
    env = gateway_env(8080, "http://127.0.0.1:1", "http://127.0.0.1:2", "http://127.0.0.1:3")
    return load_settings(env)


SETTINGS = _settings()
_LINE = re.compile(r"^.+\.ya?ml(:\d+)?: .+", re.S)


def _texts() -> st.SearchStrategy[str]:
    dumped = _DOCUMENTS.map(lambda d: yaml.safe_dump(d, allow_unicode=True))
    noise = st.sampled_from(["\n", ":", "- ", "  ", "{", "&a", "*a", "!!python/object:os.system", "\t", "'"])
    mangled = st.tuples(dumped, st.integers(0, 400), noise).map(lambda t: t[0][: t[1]] + t[2] + t[0][t[1] :])
    return st.one_of(dumped, mangled, st.text(max_size=200))


@FUZZ
@given(texts=st.lists(_texts(), min_size=1, max_size=3))
@example(
    texts=[
        "tenant: customer\nroutes:\n  - {id: a, path: /x, methods: [GET], allow: anonymous, "
        "forward: {upstream: jobs}}\n  - {id: a, path: /x, methods: [GET], allow: anonymous, "
        "forward: {upstream: jobs}}\n"
    ]
)
@example(texts=["routes: &r [*r]\n"])
@example(texts=["a: 1\na: 2\n"])
def test_policy_loading_answers_or_lists_problems(texts: list[str]) -> None:
    with tempfile.TemporaryDirectory(prefix="fuzz-policies-") as folder:
        for i, text in enumerate(texts):
            Path(folder, f"p{i}.yaml").write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            result = load_policies(Path(folder), SETTINGS)
        except ConfigError as exc:
            assert exc.problems, texts
            for problem in exc.problems:
                assert _LINE.match(problem), problem
            return
    assert isinstance(result, PolicySet)


# --- label rewriting ---------------------------------------------------------------------------

_QUERIES = st.one_of(
    st.binary(max_size=80),
    st.lists(
        st.tuples(st.sampled_from([*_NAMES, "runId", "runid", "run%49d"]), st.sampled_from(_VALUES)), max_size=6
    ).map(lambda ps: "&".join(f"{n}={v}" for n, v in ps).encode()),
)


@FUZZ
@given(query=_QUERIES, org=st.text(min_size=1, max_size=6))
def test_query_rewriting_answers_or_refuses(query: bytes, org: str) -> None:
    out = L.rewrite_query(query, "organizationId", org)
    assert org_filters(out, "organizationId") == [org]
    try:
        L.check_label_filters(query, L.durably_profile().label_key_pattern)
    except L.LabelError as exc:
        assert exc.status == 400
    try:
        run_id = L.run_id_from_query(query)
    except L.LabelError as exc:
        assert exc.status == 400
    else:
        assert L.run_id_from_query(L.canonical_run_query(run_id)) == run_id


_JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=6)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.sampled_from(
                ["labels", "organizationId", "tenant", "idempotencyKey", "concurrencyKey", "jobName", "input", "x"]
            ),
            inner,
            max_size=4,
        ),
    ),
    max_leaves=12,
)
_BODIES = st.one_of(
    trigger_bodies(),
    _JSON.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=60),
    st.tuples(trigger_bodies(), st.integers(0, 80), st.binary(max_size=3)).map(
        lambda t: t[0][: t[1]] + t[2] + t[0][t[1] :]
    ),
)
_CONTENT_TYPES = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-8",
        "text/plain",
        "application/x+json",
        None,
        "application/json; charset=latin-1",
    ]
)


@FUZZ
@given(body=_BODIES, content_type=_CONTENT_TYPES)
@example(body=b'{"labels":{"organizationId":"a","organization\\u0049d":"b"}}', content_type="application/json")
@example(body=b"[" * 100_000, content_type="application/json")
def test_trigger_rewriting_answers_or_refuses(body: bytes, content_type: str | None) -> None:
    try:
        out = L.rewrite_trigger(L.durably_profile(), body, content_type, ORG, "customer:" + ORG)
    except L.LabelError as exc:
        assert exc.status in (400, 403, 415)
        return
    doc = parse_strict_json(out)
    assert doc["labels"]["organizationId"] == ORG
    for field in ("idempotencyKey", "concurrencyKey"):
        assert field not in doc or doc[field].startswith("customer%3Aorg-acme:")


@FUZZ
@given(body=st.one_of(st.binary(max_size=60), _JSON.map(lambda v: json.dumps(v).encode())))
def test_response_filters_answer_or_refuse(body: bytes) -> None:
    try:
        out = L.filter_list_response(body, "organizationId", ORG)
    except L.LabelError as exc:
        assert exc.status == 502
    else:
        assert all(run["labels"]["organizationId"] == ORG for run in json.loads(out))
    try:
        L.run_response_belongs_to(body, "organizationId", ORG)
    except L.LabelError as exc:
        assert exc.status == 502


_SSE = st.one_of(
    sse_streams(),
    st.binary(max_size=120),
    st.lists(
        st.sampled_from(
            [
                b"data: ",
                b'{"labels":{"organizationId":"org-acme"}}',
                b'{"labels":{}}',
                b"\n",
                b"\r",
                b"\r\n",
                b":c",
                b"event: x",
                b"data:",
                b"id: 1",
                b" ",
            ]
        ),
        max_size=20,
    ).map(b"".join),
)


@FUZZ
@given(stream=_SSE, cuts=st.lists(st.integers(0, 200), max_size=8))
@example(stream=b'data: {"labels":{"organizationId":"org-acme"}}\r\n\r\n', cuts=[47, 48])
def test_sse_filter_does_not_depend_on_chunking(stream: bytes, cuts: list[int]) -> None:
    def run(chunks: list[bytes]) -> bytes:
        f = L.SseLabelFilter("organizationId", ORG)
        return b"".join(f.feed(c) for c in chunks) + f.flush()

    points = sorted({min(c, len(stream)) for c in cuts})
    chunks = [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)], strict=True)]
    whole = run([stream])
    assert run(chunks) == whole
    assert run([bytes([b]) for b in stream]) == whole  # one byte at a time
    for event in re.split(rb"\r\n\r\n|\n\n|\r\r", whole):  # what passes is the caller's or carries no data
        assert b"org-globex" not in event


@FUZZ
@given(data=_TREES)
def test_label_profiles_answer_or_list_problems(data: Any) -> None:
    if not isinstance(data, dict):
        data = {"operations": data}
    try:
        profile = L.profile_from_mapping(data)
    except L.ProfileError as exc:
        assert exc.problems
        return
    assert profile.operations
