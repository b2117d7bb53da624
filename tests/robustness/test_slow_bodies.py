"""The slow-body flood (tests.robustness.flood), short form: 2,000 connections trickling
bodies at one byte a second against a 3 s GATEWAY_BODY_TIMEOUT. Every one is answered 408
and closed, nothing reaches the upstream complete, a normal request is answered within 1 s
throughout, and memory is bounded. The long form: `python -m tests.robustness.flood`."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest

from tests.robustness.flood import run

#: in the "serial" group under pytest-xdist (tests/conftest.py): 2,000 connections; a latency bound
pytestmark = pytest.mark.xdist_group("serial")


def test_two_thousand_trickled_bodies_are_cut_off_while_others_are_served() -> None:
    report = run(connections=2000, body_timeout=3.0)
    print("FLOOD", json.dumps(asdict(report)))
    assert report.opened == 2000
    assert report.answered_408 == 2000, asdict(report)
    # all ended (the deadline's precision is tests/server/test_body_deadline.py's: here the
    # client's own clock starts late when 2,000 connections open at once)
    assert report.seconds_to_end["max"] < 3.0 + 10.0, report.seconds_to_end
    assert report.upstream_complete == 0
    assert report.probes >= 8 and report.probe_failures == 0
    assert report.probe_max_ms < 1000, report.probe_max_ms
    assert report.rss_per_connection_kib < 64, report.rss_peak_mib
    assert report.sockets_after <= report.sockets_before + 4
