"""`gateway revoke --tenant T --session ID | --token-hash H | --token-stdin | --subject ID |
--organization ORG`: evict everywhere.

Publishes a revocation on Redis (`GATEWAY_REDIS_URL`); every replica subscribed to
the channel drops the matching cached decisions (locally and in Redis) within a second.
The shared Redis entries are also deleted here, so they are gone even if no replica
is listening. Revoke the session or token at Ory first (or change the membership or
relationship there): this only empties caches.

- `--session`: one Kratos session's cached decisions.
- `--token-hash`: the gateway's credential hash (the decision-cache key, sha256 of tenant,
  authenticator and credential); `--token-stdin` reads the raw token or cookie value from
  standard input and revokes every hash it can have.
- `--subject`: an identity id or OAuth2 client id: every cached session and token of it
  (so changed metadata memberships are read again) and every Ory Permissions answer about it.
- `--organization`: every cached principal that speaks for the organization, every
  `Organization:<org>` membership answer and every permission answer given while a request
  acted for it: a removed membership is honoured at once on every replica.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, cast

from gateway.config.settings import Settings
from gateway.replicas.channel import CHANNEL, message

if TYPE_CHECKING:
    import redis


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tenant", required=True)
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--session", help="Kratos session id")
    what.add_argument("--token-hash", help="the gateway's credential hash (decision-cache key)")
    what.add_argument("--token-stdin", action="store_true", help="read the raw token or cookie value from stdin")
    what.add_argument("--subject", help="identity id or OAuth2 client id: its sessions, tokens and permission answers")
    what.add_argument("--organization", help="organization id: its members' cached principals and permission answers")


def run(args: argparse.Namespace, settings: Settings) -> int:
    import redis

    if args.tenant not in settings.tenants:
        print(f"error: --tenant: {args.tenant!r} is not in GATEWAY_TENANTS", file=sys.stderr)
        return 2
    if settings.redis_url is None:
        print("error: GATEWAY_REDIS_URL is not set: revocations reach other replicas through Redis", file=sys.stderr)
        return 2
    revocations = _revocations(args)
    if revocations is None:
        print("error: --token-stdin: nothing on standard input", file=sys.stderr)
        return 2
    try:
        client = redis.Redis.from_url(settings.redis_url, socket_timeout=5)
        receivers = 0
        for form, value in revocations:
            for index, prefix in _indexes(args.tenant, form, value):
                _delete_listed(client, index, prefix)
            receivers = max(receivers, int(client.publish(CHANNEL, message(args.tenant, form, value))))
    except redis.RedisError as exc:
        print(f"error: Redis at GATEWAY_REDIS_URL: {exc}", file=sys.stderr)
        return 1
    print(f"revocation published to {receivers} replica(s)")
    return 0


def _revocations(args: argparse.Namespace) -> list[tuple[str, str]] | None:
    from gateway.authn import credential_key
    from gateway.authn.sources import AUTHENTICATORS

    if args.token_stdin:
        token = sys.stdin.readline().strip()
        if not token:
            return None
        return [("credential_hash", credential_key(args.tenant, a, token)) for a in AUTHENTICATORS]
    given = {"session_id": args.session, "credential_hash": args.token_hash}
    given |= {"subject": args.subject, "organization": args.organization}
    return [(form, value) for form, value in given.items() if value is not None]


def _indexes(tenant: str, form: str, value: str) -> list[tuple[str, str]]:
    """(Redis set listing shared entries, the entries' key prefix) a revocation empties; for a
    credential hash, the entry itself (prefix "")."""
    from gateway.replicas import permissions as shared_permissions
    from gateway.replicas import verdicts as shared

    if form == "credential_hash":
        return [(shared.entry_key(value), "")]
    if form == "session_id":
        return [(shared.session_key(tenant, value), shared.ENTRY)]
    answers = shared_permissions.ANSWER
    if form == "subject":
        return [
            (shared.subject_key(tenant, value), shared.ENTRY),
            (shared_permissions.subject_index(tenant, value), answers),
        ]
    return [
        (shared.organization_key(tenant, value), shared.ENTRY),
        (shared_permissions.organization_index(tenant, value), answers),
    ]


def _delete_listed(client: redis.Redis, index: str, prefix: str) -> None:
    """Delete an index set and every entry it lists (or, without a prefix, the one entry)."""
    if not prefix:
        client.delete(index)
        return
    members = cast(set[bytes], client.smembers(index))
    client.delete(*[prefix + m.decode() for m in members], index)
