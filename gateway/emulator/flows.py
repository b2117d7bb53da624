"""Kratos login flows: creation and the loginFlow JSON with its UI nodes."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from gateway.emulator.state import FLOW_LIFESPAN, LoginFlow, Project
from gateway.emulator.timeutil import rfc3339

INVALID_CREDENTIALS = {
    "id": 4000006,
    "type": "error",
    "context": {},
    "text": "The provided credentials are invalid, check for spelling mistakes in your password or username, "
    "email address, or phone number.",
}


def csrf_cookie_name(project: Project) -> str:
    return "csrf_token_" + project.name.replace("-", "")


def new_flow(project: Project, flow_type: str, now: float, request_url: str, return_to: str | None) -> LoginFlow:
    flow = LoginFlow(
        id=str(uuid.uuid4()),
        type=flow_type,
        issued_at=now,
        expires_at=now + FLOW_LIFESPAN,
        request_url=request_url,
        return_to=return_to,
        csrf_token=secrets.token_urlsafe(32) if flow_type == "browser" else "",
    )
    project.flows[flow.id] = flow
    return flow


def _node(
    group: str,
    name: str,
    input_type: str,
    value: Any = None,
    label: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "name": name,
        "type": input_type,
        "disabled": False,
        "node_type": "input",
        **extra,
    }
    if value is not None:
        attributes["value"] = value
    return {
        "type": "input",
        "group": group,
        "attributes": attributes,
        "messages": [],
        "meta": {"label": label} if label else {},
    }


def _nodes(flow: LoginFlow, identifier: str) -> list[dict[str, Any]]:
    nodes = [
        _node("default", "csrf_token", "hidden", flow.csrf_token, required=True),
        _node(
            "default",
            "identifier",
            "text",
            identifier,
            {"id": 1070004, "text": "ID", "type": "info"},
            required=True,
        ),
        _node(
            "password",
            "password",
            "password",
            None,
            {"id": 1070001, "text": "Password", "type": "info"},
            required=True,
            autocomplete="current-password",
        ),
        _node("password", "method", "submit", "password", {"id": 1010022, "text": "Sign in", "type": "info"}),
    ]
    return nodes


def flow_json(
    project: Project, flow: LoginFlow, *, identifier: str = "", messages: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    ui: dict[str, Any] = {
        "action": f"{project.base_url}/self-service/login?flow={flow.id}",
        "method": "POST",
        "nodes": _nodes(flow, identifier),
    }
    if messages:
        ui["messages"] = messages
    body: dict[str, Any] = {
        "id": flow.id,
        "type": flow.type,
        "expires_at": rfc3339(flow.expires_at),
        "issued_at": rfc3339(flow.issued_at),
        "request_url": flow.request_url,
        "ui": ui,
        "created_at": rfc3339(flow.issued_at),
        "updated_at": rfc3339(flow.issued_at),
        "refresh": False,
        "requested_aal": "aal1",
        "state": "choose_method",
        "organization_id": None,
    }
    if flow.return_to:
        body["return_to"] = flow.return_to
    return body
