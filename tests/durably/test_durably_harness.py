"""The real Durably service, driven directly (no gateway): pins the contract in
docs/durably-contract.md, including the behaviours the gateway must defend against."""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

import httpx

from tests.support.durably import DurablyServer, wait_for_status

TERMINAL = {"completed", "failed", "cancelled"}


def org() -> str:
    return f"org_{uuid.uuid4().hex[:8]}"


def trigger(d: DurablyServer, job: str, org_id: str, **extra: Any) -> dict[str, Any]:
    body = {"jobName": job, "input": extra.pop("input", {}), "labels": {"organizationId": org_id}, **extra}
    r = httpx.post(f"{d.api_url}/trigger", json=body)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    assert set(data) == {"runId", "disposition"}
    return data


def sse_events(client: httpx.Client, url: str, stop: Any, started: threading.Event | None = None) -> list[Any]:
    events: list[Any] = []
    with client.stream("GET", url) as r:
        assert r.status_code == 200
        assert r.headers["content-type"] == "text/event-stream"
        if started is not None:
            started.set()
        for line in r.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
                if stop(events):
                    break
    return events


def test_trigger_run_list_and_recorder(durably: DurablyServer) -> None:
    durably.recorder.clear()
    a = org()
    created = trigger(durably, "send-report", a, input={"reportId": "r1"})
    assert created["disposition"] == "created"
    run = wait_for_status(durably.api_url, created["runId"], TERMINAL)
    assert run["status"] == "completed"
    assert run["labels"] == {"organizationId": a}
    assert run["output"] == {"reportId": "r1", "steps": 3}
    assert run["isTerminal"] is True and run["isActive"] is False
    assert "idempotencyKey" not in run and "concurrencyKey" not in run  # toClientRun strips them
    listed = httpx.get(f"{durably.api_url}/runs", params={"label.organizationId": a}).json()
    assert [r["id"] for r in listed] == [created["runId"]]
    steps = httpx.get(f"{durably.api_url}/steps", params={"runId": created["runId"]}).json()
    assert [s["name"] for s in steps] == ["part-1", "part-2", "part-3"]
    seen = durably.recorder.requests()
    assert seen[0].method == "POST" and seen[0].path == "/api/durably/trigger"
    assert json.loads(seen[0].body)["labels"] == {"organizationId": a}
    assert any(r.path == f"/api/durably/runs?label.organizationId={a}" for r in seen)


def test_missing_run_is_404(durably: DurablyServer) -> None:
    for method, path in [
        ("GET", "/run"),
        ("GET", "/steps"),
        ("GET", "/subscribe"),
        ("POST", "/retrigger"),
        ("POST", "/cancel"),
        ("DELETE", "/run"),
    ]:
        r = httpx.request(method, f"{durably.api_url}{path}", params={"runId": "nope"})
        assert (r.status_code, r.json()) == (404, {"error": "Run not found"}), path
        r = httpx.request(method, f"{durably.api_url}{path}")
        assert (r.status_code, r.json()) == (400, {"error": "runId query parameter is required"})
    assert httpx.get(f"{durably.api_url}/nothing").status_code == 404


def test_per_run_subscribe_streams_until_terminal(durably: DurablyServer) -> None:
    created = trigger(durably, "long-task", org(), input={"durationMs": 600})
    url = f"{durably.api_url}/subscribe?runId={created['runId']}"
    with httpx.Client(timeout=10) as client:
        events = sse_events(client, url, lambda ev: ev[-1]["type"] == "run:complete")
    assert events[-1]["type"] == "run:complete"
    assert all(e["runId"] == created["runId"] and "labels" in e for e in events)


def test_runs_subscribe_filters_by_label(durably: DurablyServer) -> None:
    a, b = org(), org()
    started = threading.Event()
    result: list[Any] = []

    def listen() -> None:
        with httpx.Client(timeout=10) as client:
            url = f"{durably.api_url}/runs/subscribe?label.organizationId={a}"
            result.extend(sse_events(client, url, lambda ev: ev[-1]["type"] == "run:complete", started))

    t = threading.Thread(target=listen)
    t.start()
    assert started.wait(5)
    trigger(durably, "send-report", b)
    run_a = trigger(durably, "send-report", a)
    t.join(15)
    assert result and {e["labels"]["organizationId"] for e in result} == {a}
    assert result[0] == {
        "type": "run:trigger",
        "runId": run_a["runId"],
        "jobName": "send-report",
        "labels": {"organizationId": a},
    }


def test_cancel_retrigger_delete(durably: DurablyServer) -> None:
    a = org()
    long = trigger(durably, "long-task", a)
    r = httpx.post(f"{durably.api_url}/cancel", params={"runId": long["runId"]})
    assert (r.status_code, r.json()) == (200, {"success": True})
    assert wait_for_status(durably.api_url, long["runId"], TERMINAL)["status"] == "cancelled"
    failing = trigger(durably, "failing-task", a, input={"message": "nope"})
    run = wait_for_status(durably.api_url, failing["runId"], TERMINAL)
    assert (run["status"], run["error"]) == ("failed", "nope")
    r = httpx.post(f"{durably.api_url}/retrigger", params={"runId": failing["runId"]})
    assert r.status_code == 200 and r.json()["success"] is True
    new_id = r.json()["runId"]
    assert new_id != failing["runId"]
    assert wait_for_status(durably.api_url, new_id, TERMINAL)["labels"] == {"organizationId": a}
    r = httpx.delete(f"{durably.api_url}/run", params={"runId": failing["runId"]})
    assert (r.status_code, r.json()) == (200, {"success": True})
    assert httpx.get(f"{durably.api_url}/run", params={"runId": failing["runId"]}).status_code == 404
    r = httpx.post(f"{durably.api_url}/cancel", params={"runId": long["runId"]})
    assert r.status_code == 409


def test_upstream_hazards_the_gateway_must_cover(durably: DurablyServer) -> None:
    """Durably alone: keys are global per job, filters are decoded, runId is first-wins."""
    a, b = org(), org()
    key = uuid.uuid4().hex
    first = trigger(durably, "send-report", a, idempotencyKey=key)
    other = trigger(durably, "send-report", b, idempotencyKey=key)
    assert other == {"runId": first["runId"], "disposition": "idempotent"}  # cross-org leak
    api = durably.api_url
    encoded = httpx.get(f"{api}/runs?label%2EorganizationId={a}").json()
    assert [r["id"] for r in encoded] == [first["runId"]]  # percent-encoded name is a filter
    assert httpx.get(f"{api}/runs?label.OrganizationId={a}").json() == []  # case-sensitive key
    last_wins = httpx.get(f"{api}/runs?label.organizationId={a}&label.organizationId={b}").json()
    assert last_wins == []  # last duplicate wins (b has no run of its own)
    r = httpx.get(f"{api}/run?runId={first['runId']}&runId=other")
    assert r.status_code == 200 and r.json()["id"] == first["runId"]  # first runId wins
    r = httpx.post(f"{api}/trigger", content=b"not json")
    assert r.status_code == 500
    r = httpx.post(f"{api}/trigger", json={"jobName": "echo", "input": 1, "labels": {"bad key": "x"}})
    assert r.status_code == 500  # invalid label key is a 500 upstream
