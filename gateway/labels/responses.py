"""Run ownership and the second line of defence on upstream answers."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import orjson

from gateway.labels.errors import bad_request, bad_upstream
from gateway.labels.trigger import check_json_content_type, dump_json, parse_strict_json


def run_belongs_to(run_json: Mapping[str, Any], key: str, org: str) -> bool:
    """True iff the run's ``labels[key]`` is exactly ``org`` (a string)."""
    labels = run_json.get("labels")
    return isinstance(labels, Mapping) and isinstance(labels.get(key), str) and labels.get(key) == org


def _load_upstream(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise bad_upstream("upstream_invalid", "the upstream answered with invalid JSON") from exc


def run_response_belongs_to(body: bytes, key: str, org: str) -> bool:
    """``run_belongs_to`` on a raw ``GET /run`` body (200 only); invalid JSON is 502."""
    run = _load_upstream(body)
    return isinstance(run, Mapping) and run_belongs_to(run, key, org)


def filter_list_response(body: bytes, key: str, org: str) -> bytes:
    """Drop list items that are not ``org``'s runs (call on 2xx ``GET /runs`` only).

    Returns ``body`` unchanged (byte-for-byte) when nothing is dropped; otherwise
    the kept items re-serialised. A body that is not a JSON array is a 502.
    """
    return filter_list_by(body, {key: org})


def filter_list_by(body: bytes, labels: Mapping[str, str]) -> bytes:
    """``filter_list_response`` for several required labels at once, in one parse."""
    try:
        runs = orjson.loads(body)
    except orjson.JSONDecodeError:
        runs = _load_upstream(body)  # what orjson refuses (NaN...) json may still read; else 502
    if not isinstance(runs, list):
        raise bad_upstream("upstream_invalid", "the upstream list is not a JSON array")
    kept = [run for run in runs if isinstance(run, Mapping) and _has_labels(run, labels)]
    return body if len(kept) == len(runs) else dump_json(kept)


def _has_labels(run: Mapping[str, Any], required: Mapping[str, str]) -> bool:
    labels = run.get("labels")
    return isinstance(labels, Mapping) and all(labels.get(k) == v for k, v in required.items())


def run_id_from_body(body: bytes, content_type: str | None, param: str = "runId") -> tuple[str, bytes]:
    """For services that take the run id in a JSON body (``run_id_from: body``).

    Returns the run id and the bytes to forward (the parsed body re-serialised).
    """
    check_json_content_type(content_type)
    obj = parse_strict_json(body)
    value = obj.get(param) if isinstance(obj, dict) else None
    if not isinstance(value, str) or not value:
        raise bad_request("run_id_required", f"{param} is required")
    return value, dump_json(obj)
