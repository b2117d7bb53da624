"""The IETF RateLimit fields (draft-ietf-httpapi-ratelimit-headers): what a client may know
of the quota its request counted against.

`RateLimit-Policy: "<name>";q=<requests>;w=<seconds>` names the quota, and
`RateLimit: "<name>";r=<remaining>;t=<seconds>` says how much of it is left and when more
will be. Sent on every answer to a request counted against a quota, the 429 included.
"""

from __future__ import annotations


def rate_fields(name: str, requests: int, seconds: int, remaining: int, reset: int) -> dict[str, str]:
    """The two fields; `name` is an sf-string's content ([a-z0-9._-] here: no escaping needed)."""
    return {
        "ratelimit-policy": f'"{name}";q={requests};w={seconds}',
        "ratelimit": f'"{name}";r={remaining};t={reset}',
    }
