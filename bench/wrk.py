"""One wrk run, pinned to cpu0, with the proxy's own CPU time measured around it."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.procs import cpu_seconds, pinned

SCRIPT = Path(__file__).resolve().parent / "summary.lua"
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s*(\d+)")


@dataclass(frozen=True)
class Sample:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    non_2xx: int
    #: CPU seconds the proxy under test spent per request, in microseconds (None: not measured)
    cpu_us: float | None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def run_wrk(
    url: str,
    headers: Sequence[tuple[str, str]],
    connections: int,
    duration: float,
    cpu_pids: Sequence[int] = (),
    cpu: int = 0,
) -> Sample:
    args = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "--latency", "-s", str(SCRIPT)]
    for name, value in headers:
        args += ["-H", f"{name}: {value}"]
    before = cpu_seconds(cpu_pids) if cpu_pids else 0.0
    out = subprocess.run(pinned(cpu, [*args, url]), capture_output=True, text=True, timeout=duration + 60)
    after = cpu_seconds(cpu_pids) if cpu_pids else 0.0
    if out.returncode != 0:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stderr.strip() or out.stdout.strip()}")
    return parse(out.stdout, (after - before) if cpu_pids else None)


def parse(stdout: str, cpu: float | None) -> Sample:
    line = next((ln for ln in stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{stdout}")
    s = json.loads(line.removeprefix("BENCH_JSON "))
    found = _NON_2XX.search(stdout)
    non_2xx = int(found.group(1)) if found else 0
    requests, seconds = int(s["requests"]), s["duration_us"] / 1e6
    errors = sum(int(s[k]) for k in ("connect", "read", "write", "status", "timeout"))
    return Sample(
        requests=requests,
        seconds=round(seconds, 3),
        rps=round(requests / seconds, 1) if seconds else 0.0,
        p50_ms=s["p50_us"] / 1000,
        p99_ms=s["p99_us"] / 1000,
        errors=errors,
        non_2xx=non_2xx,
        cpu_us=round(cpu / requests * 1e6, 1) if cpu is not None and requests else None,
    )
