"""Per-organization namespaces for keys the upstream shares across all callers.

Durably looks ``idempotencyKey`` up per job across every run, and serialises
``concurrencyKey`` per job across every run: a key one organization chooses must
never match, coalesce into, or reveal another organization's run. The gateway
therefore forwards ``<org, percent-encoded>:<client key>``:

* the encoded organization contains no ``:`` (everything outside
  ``A-Z a-z 0-9 - . _ ~`` is ``%XX`` of its UTF-8 bytes), so the first ``:``
  ends it and ``(org, key) -> namespaced`` is injective: two different
  organizations can never produce the same namespaced key, whatever their keys;
* typical ids stay readable: ``org_123`` + ``webhook-1`` -> ``org_123:webhook-1``;
  ``acme:eu`` + ``k`` -> ``acme%3Aeu:k``.
"""

from __future__ import annotations

from urllib.parse import quote

_SAFE = "-._~"


def encode_org(org: str) -> str:
    return quote(org.encode("utf-8", "surrogatepass"), safe=_SAFE)


def namespace_key(org: str, key: str) -> str:
    """The key the upstream sees for ``org``'s ``key``."""
    if not org:
        raise ValueError("organization must be non-empty")
    return f"{encode_org(org)}:{key}"


def unnamespace_key(org: str, value: str) -> str | None:
    """The client's key if ``value`` is in ``org``'s namespace, else None."""
    prefix = f"{encode_org(org)}:"
    return value[len(prefix) :] if value.startswith(prefix) else None


def unnamespace_text(org: str, text: str) -> str:
    """Strip ``org``'s prefix from keys quoted in an upstream message.

    Durably's 409 for a busy concurrency key reads
    ``A pending run already exists for concurrency key "<namespaced>" ...``;
    this turns it back into the key the client sent.
    """
    return text.replace(f'"{encode_org(org)}:', '"')
