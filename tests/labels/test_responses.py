"""Second line of defence: list, run and SSE answers about other organizations are withheld."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.labels import (
    LabelError,
    SseLabelFilter,
    filter_list_by,
    filter_list_response,
    run_belongs_to,
    run_id_from_body,
    run_response_belongs_to,
)

KEY = "organizationId"


def run(run_id: str, org: Any) -> dict[str, Any]:
    return {"id": run_id, "jobName": "j", "labels": {KEY: org} if org is not None else {}}


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (run("1", "org_a"), True),
        (run("1", "org_b"), False),
        (run("1", "ORG_A"), False),
        (run("1", None), False),
        ({"id": "1"}, False),
        ({"id": "1", "labels": None}, False),
        ({"id": "1", "labels": ["org_a"]}, False),
        ({"id": "1", "labels": {KEY: ["org_a"]}}, False),
        ({"id": "1", "labels": {"organizationid": "org_a"}}, False),
    ],
)
def test_run_belongs_to(doc: dict[str, Any], expected: bool) -> None:
    assert run_belongs_to(doc, KEY, "org_a") is expected
    assert run_response_belongs_to(json.dumps(doc).encode(), KEY, "org_a") is expected


def test_list_filter_drops_foreign_runs() -> None:
    body = json.dumps([run("1", "org_a"), run("2", "org_b"), run("3", None), "x", run("4", "org_a")]).encode()
    assert [r["id"] for r in json.loads(filter_list_response(body, KEY, "org_a"))] == ["1", "4"]


def test_list_filter_keeps_bytes_when_clean() -> None:
    body = b'[ {"id":"1","labels":{"organizationId":"org_a"},"n":1.50} ]'
    assert filter_list_response(body, KEY, "org_a") is body


@pytest.mark.parametrize("body", [b"{}", b'{"error":"x"}', b"nope", b""])
def test_list_filter_refuses_non_lists(body: bytes) -> None:
    with pytest.raises(LabelError) as err:
        filter_list_response(body, KEY, "org_a")
    assert err.value.status == 502
    with pytest.raises(LabelError):
        run_response_belongs_to(b"nope", KEY, "org_a")


def test_run_id_from_body() -> None:
    run_id, forwarded = run_id_from_body(b'{ "runId" : "r1", "x": 1 }', "application/json")
    assert (run_id, forwarded) == ("r1", b'{"runId":"r1","x":1}')
    for bad in (b'{"runId":1}', b'{"runId":""}', b"[]", b'{"runId":"a","runId":"b"}'):
        with pytest.raises(LabelError) as err:
            run_id_from_body(bad, "application/json")
        assert err.value.status == 400


# --- SSE ---------------------------------------------------------------------------


def event(org: str | None, kind: str = "run:progress", run_id: str = "r") -> bytes:
    labels = {KEY: org} if org is not None else {}
    return b"data: " + json.dumps({"type": kind, "runId": run_id, "labels": labels}).encode() + b"\n\n"


MINE, THEIRS = event("org_a", run_id="mine"), event("org_b", run_id="theirs")
CRLF = b'data: {"labels":{"organizationId":"org_a"}}\r\n\r\n'
CR = b'data:{"labels":{"organizationId":"org_a"}}\r\r'


def feed_all(chunks: list[bytes], org: str = "org_a") -> bytes:
    f = SseLabelFilter(KEY, org)
    return b"".join(f.feed(c) for c in chunks) + f.flush()


def test_sse_passes_own_drops_foreign() -> None:
    f = SseLabelFilter(KEY, "org_a")
    assert f.feed(MINE + THEIRS + MINE) == MINE + MINE
    assert (f.passed, f.dropped) == (2, 1)


@pytest.mark.parametrize(
    ("stream", "expected"),
    [
        (b": keep-alive\n\n", b": keep-alive\n\n"),
        (b"retry: 1000\n\n", b"retry: 1000\n\n"),
        (b"\n", b"\n"),
        (event(None), b""),
        (b"data: not json\n\n", b""),
        (b"data: [1]\n\n", b""),
        (CRLF, CRLF),
        (CR, CR),
        (CRLF.replace(b"}}", b"}"), b""),  # truncated JSON
        (
            b'event: x\nid: 7\ndata: {"labels":\ndata: {"organizationId":"org_a"}}\n\n',
            b'event: x\nid: 7\ndata: {"labels":\ndata: {"organizationId":"org_a"}}\n\n',
        ),
        (b'data: {"labels":\ndata: {"organizationId":"org_b"}}\n\n', b""),
        (b": c\ndata: " + json.dumps({"labels": {KEY: "org_b"}}).encode() + b"\n\n", b""),
        (MINE[:-1], b""),  # incomplete at end of stream
    ],
)
def test_sse_cases(stream: bytes, expected: bytes) -> None:
    assert feed_all([stream]) == expected


def test_sse_crlf_split_across_chunks() -> None:
    raw = b'data: {"labels":{"organizationId":"org_a"}}\r\n\r\n'
    i = raw.index(b"\r\n")
    assert feed_all([raw[: i + 1], raw[i + 1 :]]) == raw


def test_sse_event_size_limit() -> None:
    f = SseLabelFilter(KEY, "org_a", max_event_bytes=64)
    with pytest.raises(LabelError) as err:
        f.feed(b"data: " + b"x" * 100)
    assert err.value.status == 502


@given(
    st.lists(st.sampled_from([MINE, THEIRS, b": ping\n\n", event(None)]), max_size=12),
    st.lists(st.integers(min_value=0, max_value=400), max_size=8),
)
def test_property_sse_chunking_does_not_matter(events: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(events)
    points = sorted({min(c, len(stream)) for c in cuts})
    chunks = [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)], strict=True)]
    expected = b"".join(e for e in events if e in (MINE, b": ping\n\n"))
    assert feed_all(chunks) == expected


def test_filter_list_by_requires_every_label_in_one_parse() -> None:
    runs = [
        {"id": "a", "labels": {"organizationId": "org-a", "tenant": "customer"}},
        {"id": "b", "labels": {"organizationId": "org-a", "tenant": "dealer"}},
        {"id": "c", "labels": {"organizationId": "org-b", "tenant": "customer"}},
        {"id": "d", "labels": {"organizationId": "org-a"}},
    ]
    body = json.dumps(runs).encode()
    kept = json.loads(filter_list_by(body, {"organizationId": "org-a", "tenant": "customer"}))
    assert [run["id"] for run in kept] == ["a"]
    only_mine = json.dumps(runs[:1]).encode()
    assert filter_list_by(only_mine, {"organizationId": "org-a", "tenant": "customer"}) is only_mine


LABEL_VALUES: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from(["org-a", "org-b", "customer", "dealer"]), st.none(), st.integers(), st.just([])
)
RUN_SHAPES = st.one_of(
    st.fixed_dictionaries(
        {"id": st.text(max_size=3)},
        optional={
            "labels": st.one_of(
                st.none(), st.dictionaries(st.sampled_from(["organizationId", "tenant", "x"]), LABEL_VALUES, max_size=3)
            )
        },
    ),
    st.integers(),
    st.none(),
    st.text(max_size=3),
)


@given(st.lists(RUN_SHAPES, max_size=8), st.booleans())
def test_property_fast_list_reader_agrees_with_the_full_parse(runs: list[Any], spaced: bool) -> None:
    """The msgspec reader (kept runs as the upstream's bytes) and the full parse keep the same runs."""
    body = json.dumps(runs, indent=1 if spaced else None).encode()
    wanted = {"organizationId": "org-a", "tenant": "customer"}
    out = filter_list_by(body, wanted)
    expected = [
        r
        for r in runs
        if isinstance(r, dict)
        and isinstance(r.get("labels"), dict)
        and all(r["labels"].get(k) == v for k, v in wanted.items())
    ]
    assert json.loads(out) == expected
    if len(expected) == len(runs):
        assert out is body


def test_fast_list_reader_reads_duplicate_keys_as_javascript_does() -> None:
    """The last duplicate wins (JSON.parse); a run that names two organizations is judged by the last."""
    wanted = {"organizationId": "org-a", "tenant": "customer"}
    sneaky = b'[{"labels":{"organizationId":"org-a","tenant":"customer","organizationId":"org-b"}}]'
    assert json.loads(filter_list_by(sneaky, wanted)) == []
    twice = b'[{"labels":{"organizationId":"org-b"},"labels":{"organizationId":"org-a","tenant":"customer"}}]'
    assert filter_list_by(twice, wanted) is twice
