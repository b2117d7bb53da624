"""The shipped policies/ load against the seed settings and publish the schema."""

from __future__ import annotations

import json

from jsonschema import Draft202012Validator

from gateway.policy import match
from gateway.policy.model import Builtin, Forward
from gateway.policy.schema import SCHEMA
from gateway.policy.source import read_yaml
from tests.support.builders import SEED_DIR, seed_policies


def test_published_schema_is_the_one_enforced() -> None:
    published = json.loads((SEED_DIR / "policy.schema.json").read_text())
    assert published == SCHEMA
    Draft202012Validator.check_schema(published)


def test_seed_files_are_schema_valid() -> None:
    validator = Draft202012Validator(SCHEMA)
    for path in sorted(SEED_DIR.glob("*.yaml")):
        document, problems = read_yaml(path)
        assert problems == []
        assert list(validator.iter_errors(document)) == []


def test_seed_routes() -> None:
    policy = seed_policies()
    for tenant in ("customer", "admin", "dealer"):
        found = match(policy, tenant, "GET", "/api/durably/runs")
        assert found.route.id == f"{tenant}:jobs-read"
        assert found.route.target == Forward("jobs") and found.route.labels == "durably"
        assert found.upstream_path == "/api/durably/runs"
        assert match(policy, tenant, "POST", "/oauth2/token").route.target == Builtin("oauth2_token")
        assert match(policy, tenant, "GET", "/.well-known/jwks.json").route.target == Builtin("hydra_jwks")
        openid = match(policy, tenant, "GET", "/.well-known/openid-configuration")
        assert openid.route.target == Builtin("hydra_discovery")
    subscribe = match(policy, "customer", "GET", "/api/durably/runs/subscribe").route
    assert subscribe.stream and subscribe.idle_timeout == 300
    assert match(policy, "customer", "DELETE", "/api/durably/run").route.id == "customer:jobs-delete"
    inventory = match(policy, "dealer", "GET", "/partner-api/inventory").route
    assert inventory.kinds == ("machine",) and inventory.target == Forward("inventory")
    lookup = match(policy, "admin", "GET", "/customers/abc")
    assert lookup.params == {"id": "abc"}
    assert lookup.route.target == Builtin("identity_lookup", {"tenant": "customer", "param": "id"})
