"""The per-request counters are rendered exactly as prometheus_client's own would be."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from gateway.observe.metrics import LATENCY, Counts, Histograms

OBSERVED = [0.0004, 0.001, 0.0031, 0.2, 0.2, 29.9, 30.0, 45.0]


def test_counts_render_like_a_counter() -> None:
    ours, theirs = CollectorRegistry(auto_describe=False), CollectorRegistry(auto_describe=False)
    counts = Counts("gateway_requests", "Requests", ("tenant", "rule", "decision", "status"))
    ours.register(counts)
    counter = Counter("gateway_requests", "Requests", ["tenant", "rule", "decision", "status"], registry=theirs)
    for key in [("customer", "customer:r", "allow", 200)] * 3 + [("", "", "deny", 404), ("dealer", "d:x", "deny", 401)]:
        counts.inc(key)
        counter.labels(*(str(v) for v in key)).inc()
    assert generate_latest(ours) == _without_created(generate_latest(theirs))


def test_histograms_render_like_a_histogram() -> None:
    ours, theirs = CollectorRegistry(auto_describe=False), CollectorRegistry(auto_describe=False)
    histograms = Histograms("gateway_request_duration_seconds", "Whole request", ("tenant", "rule"))
    ours.register(histograms)
    histogram = Histogram(
        "gateway_request_duration_seconds", "Whole request", ["tenant", "rule"], buckets=LATENCY, registry=theirs
    )
    for i, seconds in enumerate(OBSERVED):
        key = ("customer", f"customer:r{i % 2}")
        histograms.observe(key, seconds)
        histogram.labels(*key).observe(seconds)
    assert generate_latest(ours) == _without_created(generate_latest(theirs))


def _without_created(text: bytes) -> bytes:
    """The gateway switches `_created` series off (`disable_created_metrics`)."""
    return b"".join(line for line in text.splitlines(keepends=True) if b"_created" not in line)
