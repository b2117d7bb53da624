"""Fault injection for tests: delay, error status, garbage body, a dropped connection, or a
well-formed JSON body of the test's choosing (`body`: e.g. a permission service that always
answers 200 without `allowed: true`)."""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field
from http import HTTPStatus
from typing import Any

from starlette.responses import Response

from gateway.emulator.errors import herodot, json_response

MODES = ("delay", "status", "garbage", "drop", "body")
GARBAGE = b"<html><body>502 upstream garbage {{{ not json"


class FaultError(ValueError):
    """A fault description that cannot be used."""


@dataclass
class Fault:
    id: int
    mode: str
    project: str | None = None
    operation: str | None = None
    path_prefix: str | None = None
    seconds: float = 0.0
    status: int = 503
    count: int | None = None
    hits: int = 0
    #: the JSON answered by a `body` fault (with `status`, default 200)
    body: Any = None

    def matches(self, project: str, operation: str, path: str) -> bool:
        return (
            (self.project is None or self.project == project)
            and (self.operation is None or self.operation == operation)
            and (self.path_prefix is None or path.startswith(self.path_prefix))
        )

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _number(body: dict[str, Any], name: str, default: float) -> float:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise FaultError(f"'{name}' must be a non-negative number")
    return float(value)


def _optional_str(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise FaultError(f"'{name}' must be a string")
    return value


def parse_fault(body: dict[str, Any], fault_id: int, projects: list[str]) -> Fault:
    mode = body.get("mode")
    if mode not in MODES:
        raise FaultError(f"'mode' must be one of {', '.join(MODES)}")
    project = _optional_str(body, "project")
    if project is not None and project not in projects:
        raise FaultError(f"unknown project '{project}'")
    status = int(_number(body, "status", 200 if mode == "body" else 503))
    if mode == "body" and "body" not in body:
        raise FaultError("'body' is required in mode body (the JSON to answer)")
    if mode in ("status", "body") and status not in HTTPStatus._value2member_map_:
        raise FaultError("'status' must be an HTTP status code")
    count = body.get("count")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
        raise FaultError("'count' must be a positive integer")
    return Fault(
        id=fault_id,
        mode=mode,
        project=project,
        operation=_optional_str(body, "operation"),
        path_prefix=_optional_str(body, "path_prefix"),
        seconds=_number(body, "seconds", 0.0),
        status=status,
        count=count,
        body=body.get("body"),
    )


@dataclass
class FaultStore:
    faults: list[Fault] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def add(self, body: dict[str, Any], projects: list[str]) -> Fault:
        fault = parse_fault(body, next(self._ids), projects)
        self.faults.append(fault)
        return fault

    def clear(self) -> None:
        self.faults.clear()

    def take(self, project: str, operation: str, path: str) -> Fault | None:
        """The first matching fault, counted as used (and removed once its count is spent)."""
        for fault in self.faults:
            if fault.matches(project, operation, path):
                fault.hits += 1
                if fault.count is not None and fault.hits >= fault.count:
                    self.faults.remove(fault)
                return fault
        return None


def rate_limit_headers(seconds: float) -> dict[str, str]:
    wait = str(max(1, int(seconds)))
    return {
        "Retry-After": wait,
        "x-ratelimit-limit": "10, 10;w=1, 300;w=60",
        "x-ratelimit-remaining": "0",
        "x-ratelimit-reset": wait,
    }


def fault_response(fault: Fault, family: str) -> Response:
    """The response a status or garbage fault produces, shaped like the service's own errors."""
    if fault.mode == "garbage":
        return Response(GARBAGE, 200, media_type="application/json")
    if fault.mode == "body":
        return json_response(fault.body, fault.status, media_type="application/json")
    headers = rate_limit_headers(fault.seconds) if fault.status == 429 else {}
    phrase = HTTPStatus(fault.status).phrase
    message = "Rate limit exceeded" if fault.status == 429 else f"Injected fault: {phrase}"
    if family == "hydra":
        return json_response(
            {"error": message, "error_description": "Injected by the emulator."},
            fault.status,
            headers,
            media_type="application/json",
        )
    return herodot(fault.status, message, reason="Injected by the emulator.", headers=headers)
