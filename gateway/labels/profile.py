"""Label profiles: a data description of a Durably-shaped job service.

A profile names the label that carries the organization, the base path the
service is mounted at, and a table ``(method, path) -> Operation``. Everything
not in the table is unknown: ``classify`` returns None and the caller denies.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, cast, get_args

from gateway.labels.errors import Location, ProfileError

OperationKind = Literal["trigger", "list", "list_stream", "run_read", "run_write", "passthrough"]
Access = Literal["read", "write"]
RunIdSource = Literal["query", "body"]

KINDS: tuple[OperationKind, ...] = get_args(OperationKind)
RUN_KINDS: frozenset[str] = frozenset({"run_read", "run_write"})
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
#: Durably's own rule for label keys (storage.validateLabels); others are a 500 upstream
DURABLY_LABEL_KEY_PATTERN = r"[a-zA-Z0-9\-_./]+"
DURABLY_NOT_FOUND_BODY = b'{"error":"Run not found"}'


@dataclass(frozen=True, slots=True)
class Operation:
    method: str
    path: str  # relative to the profile's base_path, e.g. "/runs/subscribe"
    kind: OperationKind
    name: str  # e.g. "read", "subscribe", "cancel": for logs, `gateway explain`, policy
    access: Access  # which role/scope class the policy requires (viewer reads, member writes)
    stream: bool = False  # long-lived response (SSE): no global timeout, filter incrementally
    run_id_from: RunIdSource = "query"

    @property
    def is_run_level(self) -> bool:
        return self.kind in RUN_KINDS


@dataclass(frozen=True, slots=True)
class LabelProfile:
    name: str
    label_key: str  # e.g. "organizationId"
    operations: tuple[Operation, ...]
    base_path: str = "/api/durably"  # "" = operations' paths are the whole path
    run_id_param: str = "runId"
    labels_field: str = "labels"  # trigger body field holding the labels object
    key_fields: tuple[str, ...] = ("idempotencyKey", "concurrencyKey")  # namespaced per org
    lookup_path: str = "/run"  # GET <base><lookup_path>?runId=... returns the run (with labels)
    not_found_status: int = 404  # what the service answers for a missing run ...
    not_found_body: bytes = DURABLY_NOT_FOUND_BODY  # ... so another org's run looks the same
    not_found_content_type: str = "application/json"
    label_key_pattern: str = DURABLY_LABEL_KEY_PATTERN
    #: list answers are read and only the caller's runs kept (the second line of defence
    #: behind the forced label filter). `recheck_lists: false` in a policy file trusts the
    #: upstream's own filter instead: an explicit, per-profile choice, never the default
    recheck_lists: bool = True

    def operation(self, method: str, rel_path: str) -> Operation | None:
        for op in self.operations:
            if op.method == method and op.path == rel_path:
                return op
        return None


def classify(profile: LabelProfile, method: str, path: str) -> Operation | None:
    """The operation for an upstream-bound ``method`` + canonical ``path``, or None.

    Matching is exact (Durably routes by exact path; no trailing slash, case-
    sensitive, method compared as sent). ``path`` is the path the upstream will
    receive, e.g. ``/api/durably/runs``.
    """
    base = profile.base_path
    if base:
        if not path.startswith(base + "/"):
            return None
        path = path[len(base) :]
    return profile.operation(method, path)


def _op(method: str, path: str, kind: OperationKind, name: str, access: Access, stream: bool = False) -> Operation:
    return Operation(method=method, path=path, kind=kind, name=name, access=access, stream=stream)


def durably_profile(label_key: str = "organizationId", base_path: str = "/api/durably") -> LabelProfile:
    """@coji/durably 0.15's createDurablyHandler routes (see docs/durably-contract.md)."""
    ops = (
        _op("POST", "/trigger", "trigger", "trigger", "write"),
        _op("GET", "/runs", "list", "list", "read"),
        _op("GET", "/runs/subscribe", "list_stream", "runs_subscribe", "read", stream=True),
        _op("GET", "/run", "run_read", "read", "read"),
        _op("GET", "/steps", "run_read", "steps", "read"),
        _op("GET", "/subscribe", "run_read", "subscribe", "read", stream=True),
        _op("POST", "/retrigger", "run_write", "retrigger", "write"),
        _op("POST", "/cancel", "run_write", "cancel", "write"),
        _op("DELETE", "/run", "run_write", "delete", "write"),
    )
    return LabelProfile(name="durably", label_key=label_key, operations=ops, base_path=base_path)


