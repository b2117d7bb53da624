"""Slow-body flood: thousands of connections trickle request bodies while a normal request
is timed, against a real gateway in front of the recording upstream.

    .venv/bin/python -m tests.robustness.flood [--connections 2000] [--body-timeout 30]

Each flooding connection sends a head announcing a body, then one byte of it per second
(nine in ten a `Content-Length` body the gateway reads into memory, one in ten a chunked
body it streams upstream). Meanwhile a probe sends `GET /customer/p/probe` (forwarded to the
upstream) on a fresh connection every 0.25 s. Reported: how each flooding connection ended
(408 and closed, closed without an answer, still open), when (seconds after its head), the
probe's worst and median latency, the gateway's RSS before, at its peak and after, and what
the upstream received (no flooding request may arrive complete). `run()` is what
tests/robustness/test_slow_bodies.py calls with a short deadline; the script prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import multiprocessing
import os
import resource
import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tests.robustness.support import policies_dir, rss_kib, socket_count
from tests.support.processes import Proc, Recorder, free_port, gateway_process, recording_upstream
from tests.support.rawhttp import connect
from tests.support.seed import gateway_env

PROBE_EVERY = 0.25
CLK_TCK = os.sysconf("SC_CLK_TCK")
#: a dead address for Ory and the unused upstreams: the flood's routes are anonymous
NOWHERE = "http://127.0.0.1:9"


@dataclass
class Report:
    connections: int
    body_timeout: float
    opened: int
    answered_408: int
    closed_without_answer: int
    still_open: int
    other_answers: dict[str, int]
    seconds_to_end: dict[str, float]
    probes: int
    probe_failures: int
    probe_max_ms: float
    probe_p50_ms: float
    gateway_cpu_seconds: float
    rss_before_mib: float
    rss_peak_mib: float
    rss_after_mib: float
    rss_per_connection_kib: float
    sockets_before: int
    sockets_after: int
    upstream_complete: int
    upstream_aborted: int


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def raise_open_files(wanted: int) -> int:
    """Raise this process's soft RLIMIT_NOFILE towards `wanted` (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        soft = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return soft


@contextmanager
def flood_gateway(body_timeout: float) -> Iterator[tuple[Proc, Recorder]]:
    """The gateway (shipped + robustness policies: anonymous `/customer/p/**` to `rec`)."""
    with recording_upstream() as rec, policies_dir() as folder:
        env = gateway_env(free_port(), NOWHERE, rec.url, rec.url)
        env.pop("GATEWAY_LISTEN")
        env |= {
            "GATEWAY_POLICIES_DIR": str(folder),
            "GATEWAY_UPSTREAM_REC_URL": rec.url,
            "GATEWAY_UPSTREAM_FAULTY_URL": NOWHERE,
            "GATEWAY_BODY_TIMEOUT": f"{body_timeout:g}",
            "GATEWAY_HEADER_TIMEOUT": f"{min(body_timeout, 10.0):g}",
            "GATEWAY_LOG_LEVEL": "WARNING",  # 2,000 access lines are not the point
        }
        with gateway_process(env, timeout=60) as proc:
            yield proc, rec


