"""The Keto client: allow only on 200 with `allowed: true`; everything odd is an outage."""

from __future__ import annotations

import json

import httpx
import pytest

from gateway.errors import ServiceUnavailable
from gateway.ory.keto import KetoClient, RelationTuple
from gateway.ory.pool import OryPool
from tests.support.keto import FakeKeto, keto_tenant

T = RelationTuple("Report", "org-a/q3", "view", "u1")


def client(keto: FakeKeto) -> KetoClient:
    return KetoClient(keto_tenant(), OryPool.over("a", keto.client()))


async def test_allowed_and_denied_with_structured_parameters() -> None:
    keto = FakeKeto({tuple(T)})  # type: ignore[arg-type]
    assert await client(keto).check(T) is True
    assert await client(keto).check(T._replace(subject_id="u2")) is False
    sent = keto.seen[0]
    assert dict(sent.url.params) == {
        "namespace": "Report",
        "object": "org-a/q3",
        "relation": "view",
        "subject_id": "u1",
    }
    assert sent.headers["authorization"] == "Bearer keto-token"


async def test_hostile_values_stay_values() -> None:
    odd = RelationTuple("Report", "a&subject_id=u1#x", "view", "u2?namespace=Other")
    keto = FakeKeto()
    assert await client(keto).check(odd) is False
    assert dict(keto.seen[0].url.params) == odd._asdict()


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (200, {"allowed": "true"}),
        (200, {"allowed": 1}),
        (200, {}),
        (200, {"error": {"code": 200}}),
        (200, [True]),
        (403, {"allowed": True}),
        (403, {}),
        (404, {"allowed": True}),
        (400, {"error": {"code": 400}}),
        (401, {"error": {"code": 401}}),
        (500, {"allowed": True}),
        (502, {}),
    ],
)
async def test_anything_but_a_clear_answer_is_an_outage(status: int, body: object) -> None:
    keto = FakeKeto({tuple(T)}, fault=httpx.Response(status, json=body))  # type: ignore[arg-type]
    with pytest.raises(ServiceUnavailable) as caught:
        await client(keto).check(T)
    assert caught.value.status == 503 and int(caught.value.headers()["retry-after"]) >= 1


async def test_a_200_with_allowed_false_is_a_deny() -> None:
    keto = FakeKeto(fault=httpx.Response(200, json={"allowed": False}))
    assert await client(keto).check(T) is False


async def test_garbage_is_an_outage() -> None:
    keto = FakeKeto(fault=httpx.Response(200, content=b"<html>{{{", headers={"content-type": "application/json"}))
    with pytest.raises(ServiceUnavailable) as caught:
        await client(keto).check(T)
    assert caught.value.reason == "ory_garbage"


async def test_429_is_a_503_with_ketos_retry_after() -> None:
    keto = FakeKeto(fault=httpx.Response(429, headers={"retry-after": "7"}, json={"error": {"code": 429}}))
    with pytest.raises(ServiceUnavailable) as caught:
        await client(keto).check(T)
    assert (caught.value.status, caught.value.reason, caught.value.headers()["retry-after"]) == (
        503,
        "keto_rate_limited",
        "7",
    )


@pytest.mark.parametrize("error", [httpx.ConnectError("down"), httpx.ReadTimeout("slow")])
async def test_down_and_slow_are_outages(error: Exception) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise error

    with pytest.raises(ServiceUnavailable):
        await client(FakeKeto(fault=fail)).check(T)


async def test_batch_check_in_chunks_of_ten() -> None:
    tuples = [T._replace(subject_id=f"u{i}") for i in range(23)]
    keto = FakeKeto({tuple(tuples[3]), tuple(tuples[17])})  # type: ignore[arg-type]
    answers = await client(keto).batch_check(tuples)
    assert [i for i, a in enumerate(answers) if a] == [3, 17]
    sizes = [len(json.loads(r.content)["tuples"]) for r in keto.seen]
    assert sizes == [10, 10, 3]


@pytest.mark.parametrize(
    "body",
    [
        {"results": [{"allowed": True}]},  # wrong length
        {"results": [{"allowed": "yes"}, {"allowed": False}]},
        {"results": [{"allowed": False, "error": "unknown namespace"}, {"allowed": False}]},
        {"result": []},
    ],
)
async def test_batch_results_of_the_wrong_shape_are_outages(body: object) -> None:
    keto = FakeKeto(fault=httpx.Response(200, json=body))
    with pytest.raises(ServiceUnavailable):
        await client(keto).batch_check([T, T._replace(subject_id="u2")])


async def test_objects_lists_direct_tuples_and_stops_at_enough() -> None:
    keto = FakeKeto(
        {
            ("Organization", "b", "viewer", "u1"),
            ("Organization", "a", "member", "u1"),
            ("Organization", "a", "viewer", "u1"),
        }
    )
    assert await client(keto).objects("Organization", "u1") == ["a", "b"]
    assert dict(keto.seen[0].url.params) == {"namespace": "Organization", "subject_id": "u1", "page_size": "250"}
