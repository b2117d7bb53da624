"""`gateway revoke --tenant T --session ID | --token-hash H | --token-stdin`: evict everywhere.

Publishes a revocation on Redis (`GATEWAY_REDIS_URL`); every replica subscribed to
the channel drops the matching cached decisions (locally and in Redis) within a second.
The shared Redis entries are also deleted here, so they are gone even if no replica
is listening. Revoke the session or token at Ory first: this only empties caches.

`--token-hash` is the gateway's credential hash (the decision-cache key,
sha256 of tenant, authenticator and credential). `--token-stdin` reads the raw token
or cookie value from standard input and revokes every hash it can have.
"""

from __future__ import annotations

import argparse
import sys

import orjson

from gateway.config.load import Settings

CHANNEL = "gateway:revocations"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tenant", required=True)
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--session", help="Kratos session id")
    what.add_argument("--token-hash", help="the gateway's credential hash (decision-cache key)")
    what.add_argument("--token-stdin", action="store_true", help="read the raw token or cookie value from stdin")


def message(tenant: str, session: str | None, token_hash: str | None) -> bytes:
    return orjson.dumps({"tenant": tenant, "session_id": session, "credential_hash": token_hash})


def run(args: argparse.Namespace, settings: Settings) -> int:
    import redis

    from gateway.authn import credential_key
    from gateway.authn.sources import AUTHENTICATORS
    from gateway.replicas.redis import entry_key, session_key

    if args.tenant not in settings.tenants:
        print(f"error: --tenant: {args.tenant!r} is not in GATEWAY_TENANTS", file=sys.stderr)
        return 2
    if settings.redis_url is None:
        print("error: GATEWAY_REDIS_URL is not set: revocations reach other replicas through Redis", file=sys.stderr)
        return 2
    hashes: list[str | None] = [args.token_hash] if args.session is None else [None]
    if args.token_stdin:
        token = sys.stdin.readline().strip()
        if not token:
            print("error: --token-stdin: nothing on standard input", file=sys.stderr)
            return 2
        hashes = [credential_key(args.tenant, a, token) for a in AUTHENTICATORS]
    try:
        client = redis.Redis.from_url(settings.redis_url, socket_timeout=5)
        receivers = 0
        for h in hashes:
            if args.session is not None:
                index = session_key(args.tenant, args.session)
                keys = [entry_key(k.decode()) for k in client.smembers(index)]  # type: ignore[union-attr]
                client.delete(*keys, index)
            elif h is not None:
                client.delete(entry_key(h))
            receivers = max(receivers, int(client.publish(CHANNEL, message(args.tenant, args.session, h))))
    except redis.RedisError as exc:
        print(f"error: Redis at GATEWAY_REDIS_URL: {exc}", file=sys.stderr)
        return 1
    print(f"revocation published to {receivers} replica(s)")
    return 0
