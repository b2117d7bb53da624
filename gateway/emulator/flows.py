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
NO_TOTP = {"id": 4000011, "type": "error", "text": "You have no TOTP device set up."}
NO_LOOKUP = {"id": 4000014, "type": "error", "text": "You have no backup recovery codes set up."}
REAUTHENTICATE = {"id": 1010003, "type": "info", "text": "Please confirm this action by verifying that it is you."}
SECOND_FACTOR = {"id": 1010004, "type": "info", "text": "Please complete the second authentication challenge."}
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
    in its cookie; every browser flow carries it). An aal2 or refresh flow is this flow with
    its `requested_aal`, `refresh`, `second_factors`, `identifier` and messages set."""
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
    flow.requested_aal, flow.refresh, flow.second_factors = old.requested_aal, old.refresh, old.second_factors
    flow.identifier = old.identifier if old.refresh else ""
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


def _password_nodes(flow: LoginFlow) -> list[dict[str, Any]]:
    if flow.refresh:  # the password strategy's PopulateLoginMethodFirstFactorRefresh
        identifier = _node("default", "identifier", "hidden", flow.identifier)
        sign_in = {"id": 1010001, "text": "Sign in", "type": "info"}
    else:
        label = {"id": 1070004, "text": "ID", "type": "info"}
        identifier = _node("default", "identifier", "text", flow.identifier, label, required=True)
        sign_in = {"id": 1010022, "text": "Sign in", "type": "info"}
    password_label = {"id": 1070001, "text": "Password", "type": "info"}
    return [
        identifier,
        _node("password", "password", "password", None, password_label, required=True, autocomplete="current-password"),
        _node("password", "method", "submit", "password", sign_in),
    ]


#: the totp and lookup_secret strategies' nodes of an aal2 flow (their input, then their button)
SECOND_FACTOR_NODES: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {
    "totp": (("totp_code", "1010006:Authentication code"), ("totp", "1010009:Use Authenticator")),
    "lookup_secret": (
        ("lookup_secret", "1010007:Backup recovery code"),
        ("lookup_secret", "1010010:Use backup recovery code"),
    ),
}


def _label(spec: str) -> dict[str, Any]:
    number, _, text = spec.partition(":")
    return {"id": int(number), "text": text, "type": "info"}


def _second_factor_nodes(flow: LoginFlow) -> list[dict[str, Any]]:
    nodes = []
    for method in flow.second_factors:
        (field_name, field_label), (value, button_label) = SECOND_FACTOR_NODES[method]
        nodes.append(_node(method, field_name, "text", "", _label(field_label), required=True))
        nodes.append(_node(method, "method", "submit", value, _label(button_label)))
    return nodes


def _nodes(flow: LoginFlow) -> list[dict[str, Any]]:
    csrf = _node("default", "csrf_token", "hidden", flow.csrf_token, required=True)
    if flow.requested_aal == "aal2":
        return [csrf, *_second_factor_nodes(flow)]
    return [csrf, *_password_nodes(flow)]


def flow_json(project: Project, flow: LoginFlow) -> dict[str, Any]:
    ui: dict[str, Any] = {
        "action": f"{project.base_url}/self-service/login?flow={flow.id}",
        "method": "POST",
        "nodes": _nodes(flow),
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
        "refresh": flow.refresh,
        "requested_aal": flow.requested_aal,
        "state": "choose_method",
        "organization_id": None,
    }
    if flow.return_to:
        body["return_to"] = flow.return_to
    return body
