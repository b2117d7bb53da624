"""CI runs the benchmark only as this smoke check: every configuration works end to end.

No figure is asserted (the machines are noisy); see docs/performance.md for the real run.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

#: in the "serial" group under pytest-xdist (tests/conftest.py): wrk and callgrind load both cores
pytestmark = pytest.mark.xdist_group("serial")

ROOT = Path(__file__).resolve().parents[2]
TARGETS = {"upstream-direct", "nginx-proxy_pass", "gateway-human", "gateway-machine", "gateway-durably"}


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    missing = [tool for tool in ("nginx", "wrk") if shutil.which(tool) is None]
    assert not missing, f"benchmark tools not installed: {', '.join(missing)} (scripts/setup installs them)"
    out = tmp_path_factory.mktemp("bench") / "results.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert out.is_file(), f"no results written (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr[-4000:]}"
    data: dict[str, Any] = json.loads(out.read_text())
    assert proc.returncode == 0, f"bench.run failed: {data.get('failures')}\n{proc.stdout}"
    return data


@pytest.mark.timeout(300)
def test_every_configuration_ran_without_errors(results: dict[str, Any]) -> None:
    rows = results["configurations"]
    seen = {(r["target"], r["size"], r["connections"]) for r in rows}
    targets = TARGETS | {"nginx-auth_request"}  # the gateway has /decisions: never skipped here
    assert seen == {(t, s, 4) for t in targets for s in ("200B", "64KiB")}
    for row in rows:
        assert row["rps"] > 0, row["name"]
        assert row["errors"] == 0 and row["non_2xx"] == 0, row["name"]
    assert results["ok"] is True and results["failures"] == []


@pytest.mark.timeout(300)
def test_ratios_and_cpu_are_reported(results: dict[str, Any]) -> None:
    for row in results["configurations"]:
        if row["role"] != "direct":
            assert row["share_of_proxy_pass"] is not None and row["share_of_proxy_pass"] > 0, row["name"]
            assert row["share_of_direct"] is not None and row["share_of_direct"] > 0, row["name"]
            assert row["cpu_us_per_request"] is not None and row["cpu_us_per_request"] > 0, row["name"]


@pytest.mark.timeout(300)
def test_extras_ran(results: dict[str, Any]) -> None:
    scaling = results["scaling"]
    assert set(scaling["shapes"]) == {"3-routes-3-tenants", "10000-routes-100-tenants"}
    assert all(shape["rps"] > 0 for shape in scaling["shapes"].values())
    assert scaling["rps_ratio"] is not None
    for kind in ("human", "machine"):
        burst = results["cold_burst"][kind]
        assert burst["ok"] == burst["requests"] == 100
        assert burst["ory_calls"] >= 1
    workers = results["workers"]
    assert all(g["rps"] > 0 and g["cpu_us_per_request"] > 0 for g in workers["gateways"].values())
    assert len(workers["gateways"]) == 2 and workers["cpu_ratio"] is not None
    memory = results["memory"]
    assert memory["bytes"] > 0 and memory["entries_after"] == memory["decisions"]


@pytest.mark.timeout(400)
def test_instruction_counting_works(tmp_path: Path) -> None:
    """`bench.instructions --quick`: the gateway under callgrind, counted between two dumps."""
    assert shutil.which("valgrind") is not None, "valgrind not installed (scripts/setup installs it)"
    out = tmp_path / "instructions.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.instructions", "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=360,
    )
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr[-4000:]}"
    data = json.loads(out.read_text())
    human = data["per_route"]["human"]
    # a cached-session forward is hundreds of thousands of instructions; start-up (hundreds of
    # millions) would show if the counters were not zeroed after it
    assert 50_000 < human["Ir"] < 5_000_000, human
    assert human["Ir_less_idle"] < human["Ir"], human  # the idle loop taken out
    assert data["per_route"]["idle"]["Ir_per_second"] > 0
