"""The `gateway` command line as an operator meets it: real subprocesses, real exit codes."""

from __future__ import annotations

from pathlib import Path

from tests.support.processes import run_gateway
from tests.support.seed import gateway_env

ROOT = Path(__file__).resolve().parents[2]


def seed_env() -> dict[str, str]:
    return gateway_env(8080, "http://127.0.0.1:4455", "http://127.0.0.1:3001", "http://127.0.0.1:3002")


def test_check_prints_tenants_and_routes_with_secrets_redacted() -> None:
    result = run_gateway("check", env=seed_env())
    assert result.returncode == 0, result.stderr
    assert "tenant customer:" in result.stdout and "tenant dealer:" in result.stdout
    assert "/api/durably/trigger -> upstream jobs (labels durably)" in result.stdout
    assert "ory_pat_customer_demo" not in result.stdout
    assert "dealer-gateway-secret" not in result.stdout


def test_check_shows_each_tenants_trusted_origins_and_names_a_bad_one() -> None:
    env = seed_env() | {
        "GATEWAY_PUBLIC_URL": "https://gw.example.com",
        "GATEWAY_TENANT_CUSTOMER_HOSTS": "app.customer.example",
        "GATEWAY_TENANT_DEALER_TRUSTED_ORIGINS": "https://Portal.Dealer.example:443, http://localhost:3000",
    }
    result = run_gateway("check", env=env)
    assert result.returncode == 0, result.stderr
    origins = [line.strip() for line in result.stdout.splitlines() if line.strip().startswith("trusted_origins:")]
    assert origins == [
        'trusted_origins: ["https://app.customer.example", "https://gw.example.com"]',
        'trusted_origins: ["https://gw.example.com"]',
        'trusted_origins: ["https://portal.dealer.example", "http://localhost:3000"]',
    ]
    bad = run_gateway("check", env=env | {"GATEWAY_TENANT_ADMIN_TRUSTED_ORIGINS": "null,https://*.admin.example"})
    assert bad.returncode == 1
    assert bad.stderr.strip().splitlines() == [
        "error: GATEWAY_TENANT_ADMIN_TRUSTED_ORIGINS: not an origin: 'null' "
        "(want scheme://host[:port]: http or https, no path or wildcard)",
        "error: GATEWAY_TENANT_ADMIN_TRUSTED_ORIGINS: not an origin: 'https://*.admin.example' "
        "(want scheme://host[:port]: http or https, no path or wildcard)",
    ]


def test_check_lists_every_problem_one_line_each_without_traceback() -> None:
    env = seed_env() | {
        "GATEWAY_TENANT_CUSTOMER_TRANSPORT": "smoke-signals",
        "GATEWAY_TENANT_ADMIN_KRATOS_ADMIN_URL": "not a url",
        "GATEWAY_UPSTREAM_JOBS_URL": "",
    }
    result = run_gateway("check", env=env)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert all(line.startswith("error: GATEWAY_") for line in lines), lines
    assert any("TRANSPORT" in line for line in lines)
    assert any("ADMIN_KRATOS_ADMIN_URL" in line for line in lines)
    assert "Traceback" not in result.stderr


def test_check_says_whether_spans_are_exported_and_where() -> None:
    off = run_gateway("check", env=seed_env() | {"OTEL_SDK_DISABLED": "true"})
    assert off.returncode == 0, off.stderr
    assert 'tracing: {"export": "off (traceparent propagated;' in off.stdout
    env = seed_env() | {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
        "OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer%20otlp-secret-token",
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0.25",
    }
    on = run_gateway("check", env=env)
    assert on.returncode == 0, on.stderr
    assert '"export": "http://collector:4318/v1/traces"' in on.stdout
    assert '"sampler": "parentbased_traceidratio 0.25"' in on.stdout
    assert "otlp-secret-token" not in on.stdout
    bad = run_gateway("check", env=env | {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})
    assert bad.returncode == 1
    assert bad.stderr.strip().splitlines() == [
        "error: OTEL_EXPORTER_OTLP_PROTOCOL: only http/protobuf is supported (OTLP over HTTP, port 4318), got 'grpc'"
    ]


def test_check_reports_policy_problems_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(
        "tenant: customer\nroutes:\n  - id: x\n    path: /a\n    methods: [GET]\n"
        "    allow: {human: {}}\n    forward: {upstream: nope}\n    labels: nosuch\n"
    )
    result = run_gateway("check", env=seed_env() | {"GATEWAY_POLICIES_DIR": str(tmp_path)})
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2, lines
    assert all(line.startswith("error: ") and "bad.yaml:" in line for line in lines)
    assert "nope" in lines[0] + lines[1] and "nosuch" in lines[0] + lines[1]
    assert "Traceback" not in result.stderr


def test_check_lists_a_bad_label_profile_at_its_line(tmp_path: Path) -> None:
    (tmp_path / "labels.yaml").write_text(
        "label_profiles:\n  tags:\n    operations:\n      - {method: GET, path: /runs, kind: list}\n"
        "    labels_feild: labels\n"
    )
    (tmp_path / "r.yaml").write_text(
        "tenant: customer\nroutes:\n  - id: x\n    path: /a\n    methods: [GET]\n"
        "    allow: {human: {}}\n    forward: {upstream: jobs}\n    labels: tags\n"
    )
    result = run_gateway("check", env=seed_env() | {"GATEWAY_POLICIES_DIR": str(tmp_path)})
    assert result.returncode == 1, result.stdout
    assert result.stderr.strip().splitlines() == [
        f"error: {tmp_path}/labels.yaml:5: label profile 'tags': labels_feild: unknown field"
    ]