# --- profile_from_mapping ----------------------------------------------------------

_TOP_KEYS = frozenset(
    {
        "name",
        "label_key",
        "base_path",
        "run_id_param",
        "labels_field",
        "key_fields",
        "lookup_path",
        "not_found",
        "label_key_pattern",
        "operations",
        "recheck_lists",
    }
)
_OP_KEYS = frozenset({"method", "path", "kind", "name", "access", "stream", "run_id_from"})


class _Problems:
    """Every problem found, each at its `Location` in the mapping (the loader names its line)."""

    def __init__(self) -> None:
        self.items: list[tuple[Location, str]] = []

    def add(self, where: Location, message: str, *, label: str | None = None) -> None:
        self.items.append((where, f"{label or _dotted(where)}: {message}"))


def _dotted(where: Location) -> str:
    return "".join(f"[{step}]" if isinstance(step, int) else f".{step}" if i else step for i, step in enumerate(where))


def _str(data: Mapping[str, object], key: str, default: str, where: Location, problems: _Problems) -> str:
    value = data.get(key, default)
    if not isinstance(value, str):
        problems.add((*where, key), "must be a string", label=f"{_dotted(where) or 'profile'}.{key}")
        return default
    return value


def _bool(data: Mapping[str, object], key: str, default: bool, problems: _Problems) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        problems.add((key,), "must be true or false")
        return default
    return value


def _check_path(value: str, where: Location, problems: _Problems, allow_empty: bool = False) -> None:
    if allow_empty and value == "":
        return
    if not value.startswith("/") or value.endswith("/") or "//" in value or "?" in value or "#" in value:
        problems.add(where, f"{value!r} must start with '/', not end with '/', and have no '//', '?' or '#'")


def _default_access(kind: str, method: str) -> Access:
    if kind in ("trigger", "run_write"):
        return "write"
    if kind == "passthrough" and method != "GET":
        return "write"
    return "read"


def _operation(item: object, where: Location, problems: _Problems) -> Operation | None:
    if not isinstance(item, Mapping):
        problems.add(where, "must be a mapping")
        return None
    for unknown in sorted(set(map(str, item)) - _OP_KEYS):
        problems.add((*where, unknown), "unknown field")
    method = _str(item, "method", "", where, problems)
    path = _str(item, "path", "", where, problems)
    kind = _str(item, "kind", "", where, problems)
    if method not in METHODS:
        problems.add((*where, "method"), f"{method!r} is not one of {sorted(METHODS)}")
    _check_path(path, (*where, "path"), problems)
    if kind not in KINDS:
        problems.add((*where, "kind"), f"{kind!r} is not one of {list(KINDS)}")
        return None
    access = _str(item, "access", _default_access(kind, method), where, problems)
    run_id_from = _str(item, "run_id_from", "query", where, problems)
    stream = item.get("stream", kind == "list_stream")
    if access not in ("read", "write"):
        problems.add((*where, "access"), "must be 'read' or 'write'")
    if run_id_from not in ("query", "body"):
        problems.add((*where, "run_id_from"), "must be 'query' or 'body'")
    if not isinstance(stream, bool):
        problems.add((*where, "stream"), "must be true or false")
    if run_id_from == "body" and method == "GET":
        problems.add((*where, "run_id_from"), "a GET has no body to read the run id from")
    name = _str(item, "name", path.strip("/").replace("/", "_") or kind, where, problems)
    return Operation(method, path, kind, name, cast(Access, access), stream is True, cast(RunIdSource, run_id_from))


