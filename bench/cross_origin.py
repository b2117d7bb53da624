"""What the cross-origin stage (gateway.front.cross_origin) adds to a request, in instructions.

    .venv/bin/python -m bench.cross_origin [--iterations 20000]

For each kind of request the stage's real code runs under `valgrind --tool=callgrind`
twice: N times a request built as the pipeline builds it (its header index made, as
authentication makes it anyway) followed by the response start sent through `ex.send`
(`Exchange.send_start`, where the CORS headers are added), once with the stage and once without; the difference
of the two totals over N is what the stage costs per request (start-up is the same in both
and cancels out). Whole requests cost far more (`python -m bench.instructions --shape
small`; figures in docs/performance.md), so this isolates a cost far below that benchmark's
run-to-run noise, and it runs in a minute where a whole
`bench.instructions` run under a loaded machine takes an hour.
"""

from __future__ import annotations

import argparse
import contextvars
import subprocess
import sys
import tempfile
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any

from gateway.config.settings import TracingSettings
from gateway.front.cors import Cors
from gateway.front.cross_origin import CrossOrigin
from gateway.front.exchange import Exchange, Message
from gateway.front.request import RequestView
from gateway.front.trusted_proxies import Origin, TrustedProxies
from gateway.load import load_settings
from gateway.observe.tracing import Tracing
from gateway.policy.model import Forward, Requirement, Route
from gateway.policy.pattern import parse_pattern
from tests.support.seed import gateway_env

TRACING = Tracing(TracingSettings(), TrustedProxies(()))

OWN = b"http://127.0.0.1:8080"
COOKIE = (b"cookie", b"ory_session_customer=" + b"x" * 120)
BEARER = (b"authorization", b"Bearer ory_st_" + b"a" * 32)
KINDS: dict[str, tuple[str, list[tuple[bytes, bytes]]]] = {
    "bearer-get": ("GET", [BEARER, (b"accept", b"application/json")]),
    "bearer-post": ("POST", [BEARER, (b"content-type", b"application/json")]),
    "cookie-get": ("GET", [COOKIE, (b"accept", b"application/json"), (b"sec-fetch-site", b"same-origin")]),
    "cookie-post-same-origin": (
        "POST",
        [COOKIE, (b"content-type", b"application/json"), (b"origin", OWN), (b"sec-fetch-site", b"same-origin")],
    ),
    "cookie-post-old-browser": ("POST", [COOKIE, (b"content-type", b"application/json"), (b"origin", OWN)]),
}


async def _sink(message: Message) -> None:
    return None


async def _nothing() -> Message:
    return {"type": "http.disconnect"}


def _run(kind: str, iterations: int, with_stage: bool) -> None:
    settings = load_settings(gateway_env(8080, "http://127.0.0.1:1", "http://127.0.0.1:2", "http://127.0.0.1:3"))
    stage = CrossOrigin(settings, Cors(settings))
    human = (Requirement("human"),)
    route = Route(
        "customer:r", "customer", parse_pattern("/r"), frozenset({"GET", "POST"}), human, False, Forward("jobs")
    )
    method, headers = KINDS[kind]
    where = Origin("127.0.0.1", "http", "127.0.0.1:8080", "rid", "127.0.0.1")
    for _ in range(iterations):
        request = RequestView(method, "/customer/r", b"", headers, "127.0.0.1", "rid", "127.0.0.1:8080")
        request.header(b"authorization")  # the index authentication builds anyway
        ex = Exchange(
            {"type": "http"},
            _nothing,
            _sink,
            request,
            where,
            b"/customer/r",
            contextvars.Context().run(TRACING.begin, request, ""),
        )
        if with_stage:
            stage.check(ex, "customer", route)
        sending: Coroutine[Any, Any, None] = ex.send_start(200, [(b"content-type", b"application/json")])
        try:  # noqa: SIM105 (cheaper than contextlib.suppress: this loop is what is measured)
            sending.send(None)
        except StopIteration:
            pass


def _count(kind: str, iterations: int, with_stage: bool, workdir: Path) -> int:
    out = workdir / f"{kind}-{iterations}-{with_stage}.out"
    args = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, "-m", "bench.cross_origin"]
    args += ["--inner", kind, str(iterations), "1" if with_stage else "0"]
    subprocess.run(args, check=True, capture_output=True)
    for line in out.read_text().splitlines():
        if line.startswith("totals:") or line.startswith("summary:"):
            return int(line.split()[1])
    raise RuntimeError(f"{out}: no totals")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.cross_origin", description=__doc__.split("\n\n")[0])
    p.add_argument("--iterations", type=int, default=5000)
    p.add_argument("--inner", nargs=3, metavar=("KIND", "N", "STAGE"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.inner:
        kind, n, stage = args.inner
        _run(kind, int(n), stage == "1")
        return 0
    with tempfile.TemporaryDirectory(prefix="cross-origin-") as tmp:
        for kind in KINDS:
            without = _count(kind, args.iterations, False, Path(tmp))
            with_ = _count(kind, args.iterations, True, Path(tmp))
            print(f"{kind:26s} {(with_ - without) / args.iterations:>8,.0f} instructions/request", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
