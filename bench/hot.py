"""Quick hot-path check for developers: CPU per request of the gateway vs nginx proxy_pass.

    .venv/bin/python -m bench.hot [--duration 5] [--connections 32] [--repeat 2]

CPU per request (from /proc, utime + stime) does not depend on what else the machine
runs, so it is the figure to compare before and after a hot-path change. The full,
interleaved benchmark is `python -m bench.run`.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from bench.world import start_backends, start_world
from bench.wrk import run_wrk

NAMES = ("nginx-proxy_pass", "gateway-human", "gateway-machine", "gateway-durably")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        start_backends(Path(tmp)) as backends,
        start_world(Path(tmp), backends) as world,
    ):
        targets = {t.name: t for t in world.targets() if t.name in NAMES}
        for name in NAMES:
            target = targets[name]
            run_wrk(target.urls["200B"], target.headers, args.connections, 1, target.cpu_pids)  # warm-up
            samples = [
                run_wrk(target.urls["200B"], target.headers, args.connections, args.duration, target.cpu_pids)
                for _ in range(args.repeat)
            ]
            cpu = statistics.median(s.cpu_us or 0.0 for s in samples)
            rps = statistics.median(s.rps for s in samples)
            print(f"{name:20s} {rps:10.0f} rps  {cpu:8.1f} us CPU/request", flush=True)


if __name__ == "__main__":
    main()
