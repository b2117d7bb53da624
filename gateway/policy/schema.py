"""The policy file JSON Schema; ``policies/policy.schema.json`` is this, published.

Structure only (types, required and unknown keys). What needs the settings -
tenants, upstreams, patterns, overlaps - is checked by the loader.
"""

from __future__ import annotations

from typing import Any

_NAMES = {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1, "uniqueItems": True}
_ANY_ALL = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {"any": _NAMES, "all": _NAMES},
}
_NAME = {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9_-]{0,63}$"}
_PERMISSION = {
    "description": "An Ory Permissions (Keto) check: namespace:object#relation@caller; the object "
    "template may use the route's {param}s and {org}.",
    "type": "object",
    "additionalProperties": False,
    "required": ["namespace", "object", "relation"],
    "properties": {
        "namespace": _NAME,
        "object": {"type": "string", "minLength": 1, "maxLength": 256},
        "relation": _NAME,
    },
}
_KIND = {
    "description": "Requirements for this kind of principal; {} = any authenticated one of the tenant.",
    "type": "object",
    "additionalProperties": False,
    "properties": {"roles": _ANY_ALL, "scopes": _ANY_ALL, "permission": _PERMISSION},
}
_HUMAN = {
    **_KIND,
    "properties": {
        **_KIND["properties"],  # type: ignore[dict-item]
        "aal": {
            "description": "A second factor: the session's authenticator assurance level must be aal2 (or higher).",
            "const": "aal2",
        },
        "max_age": {
            "description": "A recent sign-in: at most this many seconds since the person last authenticated.",
            "type": "integer",
            "minimum": 1,
            "maximum": 31536000,
        },
    },
}
_ORGANIZATION = {
    "description": "Where the request names its organization: a path parameter of the route.",
    "type": "object",
    "additionalProperties": False,
    "required": ["param"],
    "properties": {"param": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"}},
}
_METHOD = {"enum": ["*", "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]}
_PATH = {"type": "string", "minLength": 1, "pattern": "^/"}
_SECONDS = {"type": "number", "exclusiveMinimum": 0, "maximum": 86400}

_RATE_LIMIT = {
    "description": "At most `requests` per `per` (a sliding window) for each value of `key`; past it "
    "429 rate_limited with Retry-After and the RateLimit fields.",
    "type": "object",
    "additionalProperties": False,
    "required": ["requests", "per", "key"],
    "properties": {
        "requests": {"type": "integer", "minimum": 1, "maximum": 1_000_000_000},
        "per": {
            "description": "The window: whole seconds, minutes, hours or days (10s, 1m, 1h, 1d).",
            "type": "string",
            "pattern": "^[1-9][0-9]{0,5}[smhd]$",
        },
        "key": {"enum": ["tenant", "organization", "principal", "client_id", "client_address"]},
    },
}

_ROUTE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "methods", "allow"],
    "properties": {
        "id": {"type": "string", "pattern": "^[a-z0-9][a-z0-9._-]{0,99}$"},
        "description": {"type": "string"},
        "path": _PATH,
        "paths": {"type": "array", "items": _PATH, "minItems": 1, "uniqueItems": True},
        "methods": {"type": "array", "items": _METHOD, "minItems": 1, "uniqueItems": True},
        "allow": {
            "anyOf": [
                {"type": "string", "const": "anonymous"},
                {
                    "type": "object",
                    "additionalProperties": False,
                    "minProperties": 1,
                    "properties": {"human": _HUMAN, "machine": _KIND},
                },
            ]
        },
        "forward": {
            "type": "object",
            "additionalProperties": False,
            "required": ["upstream"],
            "properties": {
                "upstream": {"type": "string", "minLength": 1},
                "strip_tenant_prefix": {"type": "boolean"},
                "path_prefix": _PATH,
                "strip_prefix": _PATH,
            },
        },
        "builtin": {
            "type": "object",
            "required": ["name"],
            "properties": {"name": {"type": "string"}},
            "additionalProperties": {"type": "string"},
        },
        "labels": {"type": "string", "minLength": 1},
        "organization": _ORGANIZATION,
        "stream": {"type": "boolean"},
        "websocket": {"type": "boolean"},
        "timeout": _SECONDS,
        "idle_timeout": _SECONDS,
        "rate_limit": _RATE_LIMIT,
    },
}

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://github.com/ory-gateway/policies/policy.schema.json",
    "title": "Gateway policy file",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "tenant": {"type": "string", "minLength": 1},
        "tenants": {
            "type": "array",
            "items": {"type": "string", "minLength": 1},
            "minItems": 1,
            "uniqueItems": True,
        },
        "routes": {"type": "array", "items": _ROUTE},
        "label_profiles": {"type": "object", "additionalProperties": {"type": "object"}},
    },
}
