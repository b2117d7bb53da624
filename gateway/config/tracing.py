"""Tracing settings: the standard OpenTelemetry variables, read and checked here (one line per problem).

Export is on when `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (used as is) or
`OTEL_EXPORTER_OTLP_ENDPOINT` (`/v1/traces` appended) is set, or `OTEL_TRACES_EXPORTER=otlp`
(then the specification's default, `http://localhost:4318/v1/traces`); it is off with
`OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`. Only OTLP over HTTP with protobuf is
spoken (`OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL=http/protobuf`): the HTTP exporter needs no
gRPC runtime, and every collector and vendor accepts it on port 4318.

Durations are milliseconds, as the specification says (`OTEL_EXPORTER_OTLP_TIMEOUT`,
`OTEL_BSP_*`; the Python SDK reads the exporter timeout as seconds, so the gateway reads it
and hands the SDK seconds). The sampler (`OTEL_TRACES_SAMPLER`, `_ARG`) decides the sampled
flag of the traces the gateway starts even when export is off. `GATEWAY_TRACE_TRUST`
(`anyone` | `proxies`) says whose `traceparent` is continued.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal
from urllib.parse import unquote

from gateway.config.env import EnvReader
from gateway.config.settings import TracingSettings

SAMPLERS = (
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
)
DEFAULT_ENDPOINT = "http://localhost:4318/v1/traces"
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def tracing_settings(r: EnvReader) -> TracingSettings:
    defaults = TracingSettings()
    resource = _pairs(r, "OTEL_RESOURCE_ATTRIBUTES")
    queue = _count(r, "OTEL_BSP_MAX_QUEUE_SIZE", defaults.max_queue)
    client_certificate = _file(r, _either(r, "CLIENT_CERTIFICATE"))
    client_key = _file(r, _either(r, "CLIENT_KEY"))
    if (client_certificate is None) != (client_key is None):
        r.problem(_either(r, "CLIENT_KEY"), "a client certificate and its key go together: set both or neither")
    return TracingSettings(
        endpoint=_endpoint(r),
        headers=_pairs(r, _either(r, "HEADERS"), header_names=True),
        timeout=_millis(r, _either(r, "TIMEOUT"), defaults.timeout, minimum=100),
        compression=_compression(r),
        certificate=_file(r, _either(r, "CERTIFICATE")),
        client_certificate=client_certificate,
        client_key=client_key,
        service_name=r.get("OTEL_SERVICE_NAME") or dict(resource).get("service.name") or defaults.service_name,
        resource=resource,
        sampler=_sampler(r),
        ratio=_ratio(r),
        schedule_delay=_millis(r, "OTEL_BSP_SCHEDULE_DELAY", defaults.schedule_delay),
        max_queue=queue,
        max_batch=_batch(r, defaults.max_batch, queue),
        export_timeout=_millis(r, "OTEL_BSP_EXPORT_TIMEOUT", defaults.export_timeout),
        trust=_trust(r),
    )


def describe(tracing: TracingSettings) -> dict[str, object]:
    """What `gateway check` shows: whether spans are exported and where to (header values hidden)."""
    sampler = tracing.sampler + (f" {tracing.ratio:g}" if tracing.sampler.endswith("traceidratio") else "")
    doc: dict[str, object] = {
        "export": tracing.endpoint or "off (traceparent propagated; set OTEL_EXPORTER_OTLP_ENDPOINT to export spans)",
        "sampler": sampler,
        "traceparent_from": tracing.trust,
    }
    if tracing.endpoint is not None:
        doc["protocol"] = "http/protobuf" + (" gzip" if tracing.compression == "gzip" else "")
        doc["service_name"] = tracing.service_name
        doc["headers"] = {name: "***" for name, _ in tracing.headers}
    return doc


def _either(r: EnvReader, suffix: str) -> str:
    """The traces-specific variable when set, else the general one (the specification's order)."""
    specific = f"OTEL_EXPORTER_OTLP_TRACES_{suffix}"
    return specific if r.get(specific) is not None else f"OTEL_EXPORTER_OTLP_{suffix}"


def _endpoint(r: EnvReader) -> str | None:
    disabled = (r.get("OTEL_SDK_DISABLED") or "false").lower()
    if disabled not in ("true", "false"):
        r.problem("OTEL_SDK_DISABLED", f"want true or false, got {disabled!r}")
    exporters = {e.strip().lower() for e in (r.get("OTEL_TRACES_EXPORTER") or "").split(",") if e.strip()}
    if exporters - {"otlp", "none"}:
        r.problem("OTEL_TRACES_EXPORTER", f"only otlp or none are supported, got {sorted(exporters)}")
    protocol = _either(r, "PROTOCOL")
    if (r.get(protocol) or "http/protobuf") != "http/protobuf":
        r.problem(protocol, f"only http/protobuf is supported (OTLP over HTTP, port 4318), got {r.get(protocol)!r}")
    _propagators(r)
    if r.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") is not None:
        url = r.url("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    elif (base := r.url("OTEL_EXPORTER_OTLP_ENDPOINT")) is not None:
        url = base + "/v1/traces"
    else:
        url = DEFAULT_ENDPOINT if "otlp" in exporters else None
    return None if disabled == "true" or "none" in exporters else url


def _propagators(r: EnvReader) -> None:
    names = {p.strip() for p in (r.get("OTEL_PROPAGATORS") or "tracecontext").split(",") if p.strip()}
    if "tracecontext" not in names or names - {"tracecontext", "baggage"}:
        r.problem(
            "OTEL_PROPAGATORS",
            f"the gateway speaks W3C tracecontext (baggage passes through), got {sorted(names)}",
        )


def _pairs(r: EnvReader, name: str, *, header_names: bool = False) -> tuple[tuple[str, str], ...]:
    """`key=value,key2=value2`, values percent-decoded (OTLP headers, resource attributes)."""
    pairs: list[tuple[str, str]] = []
    for item in (r.get(name) or "").split(","):
        if not item.strip():
            continue
        key, sep, value = (part.strip() for part in item.partition("="))
        if not sep or not key or (header_names and not _TOKEN.fullmatch(key)):
            r.problem(name, f"want key=value pairs separated by commas, got {key!r}")
            continue
        pairs.append((key.lower() if header_names else key, unquote(value)))
    return tuple(pairs)


def _millis(r: EnvReader, name: str, default: float, minimum: int = 1) -> float:
    """A duration in milliseconds, as seconds."""
    raw = r.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) < minimum:
        r.problem(name, f"want whole milliseconds (at least {minimum}), got {raw!r}")
        return default
    return int(raw) / 1000


def _count(r: EnvReader, name: str, default: int) -> int:
    raw = r.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) < 1:
        r.problem(name, f"want a positive whole number, got {raw!r}")
        return default
    return int(raw)


