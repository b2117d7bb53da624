"""`gateway edge nginx` and the edge part of `gateway check`, as an operator meets them."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.cli.test_main import seed_env
from tests.support.processes import run_gateway

TRUSTING = {"GATEWAY_TRUSTED_PROXIES": "127.0.0.1/32"}


def nginx_accepts(conf: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    (tmp_path / "logs").mkdir(exist_ok=True)
    main = tmp_path / "main.conf"
    main.write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n  access_log off;\n  include {conf};\n}}\n"
    )
    return subprocess.run(
        ["nginx", "-t", "-q", "-p", str(tmp_path), "-c", str(main), "-e", str(tmp_path / "error.log")],
        capture_output=True,
        text=True,
        check=False,
    )


def test_renders_the_shipped_policies_for_nginx(tmp_path: Path) -> None:
    out = tmp_path / "edge.conf"
    result = run_gateway(
        "edge", "nginx", "--out", str(out), "--cache-dir", str(tmp_path / "cache"), env=seed_env() | TRUSTING
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == f"{out}: 5 routes at nginx"
    text = out.read_text()
    assert 'location ~ "^/dealer(?<edge_rest>/partner-api/inventory)$"' in text
    assert "upstream ory_gateway {\n    server 127.0.0.1:8080;" in text
    assert "proxy_cache_key" in text and "ory_pat_" not in text
    accepted = nginx_accepts(out, tmp_path)
    assert accepted.returncode == 0, accepted.stderr
    # the same on standard output
    printed = run_gateway("edge", "nginx", "--cache-dir", str(tmp_path / "cache"), env=seed_env() | TRUSTING)
    assert printed.stdout == text


def test_the_cache_goes_with_a_ttl_of_zero(tmp_path: Path) -> None:
    result = run_gateway("edge", "nginx", env=seed_env() | TRUSTING | {"GATEWAY_EDGE_CACHE_TTL": "0"})
    assert result.returncode == 0, result.stderr
    assert "proxy_cache" not in result.stdout and "auth_request " in result.stdout


def test_each_problem_is_one_line_and_nothing_is_written(tmp_path: Path) -> None:
    out = tmp_path / "edge.conf"
    env = seed_env() | {"GATEWAY_UPSTREAM_INVENTORY_URL": "http://inventory.invalid:3002"}
    result = run_gateway("edge", "nginx", "--out", str(out), env=env)
    assert result.returncode == 1 and not out.exists()
    assert result.stderr.strip().splitlines() == [
        "error: GATEWAY_TRUSTED_PROXIES: add 127.0.0.1/32: the gateway must believe the client address, "
        "scheme and host nginx passes on from beside it",
        "error: GATEWAY_UPSTREAM_INVENTORY_URL: nginx cannot reach upstream inventory: 'inventory.invalid' does not "
        "resolve here (nginx resolves it once, when it starts; --no-resolve renders anyway)",
    ]
    rendered = run_gateway("edge", "nginx", "--out", str(out), "--no-resolve", env=env | TRUSTING)
    assert rendered.returncode == 0, rendered.stderr
    assert "server inventory.invalid:3002;" in out.read_text()


def test_bad_options_are_one_line_each() -> None:
    result = run_gateway(
        "edge",
        "nginx",
        "--listen",
        "everywhere",
        "--gateway",
        "8080",
        "--trusted-proxies",
        "10.0.0.0/8,nope",
        "--cache-dir",
        "cache",
        env=seed_env() | TRUSTING,
    )
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "error: --listen: want PORT or ADDRESS:PORT, got 'everywhere'",
        "error: --gateway: want HOST:PORT, got '8080'",
        "error: --trusted-proxies: not a CIDR: 'nope'",
        "error: --cache-dir: want an absolute path, got 'cache'",
    ]
    assert "Traceback" not in result.stderr


def test_a_policy_problem_is_reported_as_by_every_command(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("tenant: customer\nroutes:\n  - id: x\n    path: nope\n")
    result = run_gateway("edge", "nginx", env=seed_env() | TRUSTING | {"GATEWAY_POLICIES_DIR": str(tmp_path)})
    assert result.returncode == 1 and result.stdout == ""
    assert all(line.startswith("error: ") for line in result.stderr.strip().splitlines())


def test_check_shows_where_each_route_goes_and_warns_what_would_stop_the_edge() -> None:
    result = run_gateway("check", env=seed_env())
    assert result.returncode == 0, result.stderr
    edge = result.stdout.split("\nedge (gateway edge nginx; decisions reused 2 s at most):\n", 1)[1]
    assert "    dealer:partner-inventory /partner-api/inventory: nginx" in edge
    assert "    customer:jobs-read /api/durably/runs: the gateway (label profile durably)" in edge
    assert "    customer:browser-login /auth/login: the gateway (built-in login)" in edge
    assert "  warning: GATEWAY_TRUSTED_PROXIES: add 127.0.0.1/32" in edge
    failed = run_gateway("check", "--edge", env=seed_env())
    assert failed.returncode == 1
    assert failed.stderr.strip().splitlines() == [
        "error: GATEWAY_TRUSTED_PROXIES: add 127.0.0.1/32: the gateway must believe the client address, "
        "scheme and host nginx passes on from beside it"
    ]
    assert run_gateway("check", "--edge", env=seed_env() | TRUSTING).returncode == 0


def test_an_upstream_over_tls_with_a_base_path(tmp_path: Path) -> None:
    """nginx verifies the upstream's certificate for its name, and keeps the URL's path in front."""
    out = tmp_path / "edge.conf"
    env = seed_env() | TRUSTING | {"GATEWAY_UPSTREAM_INVENTORY_URL": "https://localhost:9443/partner/v2"}
    result = run_gateway("edge", "nginx", "--out", str(out), "--cache-dir", str(tmp_path / "cache"), env=env)
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    head = 'location ~ "^/dealer(?<edge_rest>/partner-api/inventory)$" {'
    location = text.split(head, 1)[1].split("\n            }\n", 1)[0]
    for line in ("proxy_ssl_verify on;", "proxy_ssl_name localhost;", "proxy_ssl_server_name on;"):
        assert line in location
    assert "proxy_pass https://edge_inventory/partner/v2$edge_rest$is_args$args;" in location
    assert "upstream edge_inventory {\n    server localhost:9443;" in text
    accepted = nginx_accepts(out, tmp_path)
    assert accepted.returncode == 0, accepted.stderr
