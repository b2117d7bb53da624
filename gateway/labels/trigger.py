"""Trigger bodies: strict JSON in, the organization stamped, shared keys namespaced.

The forwarded body is always the object the gateway parsed, re-serialised; the
client's bytes never reach the upstream.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from gateway.labels.errors import bad_request, forbidden, unsupported_media_type
from gateway.labels.namespace import namespace_key
from gateway.labels.profile import DURABLY_LABEL_KEY_PATTERN, LabelProfile

DEFAULT_KEY_FIELDS: tuple[str, ...] = ("idempotencyKey", "concurrencyKey")


class _Duplicate(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for k, v in pairs:
        if k in obj:
            raise _Duplicate(k)
        obj[k] = v
    return obj


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError("number out of range")
    return value


def check_json_content_type(content_type: str | None) -> None:
    """415 unless ``application/json`` or ``application/*+json`` (charset utf-8 if given)."""
    if content_type is None:
        raise unsupported_media_type("a JSON body (Content-Type: application/json) is required")
    media, *params = (p.strip() for p in content_type.split(";"))
    media = media.lower()
    is_json = media == "application/json" or (media.startswith("application/") and media.endswith("+json"))
    if not is_json:
        raise unsupported_media_type("a JSON body (Content-Type: application/json) is required")
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            raise unsupported_media_type("JSON bodies must be UTF-8")


def parse_strict_json(body: bytes) -> Any:
    """Parse UTF-8 JSON refusing duplicate keys (after unescaping), NaN and Infinity."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise bad_request("invalid_json", "the body is not valid UTF-8") from exc
    text = text.removeprefix("\ufeff")  # a BOM, as fetch's Request.json() drops it
    try:
        return json.loads(
            text, object_pairs_hook=_pairs_hook, parse_constant=_reject_constant, parse_float=_finite_float
        )
    except _Duplicate as exc:
        raise bad_request("duplicate_key", f"duplicate JSON key {exc.key!r}") from None
    except (ValueError, RecursionError) as exc:
        raise bad_request("invalid_json", "the body is not valid JSON") from exc


def dump_json(value: Any) -> bytes:
    """Compact ASCII JSON: also safe for lone surrogates, which JS reads back unchanged."""
    return json.dumps(value, ensure_ascii=True, separators=(",", ":"), allow_nan=False).encode("ascii")


def _stamp_labels(labels: Any, key: str, org: str, pattern: str) -> dict[str, str]:
    if labels is None:
        labels = {}
    if not isinstance(labels, dict):
        raise bad_request("invalid_labels", "labels must be an object of strings")
    for name, value in labels.items():
        if not isinstance(value, str):
            raise bad_request("invalid_labels", f"label {name!r} must be a string")
        if not re.fullmatch(pattern, name):
            raise bad_request("invalid_labels", f"label key {name!r} is not allowed")
        if name != key and name.casefold() == key.casefold():
            raise bad_request("invalid_labels", f"label key {name!r} is reserved")
    if labels.get(key, org) != org:
        raise forbidden("organization_mismatch", f"labels.{key} must be your own organization")
    return {**labels, key: org}


def _namespace_fields(obj: dict[str, Any], fields: Sequence[str], org: str) -> None:
    for name in fields:
        if name not in obj:
            continue
        value = obj[name]
        if value is None or value == "":
            del obj[name]  # Durably treats both as "no key"; a namespaced "" would not be
        elif not isinstance(value, str):
            raise bad_request("invalid_key", f"{name} must be a string")
        else:
            obj[name] = namespace_key(org, value)


def rewrite_trigger_body(
    body: bytes,
    content_type: str | None,
    org: str,
    key: str = "organizationId",
    *,
    labels_field: str = "labels",
    key_fields: Sequence[str] = DEFAULT_KEY_FIELDS,
    label_key_pattern: str = DURABLY_LABEL_KEY_PATTERN,
    namespace_keys: bool = True,
    namespace: str | None = None,
) -> bytes:
    """Validate a trigger body and return the bytes to forward.

    415 non-JSON media type; 400 bad UTF-8/JSON, duplicate keys anywhere, a
    non-object body or labels, non-string label values, label keys Durably would
    reject or that differ from ``key`` only by case, non-string shared keys;
    403 a ``labels.<key>`` that is not ``org``. The result carries
    ``labels.<key> = org`` and every ``key_fields`` value namespaced with
    ``namespace_key(org, value)`` (skipped with ``namespace_keys=False``, which
    makes the function idempotent; with it, apply exactly once per request).
    ``namespace`` (default ``org``) is what the shared keys are namespaced by.
    """
    if not org:
        raise ValueError("organization must be non-empty")
    check_json_content_type(content_type)
    obj = parse_strict_json(body)
    if not isinstance(obj, dict):
        raise bad_request("not_an_object", "the body must be a JSON object")
    obj[labels_field] = _stamp_labels(obj.get(labels_field), key, org, label_key_pattern)
    if namespace_keys:
        _namespace_fields(obj, key_fields, namespace or org)
    return dump_json(obj)


def rewrite_trigger(
    profile: LabelProfile, body: bytes, content_type: str | None, org: str, namespace: str | None = None
) -> bytes:
    """``rewrite_trigger_body`` with the profile's field names."""
    return rewrite_trigger_body(
        body,
        content_type,
        org,
        profile.label_key,
        labels_field=profile.labels_field,
        key_fields=profile.key_fields,
        label_key_pattern=profile.label_key_pattern,
        namespace=namespace,
    )


__all__ = ["check_json_content_type", "dump_json", "parse_strict_json", "rewrite_trigger", "rewrite_trigger_body"]
