"""`gateway demo` end to end: emulator, Durably and the gateway start, the walkthrough runs."""

from __future__ import annotations

from tests.support.processes import free_port, run_gateway


def test_demo_once_shows_allowed_denied_and_what_the_upstream_received() -> None:
    ports = [str(free_port()) for _ in range(4)]
    result = run_gateway(
        "demo",
        "--once",
        "--port",
        ports[0],
        "--emulator-port",
        ports[1],
        "--jobs-port",
        ports[2],
        "--inventory-port",
        ports[3],
        timeout=180,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert f"curl -s -X POST http://127.0.0.1:{ports[0]}/customer/api/durably/trigger" in out
    assert "allowed trigger: 200" in out
    assert "cross-org trigger: 403" in out and "organization_mismatch" in out
    assert '"labels":{"organizationId":"org-acme","tenant":"customer"}' in out
