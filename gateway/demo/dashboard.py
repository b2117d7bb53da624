"""The demo's jobs dashboard: one page, served behind the gateway (upstream `dashboard`).

The gateway's `dashboard` route (policies/dashboard.yaml) lets only signed-in people of the
tenant through and tells this upstream who they are (`X-Org-Id`, `X-Roles`, `X-User-Id`,
`X-Tenant`); the page shows them (HTML-escaped) and then talks to the gateway only, on its
own origin, with the session cookie and `X-Organization-Id` naming the organization shown:
runs listed, live updates over the scoped SSE stream (read with `fetch`, which can send that
header, unlike `EventSource`), a trigger button, sign-out. A person of several
organizations opens `/<tenant>/orgs/<id>` (route `dashboard-org`: the gateway verifies the
membership) and is asked to choose on `/<tenant>/`. Plain HTML and JavaScript, no external
asset, no build step.

    python -m gateway.demo.dashboard --port 3003
"""

from __future__ import annotations

import argparse
from html import escape
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

PAGE = (Path(__file__).resolve().parent / "dashboard.html").read_text(encoding="utf-8")
#: the page talks to its own origin only; no frame may embed it
CSP = "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; frame-ancestors 'none'"
FIELDS = {"tenant": "x-tenant", "org": "x-org-id", "roles": "x-roles", "user": "x-user-id"}


def render(headers: dict[str, str]) -> str:
    page = PAGE
    for name, header in FIELDS.items():
        page = page.replace("{{" + name + "}}", escape(headers.get(header) or "-"))
    return page


async def dashboard(request: Request) -> HTMLResponse:
    headers = {k.lower(): v for k, v in request.headers.items()}
    return HTMLResponse(
        render(headers), headers={"content-security-policy": CSP, "cache-control": "no-store", "vary": "cookie"}
    )


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


#: `/`: the caller's only organization (or a choice to make); `/orgs/{org}`: the one chosen
#: in the path, verified by the gateway (route `dashboard-org`) before this page is asked
app = Starlette(routes=[Route("/", dashboard), Route("/orgs/{org}", dashboard), Route("/health", health)])


def main() -> None:
    parser = argparse.ArgumentParser(description="demo jobs dashboard (served behind the gateway)")
    parser.add_argument("--port", type=int, default=3003)
    args = parser.parse_args()
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
