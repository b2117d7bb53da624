"""Run ownership and the second line of defence on upstream answers."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any

import msgspec
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
    """``filter_list_response`` for several required labels at once, in one parse.

    The common case (a JSON array of run objects) is read by a decoder that builds only
    each run's wanted labels; kept runs are the upstream's own bytes. Anything else falls
    back to a full parse with the same rules (and its 502 for what is not a JSON array).
    """
    if _all_alike(body, labels):
        return body
    decoder, run_type, labels_type = _labels_decoder(tuple(labels))
    try:
        runs = decoder.decode(body)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return _filter_parsed(body, labels)
    wanted = run_type(labels_type(*labels.values()))  # struct equality: field by field, in C
    if runs.count(wanted) == len(runs):
        return body
    keep = [run == wanted for run in runs]
    raws = _RAW_LIST.decode(body)
    return b"[" + b",".join(raw for raw, kept in zip(raws, keep, strict=True) if kept) + b"]"


_RAW_LIST = msgspec.json.Decoder(list[msgspec.Raw])

#: a run with its `labels` kept as the upstream's bytes (absent: empty bytes)
_RawLabelsRun = msgspec.defstruct("RawLabelsRun", [("labels", msgspec.Raw, msgspec.Raw(b""))], gc=False)
_RAW_LABELS_RUNS = msgspec.json.Decoder(list[_RawLabelsRun])  # type: ignore[valid-type]


def _all_alike(body: bytes, labels: Mapping[str, str]) -> bool:
    """The common case, cheaply: a JSON array of objects whose `labels` are, byte for byte,
    the first one's, and the first one's are the caller's. Each run's labels are then only
    sliced out of the body and compared as bytes (in C), never decoded; one is decoded, by
    the same rules as every run in `filter_list_by`. False means "decide run by run"."""
    try:
        runs = _RAW_LABELS_RUNS.decode(body)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return False
    if not runs:
        return True
    first = runs[0]
    if runs.count(first) != len(runs):  # struct equality: the labels' bytes, in C
        return False
    decoder, run_type, labels_type = _labels_decoder(tuple(labels))
    try:
        raw = bytes(first.labels)  # type: ignore[attr-defined]
        decoded = decoder.decode(b'[{"labels":' + raw + b"}]") if raw else [run_type()]
    except (msgspec.ValidationError, msgspec.DecodeError):
        return False
    return bool(decoded[0] == run_type(labels_type(*labels.values())))


@functools.lru_cache(maxsize=64)
def _labels_decoder(keys: tuple[str, ...]) -> tuple[msgspec.json.Decoder[list[Any]], Any, Any]:
    """Reads `[{"labels": {key: value, ...}, ...}, ...]` keeping only `keys` (last duplicate
    wins, as in JavaScript); a run that is not an object, or labels that are not an object,
    fail the decode (and the caller's full parse decides). Also returns the run and labels
    struct types. The structs hold only decoded JSON values, never a cycle: the collector
    skips them."""
    names = {f"label{i}": key for i, key in enumerate(keys)}
    labels = msgspec.defstruct("Labels", [(name, Any, None) for name in names], rename=names, gc=False)
    run = msgspec.defstruct("Run", [("labels", labels | None, None)], gc=False)
    return msgspec.json.Decoder(list[run]), run, labels  # type: ignore[valid-type]


def _filter_parsed(body: bytes, labels: Mapping[str, str]) -> bytes:
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
