"""How Durably reads a listing's label filters: the oracle the gateway's query rewriting
(gateway.labels.rewrite_query) is tested against."""

from __future__ import annotations

from gateway.labels import form_decode


def org_filters(raw_query: bytes, key: str) -> list[str]:
    """The values Durably would read as filters on ``key``."""
    wanted = f"label.{key}"
    values = []
    for part in raw_query.split(b"&"):
        name, _, value = part.partition(b"=")
        if part and form_decode(name) == wanted:
            values.append(form_decode(value))
    return values
