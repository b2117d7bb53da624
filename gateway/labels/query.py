"""Query strings: the organization filter of listings, and the run id of run-level calls.

Durably reads the query with WHATWG ``URLSearchParams``: split on ``&`` only,
``+`` is a space, names and values are percent-decoded once (bad UTF-8 becomes
U+FFFD), ``get`` returns the FIRST value, and its label parser lets the LAST
``label.<key>`` win. The functions here work on the raw bytes so that every
parameter they do not own is forwarded byte-for-byte, in order.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote_to_bytes

from gateway.labels.errors import bad_request

#: characters left as-is when the gateway itself encodes a value (RFC 3986 unreserved)
_UNRESERVED = "-._~"
_MAX_DECODE_ROUNDS = 8


def form_decode(raw: bytes) -> str:
    """Decode one name or value exactly like URLSearchParams does."""
    return unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8", "replace")


def _fully_decoded(raw: bytes) -> str:
    """Percent-decode until stable (``label%252E`` -> ``label.``), bounded."""
    text = form_decode(raw)
    for _ in range(_MAX_DECODE_ROUNDS):
        again = unquote_to_bytes(text.encode("utf-8", "surrogatepass")).decode("utf-8", "replace")
        if again == text:
            break
        text = again
    return text


def _param_name(part: bytes) -> bytes:
    return part.split(b"=", 1)[0]


def encode_component(value: str) -> bytes:
    """Percent-encode everything outside the unreserved set (UTF-8)."""
    return quote(value.encode("utf-8", "surrogatepass"), safe=_UNRESERVED).encode("ascii")


def _is_label_filter(name: bytes, key: str) -> bool:
    """Does this parameter name mean (or could it be read as) a filter on ``key``?

    Any name whose fully percent-decoded, whitespace-stripped, case-folded form is
    ``label.<key>`` or ``label[<key>]`` counts, so no spelling of the filter survives.
    """
    folded = _fully_decoded(name).strip().casefold()
    k = key.casefold()
    return folded in (f"label.{k}", f"label[{k}]")


def check_label_filters(raw_query: bytes, key_pattern: str) -> None:
    """400 for a ``label.<k>`` filter whose ``k`` the service refuses (Durably answers 500).

    Durably reads every parameter whose decoded name starts with ``label.`` as a label
    filter and throws on a key outside its label key pattern (``label.x%00``, ``label.``).
    """
    for part in raw_query.split(b"&"):
        name = form_decode(_param_name(part))
        if name.startswith("label.") and not re.fullmatch(key_pattern, name[len("label.") :]):
            raise bad_request("invalid_label_filter", f"label filter {name!r} is not allowed")


def org_filter_param(key: str, org: str) -> bytes:
    """The single ``label.<key>=<org>`` parameter the gateway adds."""
    return b"label." + encode_component(key) + b"=" + encode_component(org)


def rewrite_query(raw_query: bytes, key: str, org: str) -> bytes:
    """Remove every client filter on ``key`` and append exactly one for ``org``.

    Other parameters are kept byte-for-byte and in order. Idempotent.
    """
    if not org:
        raise ValueError("organization must be non-empty")
    parts = raw_query.split(b"&") if raw_query else []
    kept = [p for p in parts if p and not _is_label_filter(_param_name(p), key)]
    kept.append(org_filter_param(key, org))
    return b"&".join(kept)


def run_id_from_query(raw_query: bytes, param: str = "runId") -> str:
    """The run id Durably will act on, or 400 if it is missing, empty or ambiguous.

    Durably takes the first ``runId`` (decoded once); a second copy is refused
    here so that what the gateway checks cannot differ from what is forwarded.
    Forward ``canonical_run_query(run_id)`` rather than the client's query.
    """
    values = []
    for part in raw_query.split(b"&"):
        name, _, value = part.partition(b"=")
        if part and form_decode(name) == param:
            values.append(form_decode(value))
    if len(values) > 1:
        raise bad_request("ambiguous_run_id", f"{param} must be given once")
    if not values or not values[0]:
        raise bad_request("run_id_required", f"{param} query parameter is required")
    return values[0]


def canonical_run_query(run_id: str, param: str = "runId") -> bytes:
    """``runId=<encoded>``: the only query a run-level call needs upstream."""
    return encode_component(param) + b"=" + encode_component(run_id)