def _operations(raw: object, problems: _Problems) -> tuple[Operation, ...]:
    if not isinstance(raw, Sequence) or isinstance(raw, str | bytes) or not raw:
        problems.add(("operations",), "must be a non-empty list")
        return ()
    ops = [_operation(item, ("operations", i), problems) for i, item in enumerate(raw)]
    seen: set[tuple[str, str]] = set()
    for i, op in enumerate(ops):
        if op is not None and (op.method, op.path) in seen:
            problems.add(("operations", i), f"duplicate {op.method} {op.path}")
        elif op is not None:
            seen.add((op.method, op.path))
    return tuple(op for op in ops if op is not None)


def _not_found(raw: object, problems: _Problems) -> tuple[int, bytes, str]:
    default = (404, DURABLY_NOT_FOUND_BODY, "application/json")
    if raw is None:
        return default
    if not isinstance(raw, Mapping):
        problems.add(("not_found",), "must be a mapping with status, body, content_type")
        return default
    status, body = raw.get("status", 404), raw.get("body", DURABLY_NOT_FOUND_BODY.decode())
    ctype = raw.get("content_type", "application/json")
    if not isinstance(status, int) or isinstance(status, bool) or not 400 <= status <= 499:
        problems.add(("not_found", "status"), "must be a 4xx status")
        status = 404
    if not isinstance(body, str) or not isinstance(ctype, str):
        problems.add(("not_found",), "body and content_type must be strings")
        return default
    return status, body.encode(), ctype


def _key_fields(raw: object, problems: _Problems) -> tuple[str, ...]:
    if not isinstance(raw, Sequence) or isinstance(raw, str | bytes) or not all(isinstance(k, str) and k for k in raw):
        problems.add(("key_fields",), "must be a list of field names")
        return ()
    return tuple(cast(Sequence[str], raw))


def _pattern(value: str, problems: _Problems) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        problems.add(("label_key_pattern",), f"not a regular expression: {exc}")
    return value


def _check_profile(profile: LabelProfile, problems: _Problems) -> None:
    if not profile.label_key or not re.fullmatch(profile.label_key_pattern, profile.label_key):
        problems.add(("label_key",), f"{profile.label_key!r} must be a non-empty label key")
    _check_path(profile.base_path, ("base_path",), problems, allow_empty=True)
    _check_path(profile.lookup_path, ("lookup_path",), problems)
    for field_name in ("run_id_param", "labels_field", "name"):
        if not getattr(profile, field_name):
            problems.add((field_name,), "must not be empty")
    needs_lookup = any(op.is_run_level for op in profile.operations)
    if needs_lookup and profile.operation("GET", profile.lookup_path) is None:
        problems.add(("lookup_path",), f"run-level operations need a GET {profile.lookup_path} operation")


def profile_from_mapping(data: Mapping[str, object]) -> LabelProfile:
    """Build a profile from policy data; raise ProfileError listing every problem.

    Missing fields take Durably's defaults (``durably_profile()``), except
    ``operations`` which is required.
    """
    problems = _Problems()
    for unknown in sorted(set(map(str, data)) - _TOP_KEYS):
        problems.add((unknown,), "unknown field")
    base = durably_profile()
    status, body, ctype = _not_found(data.get("not_found"), problems)
    profile = LabelProfile(
        name=_str(data, "name", "custom", (), problems),
        label_key=_str(data, "label_key", base.label_key, (), problems),
        operations=_operations(data.get("operations"), problems),
        base_path=_str(data, "base_path", base.base_path, (), problems),
        run_id_param=_str(data, "run_id_param", base.run_id_param, (), problems),
        labels_field=_str(data, "labels_field", base.labels_field, (), problems),
        key_fields=_key_fields(data.get("key_fields", list(base.key_fields)), problems),
        lookup_path=_str(data, "lookup_path", base.lookup_path, (), problems),
        not_found_status=status,
        not_found_body=body,
        not_found_content_type=ctype,
        label_key_pattern=_pattern(_str(data, "label_key_pattern", base.label_key_pattern, (), problems), problems),
        recheck_lists=_bool(data, "recheck_lists", True, problems),
    )
    if not problems.items:
        _check_profile(profile, problems)
    if problems.items:
        raise ProfileError(problems.items)
    return profile
