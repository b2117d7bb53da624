"""`gateway token --tenant T --scope S [--scope S2]`: a client-credentials token as JSON."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from gateway.config.settings import Settings
from gateway.ory.client_credentials import TokenError, TokenService


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tenant", required=True, help="tenant whose Hydra and client to use")
    parser.add_argument("--scope", action="append", default=[], help="scope to request (repeatable)")
    parser.add_argument("--audience", action="append", default=[], help="audience to request (repeatable)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    scopes = [s for value in args.scope for s in value.split()]
    try:
        service = TokenService.for_tenant(args.tenant, settings)
        token = asyncio.run(service.client_credentials(scopes, args.audience))
    except TokenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(token))
    return 0
