"""A sample partner API for the demo: returns stock, and echoes who the gateway said is calling."""

from __future__ import annotations

import argparse

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

ITEMS = [{"sku": "TRK-100", "name": "Tractor", "stock": 4}, {"sku": "HRV-7", "name": "Harvester", "stock": 1}]


async def inventory(request: Request) -> JSONResponse:
    names = ("x-tenant", "x-principal-kind", "x-client-id", "x-org-id", "x-scopes")
    caller = {h: request.headers.get(h) for h in names}
    return JSONResponse({"items": ITEMS, "caller": caller})


async def report(request: Request) -> JSONResponse:
    """An organization's report: the gateway let the caller through only if Keto allows it."""
    org, name = request.path_params["org"], request.path_params["report"]
    caller = {h: request.headers.get(h) for h in ("x-user-id", "x-client-id", "x-org-id", "x-roles")}
    return JSONResponse({"report": f"{org}/{name}", "rows": [["revenue", 42]], "caller": caller})


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


app = Starlette(
    routes=[
        Route("/partner-api/inventory", inventory),
        Route("/orgs/{org}/reports/{report}", report),
        Route("/health", health),
    ]
)


def main() -> None:
    parser = argparse.ArgumentParser(description="demo inventory API")
    parser.add_argument("--port", type=int, default=3002)
    args = parser.parse_args()
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