def test_explain_allows_and_denies_without_network() -> None:
    allowed = run_gateway(
        "explain",
        "POST",
        "/customer/api/durably/trigger",
        "--as",
        "human",
        "--roles",
        "member",
        "--org",
        "org-acme",
        env=seed_env(),
    )
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert "customer:jobs-write" in allowed.stdout
    denied = run_gateway(
        "explain",
        "POST",
        "/customer/api/durably/trigger",
        "--as",
        "human",
        "--roles",
        "viewer",
        "--org",
        "org-acme",
        env=seed_env(),
    )
    assert denied.returncode == 1
    assert "member" in denied.stdout


def test_every_command_has_help() -> None:
    for command in ("serve", "check", "explain", "emulate", "demo", "token", "revoke"):
        result = run_gateway(command, "--help", env={})
        assert result.returncode == 0 and "usage: gateway" in result.stdout, command


def test_serve_with_bad_config_exits_with_problems_not_a_traceback() -> None:
    result = run_gateway("serve", env={"GATEWAY_TENANTS": "customer"})
    assert result.returncode == 1
    assert result.stderr.strip() == "error: GATEWAY_TENANT_CUSTOMER_MODE: tenant is listed but has no settings"


def test_a_profile_that_trusts_the_upstream_list_filter_says_so_in_check_and_explain(tmp_path: Path) -> None:
    (tmp_path / "labels.yaml").write_text(
        "label_profiles:\n  trusted:\n    operations:\n      - {method: GET, path: /runs, kind: list}\n"
        "    recheck_lists: false\n"
    )
    (tmp_path / "r.yaml").write_text(
        "tenant: customer\nroutes:\n  - id: x\n    path: /api/durably/runs\n    methods: [GET]\n"
        "    allow: {human: {}}\n    forward: {upstream: jobs}\n    labels: trusted\n"
    )
    env = seed_env() | {"GATEWAY_POLICIES_DIR": str(tmp_path)}
    checked = run_gateway("check", env=env)
    assert checked.returncode == 0, checked.stderr
    assert "(labels trusted, lists NOT re-checked)" in checked.stdout
    explained = run_gateway("explain", "GET", "/customer/api/durably/runs", "--as", "human", "--org", "acme", env=env)
    assert "list answers are NOT re-checked" in explained.stdout, explained.stdout
    (tmp_path / "labels.yaml").write_text(
        "label_profiles:\n  trusted:\n    operations:\n      - {method: GET, path: /runs, kind: list}\n"
        "    recheck_lists: 'no'\n"
    )
    refused = run_gateway("check", env=env)
    assert refused.returncode == 1
    assert "label profile 'trusted': recheck_lists: must be true or false" in refused.stderr


def test_check_shows_permissions_organization_params_and_keto_roles() -> None:
    result = run_gateway("check", env=seed_env() | {"GATEWAY_TENANT_CUSTOMER_MEMBERSHIPS": "keto"})
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "/orgs/{org}/reports/{report} -> upstream inventory (labels headers, organization from {org})" in out
    assert "human with roles any viewer | member, permission Report:{org}/{report}#view" in out
    assert 'keto_membership_roles: ["member", "viewer"]' in out
    assert 'memberships: "keto"' in out and "ory_pat_customer_demo" not in out


def test_check_reports_bad_templates_and_missing_keto_at_their_line(tmp_path: Path) -> None:
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "p.yaml").write_text(
        """tenant: admin
routes:
  - id: r
    path: /docs/{doc}
    methods: [GET]
    organization: {param: org}
    allow:
      human:
        permission: {namespace: Doc, object: "{org}/{document}", relation: view}
    forward: {upstream: jobs}
"""
    )
    env = {k: v for k, v in seed_env().items() if not k.startswith("GATEWAY_TENANT_ADMIN_KETO")}
    result = run_gateway("check", env=env | {"GATEWAY_POLICIES_DIR": str(policies)})
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert f"error: {policies / 'p.yaml'}:6: {{org}} is not a parameter of every path (known: {{doc}})" in lines
    assert any(":9: object template '{org}/{document}': {document} is not a parameter" in line for line in lines)
    assert len(lines) == 2, lines


def test_revoke_needs_redis_and_a_known_tenant_for_the_new_forms() -> None:
    for form in ("--subject", "--organization"):
        no_redis = run_gateway("revoke", "--tenant", "customer", form, "x", env=seed_env())
        assert no_redis.returncode == 2 and "GATEWAY_REDIS_URL is not set" in no_redis.stderr
        unknown = run_gateway("revoke", "--tenant", "nobody", form, "x", env=seed_env())
        assert unknown.returncode == 2 and "--tenant: 'nobody' is not in GATEWAY_TENANTS" in unknown.stderr
    both = run_gateway("revoke", "--tenant", "customer", "--subject", "x", "--organization", "y", env=seed_env())
    assert both.returncode == 2 and "not allowed with argument" in both.stderr
