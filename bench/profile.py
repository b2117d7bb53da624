"""Profile the gateway's hot path with py-spy while wrk drives one configuration.

    .venv/bin/pip install py-spy          # a local tool, not a project dependency
    .venv/bin/python -m bench.profile [--duration 10] [--connections 32] [--target gateway-human]
        [--size 200B] [--raw /tmp/profile.txt]

Same world as bench.run (gateway on cpu1, wrk and nginx on cpu0). py-spy samples the
gateway process (`record --format raw`, collapsed stacks); the summary lists functions
by self time, by inclusive time, and self time by package.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from bench.world import SIZES, start_backends, start_world
from bench.wrk import run_wrk

_FRAME_FILE = ("site-packages/", "lib/python3")
LOOP_FRAME = "Server.run (uvicorn/server.py"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=int, default=10)
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--target", default="gateway-human", help="a bench.run configuration, or gateway-decisions")
    p.add_argument("--size", choices=SIZES, default="200B")
    p.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    p.add_argument("--raw", type=Path, default=Path("/tmp/profile.txt"), help="collapsed stacks written here")
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--summarise", type=Path, default=None, help="only summarise an existing raw file")
    return p.parse_args(argv)


def function(frame: str) -> str:
    """`name (path/to/file.py:123)` -> `name (file.py)`, shortened to the package-relative path."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in _FRAME_FILE:
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{name} ({path.removeprefix('/work/main/')})"


def package(frame: str) -> str:
    path = function(frame).rsplit(" (", 1)[1].rstrip(")")
    if path.startswith("gateway/"):
        return path.rsplit("/", 1)[0] + "/" + path.rsplit("/", 1)[1]
    return path.split("/", 1)[0].split(".", 1)[0] if "/" in path else path


def summarise(raw: str, top: int) -> str:
    """Only the event loop's thread counts (an idle thread-pool worker blocked in C looks busy)."""
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    by_package: Counter[str] = Counter()
    total = other = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        if LOOP_FRAME not in stack:
            other += count
            continue
        frames = [f for f in stack.split(";") if f and not f.startswith("process ") and not f.startswith("thread ")]
        if not frames:
            continue
        total += count
        self_time[function(frames[-1])] += count
        by_package[package(frames[-1])] += count
        for name in {function(f) for f in frames}:
            inclusive[name] += count
    return "\n".join(
        [
            f"{total} samples of the event-loop thread ({other} of other threads left out)",
            _section("self time by function", self_time, total, top),
            _section("inclusive time by function", inclusive, total, top),
            _section("self time by file / package", by_package, total, top),
        ]
    )


def _section(title: str, counts: Counter[str], total: int, top: int) -> str:
    lines = [f"\n== {title} =="]
    lines += [f"{100 * n / total:5.1f}%  {name}" for name, n in counts.most_common(top)]
    return "\n".join(lines)


def record(pid: int, seconds: int, rate: int, out: Path) -> subprocess.Popen[bytes]:
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    args = [spy, "record", "-p", str(pid), "-d", str(seconds), "-r", str(rate), "--format", "raw", "-o", str(out)]
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.summarise is not None:
        print(summarise(args.summarise.read_text(), args.top))
        return 0
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="gateway-profile-")))
        world = stack.enter_context(start_world(tmp, stack.enter_context(start_backends(tmp))))
        target = next(t for t in [*world.targets(), world.decisions_target()] if t.name == args.target)
        url = target.urls[args.size]
        run_wrk(url, target.headers, args.connections, 2)  # warm: credentials cached, pools open
        load = threading.Thread(target=run_wrk, args=(url, target.headers, args.connections, args.duration + 3))
        load.start()
        spy = record(world.gateway.pid, args.duration, args.rate, args.raw)
        _, err = spy.communicate()
        load.join()
        if spy.returncode != 0:
            print(f"py-spy failed: {err.decode(errors='replace')}", file=sys.stderr)
            return 1
    print(f"profile of {args.target} {args.size} c{args.connections}, {args.duration} s; raw stacks in {args.raw}")
    print(summarise(args.raw.read_text(), args.top))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
