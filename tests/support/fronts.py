"""Front proxies for the forward-auth and edge tests: the shipped recipes (deploy/forward-auth/)
run by the real nginx and Caddy, with only their addresses replaced, and the configuration
`gateway edge nginx` renders.

    with nginx_front(gateway_url, app_url) as front:    # front.url; the gateway decides, nginx forwards
    with caddy_front(gateway_url, app_url) as front:    # the same with Caddy (forward auth)
    with edge_front(gateway_env) as front:              # edge mode, rendered from the gateway's environment

Each runs from a directory of its own (configuration, pid, logs, temp files), in the
foreground, as a child process stopped when the block ends. `Proc.output()` is its log.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from tests.support.processes import ROOT, Proc, answers, free_port, running

RECIPES = ROOT / "deploy" / "forward-auth"
#: the addresses a recipe ships with, and what each stands for
GATEWAY, APP = "127.0.0.1:8080", "127.0.0.1:9000"

_NGINX_MAIN = """{user}worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log info;
events {{ worker_connections 256; }}
http {{
  access_log {dir}/access.log;
  client_body_temp_path {dir}/tmp/body;
  proxy_temp_path {dir}/tmp/proxy;
  fastcgi_temp_path {dir}/tmp/fastcgi;
  uwsgi_temp_path {dir}/tmp/uwsgi;
  scgi_temp_path {dir}/tmp/scgi;
  include {dir}/{include};
}}
"""


def recipe(name: str, gateway_url: str, app_url: str, listen: tuple[str, str]) -> str:
    """The shipped recipe `name` with the gateway's, the app's and the listening address replaced
    (`listen`: the recipe's own spelling, and what it becomes)."""
    text = (RECIPES / name).read_text()
    for shipped, actual in ((GATEWAY, urlsplit(gateway_url).netloc), (APP, urlsplit(app_url).netloc), listen):
        assert shipped in text, f"{name} no longer names {shipped}"
        text = text.replace(shipped, actual)
    return text


@contextmanager
def nginx_front(gateway_url: str, app_url: str) -> Iterator[Proc]:
    port = free_port()
    with _directory("nginx-front-") as directory:
        (directory / "tmp").mkdir()
        conf = recipe("nginx.conf", gateway_url, app_url, ("listen 8000;", f"listen 127.0.0.1:{port};"))
        (directory / "forward-auth.conf").write_text(conf)
        with _nginx(directory, "forward-auth.conf", port) as proc:
            yield proc


@contextmanager
def edge_front(gateway_env: Mapping[str, str], *options: str) -> Iterator[Proc]:
    """nginx with what `gateway edge nginx` renders from `gateway_env` (the decider's own
    environment): listening on a free port, its decision cache in its own directory."""
    port = free_port()
    with _directory("edge-front-") as directory:
        (directory / "tmp").mkdir()
        conf = directory / "edge.conf"
        render = [sys.executable, "-m", "gateway", "edge", "nginx", "--out", str(conf)]
        render += ["--listen", f"127.0.0.1:{port}", "--cache-dir", str(directory / "cache"), *options]
        clean = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
        done = subprocess.run(
            render, env=clean | dict(gateway_env), cwd=ROOT, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
        with _nginx(directory, conf.name, port) as proc:
            yield proc


@contextmanager
def _nginx(directory: Path, include: str, port: int) -> Iterator[Proc]:
    main = _NGINX_MAIN.format(dir=directory, user=_nginx_user(), include=include)
    (directory / "nginx.conf").write_text(main)
    args = ["nginx", "-p", str(directory), "-c", str(directory / "nginx.conf"), "-e", str(directory / "error.log")]
    url = f"http://127.0.0.1:{port}"
    with running(args, url, answers(url + "/")) as proc:
        yield proc


@contextmanager
def caddy_front(gateway_url: str, app_url: str) -> Iterator[Proc]:
    port = free_port()
    with _directory("caddy-front-") as directory:
        listen = (":8000 {", f":{port} {{\n\tbind 127.0.0.1")  # any Host, as shipped; loopback only
        conf = recipe("Caddyfile", gateway_url, app_url, listen)
        (directory / "Caddyfile").write_text(conf)
        # Caddy keeps its state under HOME / XDG directories: this one's own
        env = {"HOME": str(directory), "XDG_CONFIG_HOME": str(directory), "XDG_DATA_HOME": str(directory)}
        args = ["caddy", "run", "--adapter", "caddyfile", "--config", str(directory / "Caddyfile")]
        url = f"http://127.0.0.1:{port}"
        with running(args, url, answers(url + "/"), env) as proc:
            yield proc


@contextmanager
def _directory(prefix: str) -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _nginx_user() -> str:
    """Workers run as the current user (as root, nginx would switch them to `nobody`)."""
    if os.geteuid() != 0:
        return ""
    return f"user {pwd.getpwuid(os.geteuid()).pw_name} {grp.getgrgid(os.getegid()).gr_name};\n"