def _batch(r: EnvReader, default: int, queue: int) -> int:
    batch = _count(r, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", default)
    if batch > queue:
        r.problem("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", f"{batch} is more than OTEL_BSP_MAX_QUEUE_SIZE ({queue})")
        return min(default, queue)
    return batch


def _compression(r: EnvReader) -> Literal["none", "gzip"]:
    name = _either(r, "COMPRESSION")
    value = (r.get(name) or "none").lower()
    if value == "gzip":
        return "gzip"
    if value != "none":
        r.problem(name, f"want gzip or none, got {value!r}")
    return "none"


def _file(r: EnvReader, name: str) -> str | None:
    raw = r.get(name)
    if raw is not None and not Path(raw).is_file():
        r.problem(name, f"no such file: {raw!r}")
        return None
    return raw


def _sampler(r: EnvReader) -> str:
    name = (r.get("OTEL_TRACES_SAMPLER") or "parentbased_always_on").lower()
    if name not in SAMPLERS:
        r.problem("OTEL_TRACES_SAMPLER", f"want one of {', '.join(SAMPLERS)}, got {name!r}")
        return "parentbased_always_on"
    return name


def _ratio(r: EnvReader) -> float:
    raw = r.get("OTEL_TRACES_SAMPLER_ARG")
    if raw is None or not (r.get("OTEL_TRACES_SAMPLER") or "").lower().endswith("traceidratio"):
        return 1.0
    try:
        ratio = float(raw)
    except ValueError:
        ratio = -1.0
    if not 0.0 <= ratio <= 1.0:
        r.problem("OTEL_TRACES_SAMPLER_ARG", f"want a ratio from 0 to 1, got {raw!r}")
        return 1.0
    return ratio


def _trust(r: EnvReader) -> Literal["anyone", "proxies"]:
    value = (r.get("GATEWAY_TRACE_TRUST") or "anyone").lower()
    if value == "proxies":
        return "proxies"
    if value != "anyone":
        r.problem("GATEWAY_TRACE_TRUST", f"want anyone or proxies, got {value!r}")
    return "anyone"
