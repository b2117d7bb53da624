"""Reloads of a running gateway (under uvicorn): a change is served without a restart, a broken
change keeps the serving set, and a reload (SIGHUP) of 10,000 routes does not stop serving."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.support.builders import env as policy_env
from tests.support.polling import eventually
from tests.support.processes import Proc, Recorder, gateway_process, recording_upstream

#: in the "serial" group under pytest-xdist (tests/conftest.py): 10,000 routes loaded twice, answers within 2 s
pytestmark = pytest.mark.xdist_group("serial")

ANONYMOUS: dict[str, object] = {"methods": ["GET"], "allow": "anonymous", "forward": {"upstream": "jobs"}}


def write_routes(directory: Path, paths: list[str], fillers: int = 0) -> None:
    routes = [{"id": f"r{i}", "path": path, **ANONYMOUS} for i, path in enumerate(paths)]
    routes += [{"id": f"filler{i}", "path": f"/svc{i}/items/{{id}}", **ANONYMOUS} for i in range(fillers)]
    (directory / "customer.yaml").write_text(json.dumps({"tenant": "customer", "routes": routes}))


@pytest.fixture(scope="module")
def upstream() -> Iterator[Recorder]:
    with recording_upstream() as recorder:
        yield recorder


@contextmanager
def start(directory: Path, upstream: Recorder) -> Iterator[Proc]:
    env = policy_env(GATEWAY_UPSTREAM_JOBS_URL=upstream.url, GATEWAY_POLICIES_DIR=str(directory))
    with gateway_process(env, timeout=120) as proc:  # 10,000 routes take seconds to load
        yield proc


def test_a_changed_folder_is_served_without_a_restart_and_a_broken_one_is_refused(
    tmp_path: Path, upstream: Recorder
) -> None:
    write_routes(tmp_path, ["/one"])
    with start(tmp_path, upstream) as proc:
        assert httpx.get(proc.url + "/customer/two").status_code == 404
        write_routes(tmp_path, ["/one", "/two"])
        eventually(lambda: httpx.get(proc.url + "/customer/two", timeout=5).status_code == 200, timeout=30)
        upstream.clear()
        (tmp_path / "broken.yaml").write_text("tenant: [customer\n")
        eventually(lambda: "policy reload rejected" in proc.output(), timeout=30, what=proc.output)
        assert "policy reload rejected, keeping the previous set" in proc.output()
        assert "broken.yaml" in proc.output()
        assert httpx.get(proc.url + "/customer/two").status_code == 200
        assert [r["target"] for r in upstream.requests()] == ["/two"]


def test_sighup_reloads_ten_thousand_routes_while_requests_are_answered(tmp_path: Path, upstream: Recorder) -> None:
    write_routes(tmp_path, ["/probe"], fillers=10_000)
    with start(tmp_path, upstream) as proc:
        upstream.clear()
        write_routes(tmp_path, ["/probe", "/after"], fillers=10_000)
        proc.process.send_signal(signal.SIGHUP)
        answered_during_reload = 0
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            # the event loop must not wait for the load: each answer well within the timeout
            assert httpx.get(proc.url + "/customer/probe", timeout=2).status_code == 200
            if httpx.get(proc.url + "/customer/after", timeout=2).status_code == 200:
                break
            answered_during_reload += 1
        assert httpx.get(proc.url + "/customer/after").status_code == 200
        assert answered_during_reload >= 1  # the probes really ran while the new set was loading
        targets = [r["target"] for r in upstream.requests()]
        assert targets.count("/probe") == answered_during_reload + 1 and targets[-1] == "/after"
