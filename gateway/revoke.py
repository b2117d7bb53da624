"""`gateway revoke --tenant T --session ID | --token-hash H`: evict everywhere.

Publishes a revocation on Redis (`GATEWAY_REDIS_URL`); every replica subscribed to
the channel drops the matching cached decisions within a second.
"""

from __future__ import annotations

import argparse
import sys

import orjson

from gateway.config import Settings

CHANNEL = "gateway:revocations"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tenant", required=True)
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--session", help="Kratos session id")
    what.add_argument("--token-hash", help="sha256 of the token or session credential (as logged)")


def message(tenant: str, session: str | None, token_hash: str | None) -> bytes:
    return orjson.dumps({"tenant": tenant, "session_id": session, "credential_hash": token_hash})


def run(args: argparse.Namespace, settings: Settings) -> int:
    import redis

    if args.tenant not in settings.tenants:
        print(f"error: --tenant: {args.tenant!r} is not in GATEWAY_TENANTS", file=sys.stderr)
        return 2
    if settings.redis_url is None:
        print("error: GATEWAY_REDIS_URL is not set: revocations reach other replicas through Redis", file=sys.stderr)
        return 2
    try:
        client = redis.Redis.from_url(settings.redis_url, socket_timeout=5)
        receivers = client.publish(CHANNEL, message(args.tenant, args.session, args.token_hash))
    except redis.RedisError as exc:
        print(f"error: Redis at GATEWAY_REDIS_URL: {exc}", file=sys.stderr)
        return 1
    print(f"revocation published to {receivers} replica(s)")
    return 0
