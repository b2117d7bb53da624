"""nginx as the benchmark's upstream (fixed bodies) and as the proxy_pass reference.

Each instance runs as the current user from its own prefix directory: own config,
pid file, error log and temp paths, `daemon off` so it is an ordinary child process.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
from dataclasses import dataclass
from pathlib import Path

from bench.procs import Child, children, pinned, spawn, wait_http
from tests.support.processes import free_port

SMALL = 200
LARGE = 64 << 10
#: the run the Durably list returns, labelled for alice (customer tenant, org-acme)
RUN_LABELS = {"organizationId": "org-acme", "tenant": "customer"}

_COMMON = """
{user}worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {dir}/tmp/body;
  proxy_temp_path {dir}/tmp/proxy;
  fastcgi_temp_path {dir}/tmp/fastcgi;
  uwsgi_temp_path {dir}/tmp/uwsgi;
  scgi_temp_path {dir}/tmp/scgi;
  default_type application/json;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_timeout 120s;
  keepalive_requests 10000000;
  etag off;
{body}
}}
"""

_UPSTREAM = """
  map $arg_bench $runs_size {{ default small; large large; }}
  server {{
    listen 127.0.0.1:{port} backlog=4096;
    root {dir}/www;
    location = /bench/small {{ try_files /small.json =500; }}
    location = /bench/permitted {{ try_files /small.json =500; }}
    location = /bench/large {{ try_files /large.json =500; }}
    location = /partner-api/inventory {{ try_files /small.json =500; }}
    location = /api/durably/runs {{ try_files /runs-$runs_size.json =500; }}
    location / {{ return 404 '{{"error":"not_found"}}'; }}
  }}
"""

_ORIGIN = """
  upstream origin {{ server 127.0.0.1:{upstream}; keepalive 64; }}
  proxy_http_version 1.1;
  proxy_set_header Connection "";
  proxy_buffer_size 16k;
  proxy_buffers 8 16k;
"""

_PROXY = """
  server {{
    listen 127.0.0.1:{port} backlog=4096;
    location / {{ proxy_pass http://origin; }}
  }}
"""

#: nginx auth_request in front of the gateway's /decisions: the shipped recipe, its addresses replaced
FORWARD_AUTH = Path(__file__).resolve().parents[1] / "deploy" / "forward-auth" / "nginx.conf"


@dataclass
class Nginx:
    child: Child
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def workers(self) -> list[int]:
        return children(self.child.pid)

    def stop(self) -> None:
        self.child.stop()


def small_body() -> bytes:
    items = [{"sku": f"BR-{1000 + i}", "name": "brake pads", "qty": 12 + i} for i in range(3)]
    return _pad({"items": items, "count": 3, "next": None}, SMALL)


def large_body() -> bytes:
    items = [{"sku": f"BR-{1000 + i}", "name": "brake pads, ceramic, front axle", "qty": i} for i in range(900)]
    return _pad({"items": items, "count": len(items)}, LARGE)


def run(i: int) -> dict[str, object]:
    stamp = "2025-01-01T00:00:00.000Z"
    return {
        "id": f"run-{i:06d}",
        "jobName": "bench",
        "status": "completed",
        "labels": RUN_LABELS,
        "createdAt": stamp,
        "updatedAt": stamp,
    }


def runs_body(size: int) -> bytes:
    """A JSON array of runs, all the caller's (the gateway keeps every item), close to `size` bytes."""
    runs = [run(0)]
    while len(json.dumps([*runs, run(len(runs))], separators=(",", ":"))) <= size:
        runs.append(run(len(runs)))
    return json.dumps(runs, separators=(",", ":")).encode()


def _pad(doc: dict[str, object], size: int) -> bytes:
    """`doc` as compact JSON with a filler field so the body is exactly `size` bytes."""
    doc = {**doc, "pad": ""}
    raw = json.dumps(doc, separators=(",", ":")).encode()
    missing = size - len(raw)
    if missing < 0:
        raise ValueError(f"body already {len(raw)} bytes > {size}")
    return json.dumps({**doc, "pad": "x" * missing}, separators=(",", ":")).encode()


def _write_conf(directory: Path, body: str) -> Path:
    (directory / "tmp").mkdir(parents=True, exist_ok=True)
    conf = directory / "nginx.conf"
    conf.write_text(_COMMON.format(dir=directory, body=body, user=_user_directive()))
    return conf


def _user_directive() -> str:
    """Workers run as the current user (nginx drops root to `nobody` unless told otherwise)."""
    if os.geteuid() != 0:
        return ""
    return f"user {pwd.getpwuid(os.geteuid()).pw_name} {grp.getgrgid(os.getegid()).gr_name};\n"


def _start(name: str, directory: Path, body: str, port: int, cpu: int) -> Child:
    conf = _write_conf(directory, body)
    args = ["nginx", "-p", str(directory), "-c", str(conf), "-e", str(directory / "error.log")]
    child = spawn(name, pinned(cpu, args), directory / "stdout.log")
    wait_http(child, f"http://127.0.0.1:{port}/", timeout=15)
    return child


def start_upstream(directory: Path, cpu: int = 0) -> Nginx:
    www = directory / "www"
    www.mkdir(parents=True, exist_ok=True)
    (www / "small.json").write_bytes(small_body())
    (www / "large.json").write_bytes(large_body())
    (www / "runs-small.json").write_bytes(runs_body(SMALL))
    (www / "runs-large.json").write_bytes(runs_body(LARGE))
    port = free_port()
    return Nginx(_start("nginx-upstream", directory, _UPSTREAM.format(port=port, dir=directory), port, cpu), port)


def start_proxy(directory: Path, upstream: Nginx, cpu: int = 1) -> Nginx:
    """proxy_pass to `upstream` with a keepalive pool: the 100% reference."""
    port = free_port()
    body = _ORIGIN.format(upstream=upstream.port) + _PROXY.format(port=port)
    return Nginx(_start("nginx-proxy", directory, body, port, cpu), port)


def start_front(directory: Path, upstream: Nginx, gateway_port: int, cpu: int = 0) -> Nginx:
    """nginx `auth_request` to the gateway's /decisions, then proxy_pass to `upstream`: the shipped
    recipe (deploy/forward-auth/nginx.conf), so the benchmark measures what a user deploys.

    Its own instance, on the load generator's core by default: the gateway (the part under
    test) keeps cpu1 to itself, as in every other gateway configuration; nginx is the proxy
    the team already runs, in front of it."""
    port = free_port()
    return Nginx(_start("nginx-front", directory, forward_auth(port, upstream.port, gateway_port), port, cpu), port)


def forward_auth(port: int, upstream_port: int, gateway_port: int) -> str:
    """deploy/forward-auth/nginx.conf with the benchmark's addresses."""
    text = FORWARD_AUTH.read_text()
    for shipped, actual in (
        ("127.0.0.1:8080", f"127.0.0.1:{gateway_port}"),
        ("127.0.0.1:9000", f"127.0.0.1:{upstream_port}"),
        ("listen 8000;", f"listen 127.0.0.1:{port} backlog=4096;"),
    ):
        if shipped not in text:
            raise ValueError(f"{FORWARD_AUTH} no longer names {shipped}")
        text = text.replace(shipped, actual)
    return text
