"""Profiles: the Durably table, exact classification, and policy-described services."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.labels import LabelProfile, ProfileError, classify, durably_profile, profile_from_mapping

P = durably_profile()


@pytest.mark.parametrize(
    ("method", "path", "kind", "name", "access", "stream"),
    [
        ("POST", "/api/durably/trigger", "trigger", "trigger", "write", False),
        ("GET", "/api/durably/runs", "list", "list", "read", False),
        ("GET", "/api/durably/runs/subscribe", "list_stream", "runs_subscribe", "read", True),
        ("GET", "/api/durably/run", "run_read", "read", "read", False),
        ("GET", "/api/durably/steps", "run_read", "steps", "read", False),
        ("GET", "/api/durably/subscribe", "run_read", "subscribe", "read", True),
        ("POST", "/api/durably/retrigger", "run_write", "retrigger", "write", False),
        ("POST", "/api/durably/cancel", "run_write", "cancel", "write", False),
        ("DELETE", "/api/durably/run", "run_write", "delete", "write", False),
    ],
)
def test_durably_operations(method: str, path: str, kind: str, name: str, access: str, stream: bool) -> None:
    op = classify(P, method, path)
    assert op is not None
    assert (op.kind, op.name, op.access, op.stream) == (kind, name, access, stream)
    assert op.is_run_level == kind.startswith("run_")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/durably/trigger"),
        ("PUT", "/api/durably/trigger"),
        ("get", "/api/durably/runs"),
        ("HEAD", "/api/durably/runs"),
        ("GET", "/api/durably/runs/"),
        ("GET", "/api/durably/RUNS"),
        ("GET", "/api/durably"),
        ("GET", "/api/durably/"),
        ("GET", "/api/durablyx/runs"),
        ("GET", "/runs"),
        ("GET", "/x/api/durably/runs"),
        ("GET", "/api/durably/x/runs"),
        ("GET", "/api/durably/runs/subscribe/x"),
        ("POST", "/api/durably/run"),
    ],
)
def test_unknown_is_none(method: str, path: str) -> None:
    assert classify(P, method, path) is None


def test_custom_base_and_key() -> None:
    p = durably_profile(label_key="tenant", base_path="")
    assert p.label_key == "tenant"
    op = classify(p, "GET", "/runs")
    assert op is not None and op.kind == "list"


MINIMAL: dict[str, Any] = {
    "name": "jobs2",
    "label_key": "orgId",
    "base_path": "/jobs",
    "operations": [
        {"method": "POST", "path": "/start", "kind": "trigger"},
        {"method": "GET", "path": "/list", "kind": "list"},
        {"method": "GET", "path": "/run", "kind": "run_read"},
        {"method": "POST", "path": "/stop", "kind": "run_write", "run_id_from": "body"},
        {"method": "GET", "path": "/health", "kind": "passthrough"},
        {"method": "GET", "path": "/events", "kind": "list_stream", "name": "events"},
    ],
}


def test_profile_from_mapping_defaults() -> None:
    p = profile_from_mapping(MINIMAL)
    assert isinstance(p, LabelProfile)
    assert (p.name, p.label_key, p.run_id_param, p.key_fields) == (
        "jobs2",
        "orgId",
        "runId",
        ("idempotencyKey", "concurrencyKey"),
    )
    stop = classify(p, "POST", "/jobs/stop")
    assert stop is not None and (stop.access, stop.run_id_from) == ("write", "body")
    health = classify(p, "GET", "/jobs/health")
    assert health is not None
    assert (health.kind, health.access, health.name) == ("passthrough", "read", "health")
    events = classify(p, "GET", "/jobs/events")
    assert events is not None and events.stream and events.name == "events"
    assert p.not_found_body == b'{"error":"Run not found"}'
    assert p.recheck_lists is True  # list answers are re-checked unless a profile says otherwise
    assert profile_from_mapping({**MINIMAL, "recheck_lists": False}).recheck_lists is False


def test_durably_profile_round_trips_through_mapping() -> None:
    ops = [
        {"method": o.method, "path": o.path, "kind": o.kind, "name": o.name, "stream": o.stream} for o in P.operations
    ]
    assert profile_from_mapping({"name": "durably", "operations": ops}) == P


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"operations": []}, "operations: must be a non-empty list"),
        ({"operations": "x"}, "operations: must be a non-empty list"),
        ({"label_key": "bad key"}, "label_key"),
        ({"label_key": 3}, "profile.label_key: must be a string"),
        ({"base_path": "jobs/"}, "base_path"),
        ({"colour": "red"}, "colour: unknown field"),
        ({"key_fields": "idempotencyKey"}, "key_fields"),
        ({"label_key_pattern": "("}, "label_key_pattern"),
        ({"recheck_lists": "no"}, "recheck_lists: must be true or false"),
        ({"not_found": {"status": 200}}, "not_found.status"),
        ({"operations": [{"method": "FETCH", "path": "/x", "kind": "list"}]}, "operations[0].method"),
        ({"operations": [{"method": "GET", "path": "x", "kind": "list"}]}, "operations[0].path"),
        ({"operations": [{"method": "GET", "path": "/x", "kind": "magic"}]}, "operations[0].kind"),
        ({"operations": [{"method": "GET", "path": "/x", "kind": "list", "x": 1}]}, "operations[0].x"),
        (
            {"operations": [{"method": "GET", "path": "/x", "kind": "run_read", "run_id_from": "body"}]},
            "operations[0].run_id_from",
        ),
        ({"operations": [{"method": "GET", "path": "/x", "kind": "list"}] * 2}, "operations[1]: duplicate"),
        ({"operations": [{"method": "POST", "path": "/x", "kind": "run_write"}]}, "lookup_path"),
    ],
)
def test_profile_from_mapping_problems(change: dict[str, Any], problem: str) -> None:
    with pytest.raises(ProfileError) as err:
        profile_from_mapping({**MINIMAL, **change})
    assert any(p.startswith(problem) or problem in p for p in err.value.problems), err.value.problems


def test_every_problem_is_listed() -> None:
    bad = {"label_key": 1, "colour": 1, "operations": [{"method": "X", "path": "y", "kind": "z"}]}
    with pytest.raises(ProfileError) as err:
        profile_from_mapping(bad)
    assert len(err.value.problems) >= 4
