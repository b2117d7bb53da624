"""The self-service pages a browser needs, as Ory's Account Experience serves them at
``<project>/ui/...``: small server-rendered HTML, no script, no external asset, every value
HTML-escaped. They read the project's state exactly as a UI reading the public API would
(`kratos-selfservice-ui-node`): a page is never a way around a flow's rules.

- ``/ui/login?flow=ID``: a form per method group built from the flow's ``ui.nodes`` (the
  ``default`` group's ``csrf_token`` and hidden fields in each; ``identifier`` and ``password``
  with the ``method`` button; in an aal2 flow ``totp_code`` and ``lookup_secret`` with theirs),
  posting to ``ui.action``, with the flow's messages (wrong password or code, expired flow, ...).
  No flow, an unknown one, one without the browser's anti-CSRF cookie or an expired one: a new
  flow is started (303 to ``/self-service/login/browser``, keeping ``return_to``), as the
  reference UI does.
- ``/ui/welcome``: who is signed in, and a sign-out link (the browser logout flow).
- ``/ui/error?id=``: a stored self-service error (`gateway.emulator.self_service`).
"""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import urlencode

from starlette.responses import HTMLResponse, RedirectResponse, Response

from gateway.emulator import flows
from gateway.emulator.context import Ctx
from gateway.emulator.kratos_public import csrf_ok, init_url
from gateway.emulator.sessions import find_session, is_usable

STYLE = """
body{font-family:system-ui,sans-serif;background:#f4f5f7;color:#1d2330;margin:0}
main{max-width:26rem;margin:4rem auto;background:#fff;border-radius:8px;padding:2rem;
box-shadow:0 1px 3px #0002}
h1{font-size:1.3rem;margin:0 0 1.2rem}label{display:block;margin:.8rem 0 .3rem;font-size:.9rem}
input{width:100%;box-sizing:border-box;padding:.55rem;border:1px solid #c3c8d4;border-radius:4px}
button,.button{margin-top:1.2rem;padding:.6rem 1rem;border:0;border-radius:4px;background:#4a55d4;
color:#fff;font-size:1rem;cursor:pointer;text-decoration:none;display:inline-block}
.message{padding:.6rem .8rem;border-radius:4px;margin:.5rem 0;background:#eef}
.message.error{background:#fde8e8;color:#8a1c1c}dl{margin:0}dt{font-weight:600;margin-top:.6rem}
code{font-size:.85rem;word-break:break-all}
"""


def page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )
    headers = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action *"}
    return HTMLResponse(html, status, headers)


def _messages(messages: list[dict[str, Any]]) -> str:
    return "".join(
        f'<p class="message {escape(str(m.get("type", "info")))}" data-id="{escape(str(m.get("id", "")))}">'
        f"{escape(str(m.get('text', '')))}</p>"
        for m in messages
    )


def _node(node: dict[str, Any], element_id: str = "") -> str:
    attributes = node["attributes"]
    name, kind = str(attributes["name"]), str(attributes["type"])
    element_id = element_id or name
    label = str(node.get("meta", {}).get("label", {}).get("text", name))
    value = attributes.get("value")
    if kind == "submit":
        button = f'name="{escape(name)}" value="{escape(str(value or ""))}"'
        return f'<button type="submit" {button}>{escape(label)}</button>'
    extras = "".join(
        f' {key}="{escape(str(attributes[key]))}"' for key in ("autocomplete",) if attributes.get(key) is not None
    )
    extras += " required" if attributes.get("required") else ""
    extras += f' value="{escape(str(value))}"' if value not in (None, "") else ""
    field = f'<input id="{escape(element_id)}" name="{escape(name)}" type="{escape(kind)}"{extras}>'
    own = _messages(node.get("messages", []))
    return field + own if kind == "hidden" else f'<label for="{escape(element_id)}">{escape(label)}</label>{field}{own}'


def _forms(ui: dict[str, Any]) -> str:
    """One form per method group, as the reference UI renders them: each holds the default
    group's nodes (the CSRF token, a refresh flow's hidden identifier), so that a method's
    required inputs never block another method's button."""
    nodes: list[dict[str, Any]] = ui["nodes"]
    shared = [n for n in nodes if n["group"] == "default"]
    groups = list(dict.fromkeys(n["group"] for n in nodes if n["group"] != "default"))
    forms = []
    for index, group in enumerate(groups):
        suffix = f"-{group}" if index else ""
        fields = "".join(_node(n, str(n["attributes"]["name"]) + suffix) for n in shared)
        fields += "".join(_node(n) for n in nodes if n["group"] == group)
        forms.append(f'<form method="{escape(ui["method"])}" action="{escape(ui["action"])}">{fields}</form>')
    return "".join(forms)


async def login(ctx: Ctx) -> Response:
    query = ctx.request.query_params
    flow = ctx.project.flows.get(query.get("flow") or "")
    if flow is None or flow.type != "browser" or not csrf_ok(ctx, flow) or ctx.now >= flow.expires_at:
        return_to = flow.return_to if flow is not None else query.get("return_to")
        return RedirectResponse(init_url(ctx, return_to), status_code=303)
    ui = flows.flow_json(ctx.project, flow)["ui"]
    body = f"<h1>Sign in to {escape(ctx.project.name)}</h1>{_messages(ui.get('messages', []))}{_forms(ui)}"
    return page("Sign in", body)


async def welcome(ctx: Ctx) -> Response:
    session = find_session(ctx.project, {k.lower(): v for k, v in ctx.request.headers.items()})
    if session is None or not is_usable(ctx.project, session, ctx.now):
        link = escape(f"{ctx.project.base_url}/self-service/login/browser")
        return page(
            "Welcome", f'<h1>Welcome</h1><p>You are not signed in.</p><a class="button" href="{link}">Sign in</a>'
        )
    identity = ctx.project.identities[session.identity_id]
    traits = identity.traits if isinstance(identity.traits, dict) else {}
    who = traits.get("email") or traits.get("username") or identity.id
    logout = f"{ctx.project.base_url}/self-service/logout?{urlencode({'token': session.logout_token})}"
    body = (
        f"<h1>Welcome</h1><p>You are signed in as <strong>{escape(str(who))}</strong>.</p>"
        f"<dl><dt>Identity</dt><dd><code>{escape(identity.id)}</code></dd></dl>"
        f'<a class="button" href="{escape(logout)}">Sign out</a>'
    )
    return page("Welcome", body)


async def error(ctx: Ctx) -> Response:
    found = ctx.project.errors.get(ctx.request.query_params.get("id") or "")
    if found is None:
        return page("Error", "<h1>Error</h1><p>This error does not exist or is no longer available.</p>", 404)
    err = found.error
    text = escape(str(err.get("reason") or err.get("message") or "An error occurred."))
    retry = f"{ctx.project.base_url}/self-service/login/browser"
    body = (
        f"<h1>{escape(str(err.get('code', '')))} {escape(str(err.get('status', '')))}</h1>"
        f'<p class="message error">{text}</p><p><code>{escape(str(err.get("id", "")))}</code></p>'
        f'<a class="button" href="{escape(retry)}">Sign in again</a>'
    )
    return page("Error", body)
