"""Kratos login flows: creation, replacement of an expired one, and the loginFlow JSON with its
UI nodes and messages (what a failed submission leaves on the flow, as Kratos persists it)."""

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
NO_STRATEGY = {
    "id": 4010002,
    "type": "error",
    "text": "Could not find a strategy to log you in with. Did you fill out the form correctly?",
}


def expired_message(expired_at: float, now: float) -> dict[str, Any]:
    """Kratos' 4010001, put on the flow that replaces an expired one."""
    return {
        "id": 4010001,
        "type": "error",
        "text": f"The login flow expired {(now - expired_at) / 60:.2f} minutes ago, please try again.",
        "context": {"expired_at": rfc3339(expired_at), "expired_at_unix": int(expired_at)},
    }


def csrf_cookie_name(project: Project) -> str:
    return "csrf_token_" + project.name.replace("-", "")


def new_flow(
    project: Project, flow_type: str, now: float, request_url: str, return_to: str | None, csrf: str = ""
) -> LoginFlow:
    """`csrf`: the browser's anti-CSRF token when it has one (Kratos keeps one per browser,
    in its cookie; every browser flow carries it)."""
    flow = LoginFlow(
        id=str(uuid.uuid4()),
        type=flow_type,
        issued_at=now,
        expires_at=now + FLOW_LIFESPAN,
        request_url=request_url,
        return_to=return_to,
        csrf_token=(csrf or secrets.token_urlsafe(32)) if flow_type == "browser" else "",
    )
    project.flows[flow.id] = flow
    return flow


def replace_expired(project: Project, old: LoginFlow, now: float) -> LoginFlow:
    """A new flow of the same type and request URL (Kratos' FromOldFlow), telling it expired."""
    flow = new_flow(project, old.type, now, old.request_url, old.return_to, old.csrf_token)
    flow.messages = [expired_message(old.expires_at, now)]
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


def flow_json(project: Project, flow: LoginFlow) -> dict[str, Any]:
    ui: dict[str, Any] = {
        "action": f"{project.base_url}/self-service/login?flow={flow.id}",
        "method": "POST",
        "nodes": _nodes(flow, flow.identifier),
    }
    if flow.messages:
        ui["messages"] = flow.messages
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
