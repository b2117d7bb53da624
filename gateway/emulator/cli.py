"""`gateway emulate`: run the in-memory Ory emulator (Kratos + Hydra APIs) for development and tests."""

from __future__ import annotations

import argparse
import socket
import sys
from pathlib import Path
from urllib.parse import urlsplit

from gateway.emulator.app import EmulatorApp
from gateway.emulator.seed import apply_seed, check_project_name, load_seed
from gateway.emulator.state import DEFAULT_API_KEY, Emulator, ProjectConfig

DESCRIPTION = (
    "Ory-compatible emulator: an IN-MEMORY development/test server (nothing is persisted, no security "
    "hardening) that serves Kratos public+admin and Hydra public+admin APIs for each --project at "
    "http://HOST:PORT/<project>, the way Ory Network serves a project host. Admin paths need "
    "'Authorization: Bearer <api key>'. Session cookie name per project: "
    "ory_session_<project without dashes> "
    "unless the seed file sets session_cookie_name. Test-only control endpoints live under /_emulator/ "
    "(stats, faults, clock). See gateway/emulator/README.md."
)


class UsageError(ValueError):
    """Bad command-line input."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = DESCRIPTION
    parser.add_argument(
        "--listen",
        default="127.0.0.1:4455",
        metavar="HOST:PORT",
        help="address to listen on (default 127.0.0.1:4455)",
    )
    parser.add_argument(
        "--project",
        action="append",
        default=[],
        metavar="NAME",
        help="project to serve at /NAME (repeatable); projects in --seed are added too",
    )
    parser.add_argument(
        "--api-key",
        default=DEFAULT_API_KEY,
        metavar="KEY",
        help=f"admin API key of projects the seed does not configure (default {DEFAULT_API_KEY})",
    )
    parser.add_argument("--seed", type=Path, metavar="FILE", help="YAML file with projects, identities and clients")
    parser.add_argument(
        "--base-url",
        metavar="URL",
        help="public base URL used in issuer and links (default http://HOST:PORT from --listen)",
    )
    parser.add_argument(
        "--log-level",
        default="warning",
        choices=["critical", "error", "warning", "info", "debug"],
        help="uvicorn log level (default warning)",
    )


def parse_listen(value: str) -> tuple[str, int]:
    host, sep, port_text = value.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise UsageError(f"--listen: expected HOST:PORT with a port from 1 to 65535, got {value!r}")
    return host, int(port_text)


def _base_url(args: argparse.Namespace, host: str, port: int) -> str:
    if not args.base_url:
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}"
    parts = urlsplit(args.base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise UsageError(f"--base-url: expected an http(s) URL without query, got {args.base_url!r}")
    return str(args.base_url).rstrip("/")


def build(args: argparse.Namespace) -> tuple[Emulator, str, int]:
    """The emulator described by the arguments; raises UsageError with every problem, one per line."""
    host, port = parse_listen(args.listen)
    emulator = Emulator(base_url=_base_url(args, host, port))
    errors = [f"--project: {p}" for name in args.project if (p := check_project_name(name))]
    if args.seed is not None:
        seeds, seed_errors = load_seed(args.seed, args.api_key)
        errors += seed_errors + apply_seed(emulator, args.seed, seeds)
    for name in args.project:
        if name not in emulator.projects and not errors:
            emulator.add_project(ProjectConfig(name=name, api_key=args.api_key))
    if not errors and not emulator.projects:
        errors.append("no projects: give at least one --project NAME or a --seed file with projects")
    if errors:
        raise UsageError("\n".join(errors))
    return emulator, host, port


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so that a busy port is one clear error instead of a uvicorn log."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise UsageError(f"--listen: cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    return sock


def _report(exc: UsageError) -> int:
    for line in str(exc).splitlines():
        print(f"gateway emulate: error: {line}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    try:
        emulator, host, port = build(args)
        sock = bind(host, port)
    except UsageError as exc:
        return _report(exc)
    import uvicorn

    print(f"Ory emulator (in-memory, for development and tests) listening on {emulator.base_url}", flush=True)
    for name, project in emulator.projects.items():
        print(f"  project {name}: {project.base_url} (session cookie {project.config.cookie_name})", flush=True)
    config = uvicorn.Config(
        EmulatorApp(emulator),
        log_level=args.log_level,
        lifespan="off",
        access_log=args.log_level in ("info", "debug"),
    )
    uvicorn.Server(config).run(sockets=[sock])
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gateway emulate")
    add_arguments(parser)
    return run(parser.parse_args(argv))
