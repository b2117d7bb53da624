"""Tracing settings from the standard OTEL_* variables: read and checked once, one line per problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config.problems import ConfigError
from gateway.config.settings import TracingSettings
from gateway.config.view import redacted
from gateway.load import load_settings

BASE = {
    "GATEWAY_TENANTS": "customer",
    "GATEWAY_TENANT_CUSTOMER_MODE": "self-hosted",
    "GATEWAY_TENANT_CUSTOMER_KRATOS_PUBLIC_URL": "http://kratos:4433",
}


def tracing(**env: str) -> TracingSettings:
    return load_settings(BASE | env).tracing


def problems(**env: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_settings(BASE | env)
    return caught.value.problems


def test_export_is_off_without_an_endpoint_and_the_defaults_are_the_specifications() -> None:
    settings = tracing()
    assert settings == TracingSettings()
    assert settings.endpoint is None
    assert (settings.sampler, settings.trust, settings.service_name) == (
        "parentbased_always_on",
        "anyone",
        "ory-gateway",
    )
    assert (settings.timeout, settings.schedule_delay, settings.max_queue, settings.max_batch) == (10.0, 5.0, 2048, 512)


def test_the_base_endpoint_gets_the_traces_path_and_the_traces_endpoint_is_used_as_is() -> None:
    assert tracing(OTEL_EXPORTER_OTLP_ENDPOINT="http://collector:4318/").endpoint == "http://collector:4318/v1/traces"
    assert (
        tracing(OTEL_EXPORTER_OTLP_ENDPOINT="https://otlp.example/base").endpoint
        == "https://otlp.example/base/v1/traces"
    )
    both = tracing(
        OTEL_EXPORTER_OTLP_ENDPOINT="http://collector:4318",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="http://traces:9999/custom/path",
    )
    assert both.endpoint == "http://traces:9999/custom/path"
    assert tracing(OTEL_TRACES_EXPORTER="otlp").endpoint == "http://localhost:4318/v1/traces"


def test_disabled_or_exporter_none_turns_export_off() -> None:
    assert tracing(OTEL_EXPORTER_OTLP_ENDPOINT="http://c:4318", OTEL_SDK_DISABLED="true").endpoint is None
    assert tracing(OTEL_EXPORTER_OTLP_ENDPOINT="http://c:4318", OTEL_TRACES_EXPORTER="none").endpoint is None
    assert tracing(OTEL_EXPORTER_OTLP_ENDPOINT="http://c:4318", OTEL_SDK_DISABLED="false").endpoint is not None


def test_every_setting_is_read_traces_specific_first(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-")
    settings = tracing(
        OTEL_EXPORTER_OTLP_ENDPOINT="http://c:4318",
        OTEL_EXPORTER_OTLP_HEADERS="x-general=1",
        OTEL_EXPORTER_OTLP_TRACES_HEADERS="X-Honeycomb-Team=abc%3D%3D, x-dataset = gw ",
        OTEL_EXPORTER_OTLP_TIMEOUT="2500",
        OTEL_EXPORTER_OTLP_TRACES_COMPRESSION="gzip",
        OTEL_EXPORTER_OTLP_CERTIFICATE=str(ca),
        OTEL_SERVICE_NAME="edge",
        OTEL_RESOURCE_ATTRIBUTES="service.name=ignored,deployment.environment=prod%20eu",
        OTEL_TRACES_SAMPLER="parentbased_traceidratio",
        OTEL_TRACES_SAMPLER_ARG="0.1",
        OTEL_BSP_SCHEDULE_DELAY="200",
        OTEL_BSP_MAX_QUEUE_SIZE="100",
        OTEL_BSP_MAX_EXPORT_BATCH_SIZE="10",
        OTEL_BSP_EXPORT_TIMEOUT="1500",
        OTEL_PROPAGATORS="tracecontext,baggage",
        GATEWAY_TRACE_TRUST="proxies",
    )
    assert settings.headers == (("x-honeycomb-team", "abc=="), ("x-dataset", "gw"))
    assert (settings.timeout, settings.compression, settings.certificate) == (2.5, "gzip", str(ca))
    assert settings.service_name == "edge"  # OTEL_SERVICE_NAME wins over the resource attribute
    assert ("deployment.environment", "prod eu") in settings.resource
    assert (settings.sampler, settings.ratio) == ("parentbased_traceidratio", 0.1)
    assert (settings.schedule_delay, settings.max_queue, settings.max_batch, settings.export_timeout) == (
        0.2,
        100,
        10,
        1.5,
    )
    assert settings.trust == "proxies"
    assert tracing(OTEL_RESOURCE_ATTRIBUTES="service.name=from-resource").service_name == "from-resource"


def test_every_problem_is_one_line_naming_its_variable(tmp_path: Path) -> None:
    found = problems(
        OTEL_EXPORTER_OTLP_ENDPOINT="collector:4318",
        OTEL_EXPORTER_OTLP_PROTOCOL="grpc",
        OTEL_EXPORTER_OTLP_HEADERS="novalue",
        OTEL_EXPORTER_OTLP_TIMEOUT="10",
        OTEL_EXPORTER_OTLP_COMPRESSION="brotli",
        OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE=str(tmp_path / "missing.pem"),
        OTEL_TRACES_SAMPLER="jaeger_remote",
        OTEL_TRACES_EXPORTER="zipkin",
        OTEL_SDK_DISABLED="maybe",
        OTEL_BSP_MAX_QUEUE_SIZE="0",
        OTEL_BSP_SCHEDULE_DELAY="soon",
        OTEL_PROPAGATORS="b3",
        GATEWAY_TRACE_TRUST="everyone",
    )
    named = [p.split(":", 1)[0] for p in found]
    assert named == sorted(set(named), key=named.index)  # one line per problem
    assert set(named) == {
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_EXPORTER_OTLP_HEADERS",
        "OTEL_EXPORTER_OTLP_TIMEOUT",
        "OTEL_EXPORTER_OTLP_COMPRESSION",
        "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
        "OTEL_TRACES_SAMPLER",
        "OTEL_TRACES_EXPORTER",
        "OTEL_SDK_DISABLED",
        "OTEL_BSP_MAX_QUEUE_SIZE",
        "OTEL_BSP_SCHEDULE_DELAY",
        "OTEL_PROPAGATORS",
        "GATEWAY_TRACE_TRUST",
    }
    assert any("milliseconds" in p for p in found if p.startswith("OTEL_EXPORTER_OTLP_TIMEOUT"))


def test_a_client_certificate_needs_its_key(tmp_path: Path) -> None:
    cert = tmp_path / "client.pem"
    cert.write_text("-")
    assert problems(OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE=str(cert)) == [
        "OTEL_EXPORTER_OTLP_CLIENT_KEY: a client certificate and its key go together: set both or neither"
    ]


def test_a_ratio_out_of_range_and_a_batch_larger_than_the_queue_are_refused() -> None:
    assert problems(OTEL_TRACES_SAMPLER="traceidratio", OTEL_TRACES_SAMPLER_ARG="1.5") == [
        "OTEL_TRACES_SAMPLER_ARG: want a ratio from 0 to 1, got '1.5'"
    ]
    assert problems(OTEL_BSP_MAX_QUEUE_SIZE="10", OTEL_BSP_MAX_EXPORT_BATCH_SIZE="20") == [
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE: 20 is more than OTEL_BSP_MAX_QUEUE_SIZE (10)"
    ]


def test_check_shows_whether_spans_are_exported_and_where_without_header_values() -> None:
    off = redacted(load_settings(BASE))["tracing"]
    assert isinstance(off, dict) and str(off["export"]).startswith("off")
    on = redacted(
        load_settings(
            BASE
            | {
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
                "OTEL_EXPORTER_OTLP_HEADERS": "x-api-key=very-secret-key",
                "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
                "OTEL_TRACES_SAMPLER_ARG": "0.1",
            }
        )
    )["tracing"]
    assert on == {
        "export": "http://collector:4318/v1/traces",
        "sampler": "parentbased_traceidratio 0.1",
        "traceparent_from": "anyone",
        "protocol": "http/protobuf",
        "service_name": "ory-gateway",
        "headers": {"x-api-key": "***"},
    }