class Trickler:
    """One flooding connection: a head announcing a body, then what `tick` sends of it."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.chunked = index % 10 == 0
        self.outcome = "not opened"
        self.ended_after: float | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def run(self, host: str, port: int) -> None:
        try:
            reader, self.writer = await asyncio.open_connection(host, port)
        except OSError as exc:
            self.outcome = f"connect failed: {exc.__class__.__name__}"
            return
        framing = "Transfer-Encoding: chunked" if self.chunked else "Content-Length: 4096"
        head = f"POST /customer/p/flood/{self.index} HTTP/1.1\r\nHost: gw.test\r\n{framing}\r\n\r\n"
        started = time.monotonic()
        self.outcome = "still open"
        try:
            self.writer.write(head.encode())
            answer = await reader.read(65536)  # the tick sends the body; this waits for the end
            self.outcome = _outcome(answer)
        except OSError:
            self.outcome = "closed without an answer"
        finally:
            self.ended_after = time.monotonic() - started
            writer, self.writer = self.writer, None
            writer.close()

    def tick(self) -> None:
        """One more byte of the body (a one-byte chunk when chunked)."""
        if self.writer is not None and not self.writer.is_closing():
            self.writer.write(b"1\r\nx\r\n" if self.chunked else b"x")


def _outcome(answer: bytes) -> str:
    if not answer:
        return "closed without an answer"
    return "408" if answer.startswith(b"HTTP/1.1 408 ") else answer[:12].decode("latin-1")


async def _trickle(url: str, connections: int, seconds: float) -> list[Trickler]:
    """Open the connections in batches (the listen backlog is finite), then a byte each per
    second until every one has ended or `seconds` have passed (the script's own bound)."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    tricklers = [Trickler(i) for i in range(connections)]
    until = time.monotonic() + seconds
    runs = []
    for batch in range(0, connections, 100):
        runs += [asyncio.ensure_future(t.run(host, int(port))) for t in tricklers[batch : batch + 100]]
        await asyncio.sleep(0.05)
    while time.monotonic() < until and not all(r.done() for r in runs):
        await asyncio.wait(runs, timeout=1.0, return_when=asyncio.ALL_COMPLETED)
        for t in tricklers:
            t.tick()
    for r in runs:
        r.cancel()
    await asyncio.gather(*runs, return_exceptions=True)
    return tricklers


def _flood_process(url: str, connections: int, seconds: float, out: Any) -> None:
    """Runs in a child process, so the probe's latency is the gateway's, not this loop's."""
    tricklers = asyncio.run(_trickle(url, connections, seconds))
    out.put([(t.outcome, t.ended_after) for t in tricklers])


def _probe(url: str, until: float) -> tuple[list[float], list[str]]:
    """A forwarded request on a fresh connection every PROBE_EVERY seconds: latencies, failures."""
    latencies: list[float] = []
    failures: list[str] = []
    request = b"GET /customer/p/probe HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n"
    while time.monotonic() < until:
        started = time.monotonic()
        try:
            with connect(url, timeout=5) as sock:
                sock.sendall(request)
                answer = sock.recv(65536)
            if not answer.startswith(b"HTTP/1.1 200 "):
                failures.append(answer[:40].decode("latin-1"))
        except OSError as exc:
            failures.append(exc.__class__.__name__)
        latencies.append(time.monotonic() - started)
        time.sleep(PROBE_EVERY)
    return latencies, failures


def run(connections: int = 2000, body_timeout: float = 30.0) -> Report:
    raise_open_files(connections * 2 + 500)
    with flood_gateway(body_timeout) as (gateway, rec):
        pid = gateway.process.pid
        time.sleep(0.5)
        rss_before, sockets_before, cpu_before = rss_kib(pid), socket_count(pid), cpu_seconds(pid)
        seconds = connections / 1000 + body_timeout + 30  # the ramp, the deadline, and a bound
        out: multiprocessing.Queue[list[tuple[str, float | None]]] = multiprocessing.Queue()
        flood = multiprocessing.Process(target=_flood_process, args=(gateway.url, connections, seconds, out))
        flood.start()
        rss = [rss_before]
        probe_until = time.monotonic() + connections / 1000 + body_timeout + 1  # the flood's span
        probing = concurrent.futures.ThreadPoolExecutor(1).submit(_probe, gateway.url, probe_until)
        while flood.is_alive() and out.empty():
            rss.append(rss_kib(pid))
            time.sleep(0.2)
        ended = out.get(timeout=60)
        flood.join(10)
        latencies, failures = probing.result()
        cpu = cpu_seconds(pid) - cpu_before
        time.sleep(1.5)  # lingering closes end 1 s after their answer
        rss_after, sockets_after = rss_kib(pid), socket_count(pid)
        flooded = [r for r in rec.requests() if "/flood/" in r["target"]]
    outcomes = Counter(outcome for outcome, _ in ended)
    ends = sorted(after for _, after in ended if after is not None)
    latencies.sort()
    return Report(
        connections=connections,
        body_timeout=body_timeout,
        opened=connections - sum(n for k, n in outcomes.items() if k.startswith("connect failed")),
        answered_408=outcomes.pop("408", 0),
        closed_without_answer=outcomes.pop("closed without an answer", 0),
        still_open=outcomes.pop("still open", 0),
        other_answers=dict(outcomes),
        seconds_to_end=_spread(ends),
        probes=len(latencies),
        probe_failures=len(failures),
        probe_max_ms=round(1000 * latencies[-1], 1) if latencies else -1.0,
        probe_p50_ms=round(1000 * statistics.median(latencies), 1) if latencies else -1.0,
        gateway_cpu_seconds=round(cpu, 2),
        rss_before_mib=round(rss_before / 1024, 1),
        rss_peak_mib=round(max(rss) / 1024, 1),
        rss_after_mib=round(rss_after / 1024, 1),
        rss_per_connection_kib=round((max(rss) - rss_before) / connections, 1),
        sockets_before=sockets_before,
        sockets_after=sockets_after,
        upstream_complete=sum(1 for r in flooded if r["complete"]),
        upstream_aborted=sum(1 for r in flooded if not r["complete"]),
    )


def _spread(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    return {
        "min": round(values[0], 2),
        "median": round(statistics.median(values), 2),
        "max": round(values[-1], 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.robustness.flood", description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--body-timeout", type=float, default=30.0, help="GATEWAY_BODY_TIMEOUT for the gateway")
    args = parser.parse_args(argv)
    report = run(args.connections, args.body_timeout)
    print(json.dumps(asdict(report), indent=2))
    ok = report.answered_408 == report.connections and report.probe_max_ms < 1000 and not report.upstream_complete
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
