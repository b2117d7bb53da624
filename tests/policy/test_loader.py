"""The loader reports every problem, each with file:line, and never loads a partial set."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config.problems import ConfigError
from gateway.policy.loader import load_policies
from gateway.policy.model import Builtin, Forward, Requirement
from tests.support.builders import make_settings, write_policies

GOOD = """
    tenant: customer
    routes:
      - id: read
        path: /api/things/{id}
        methods: [GET]
        allow:
          machine: {scopes: {any: ["things:read"]}}
          human: {roles: {all: [viewer, staff]}}
        forward: {upstream: jobs, path_prefix: /v2/things}
        timeout: 5
"""


def problems(tmp_path: Path, files: dict[str, str], **env: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_policies(write_policies(tmp_path / "p", files), make_settings(**env))
    return info.value.problems


def find(tmp_path: Path, text: str, line: int, needle: str) -> list[str]:
    found = problems(tmp_path, {"a.yaml": text})
    assert all(p.startswith(f"{tmp_path}/p/a.yaml:") for p in found), found
    assert any(p.startswith(f"{tmp_path}/p/a.yaml:{line}: ") and needle in p for p in found), found
    return found


def test_good_file_builds_frozen_routes(tmp_path: Path) -> None:
    policy = load_policies(write_policies(tmp_path, {"a.yaml": GOOD}), make_settings())
    (route,) = policy.routes["customer"]
    assert route.id == "customer:read"
    assert route.methods == {"GET", "HEAD"}
    assert route.allow == (
        Requirement("machine", scopes_any=("things:read",)),
        Requirement("human", roles_all=("viewer", "staff")),
    )
    assert route.kinds == ("machine", "human")  # the order authenticators are tried
    assert route.target == Forward("jobs", True, "/v2/things")
    assert (route.timeout, route.labels, route.stream, route.websocket) == (5.0, "headers", False, False)
    assert route.source == f"{tmp_path}/a.yaml:3"
    assert policy.routes["admin"] == () and policy.route("customer:read") is route


def test_several_tenants_qualify_ids_and_paths_expand(tmp_path: Path) -> None:
    text = """
        tenants: [customer, dealer]
        routes:
          - id: r
            paths: [/a, /b]
            methods: ["*"]
            allow: anonymous
            forward: {upstream: jobs}
    """
    policy = load_policies(write_policies(tmp_path, {"a.yml": text}), make_settings())
    ids = sorted((r.id, r.pattern.text) for rs in policy.routes.values() for r in rs)
    assert ids == [("customer:r", "/a"), ("customer:r", "/b"), ("dealer:r", "/a"), ("dealer:r", "/b")]


def doc(*extra: str, drop: tuple[str, ...] = (), **fields: str) -> str:
    """One route in a file; lines: 3 id, 4 path, 5 methods, 6 allow, 7 forward, then `extra`."""
    values = {
        "id": "a",
        "path": "/a",
        "methods": "[GET]",
        "allow": "anonymous",
        "forward": "{upstream: jobs}",
    }
    values.update(fields)
    lines = [f"    {key}: {value}" for key, value in values.items() if key not in drop]
    return "tenant: customer\nroutes:\n  - " + "\n".join([*lines, *extra])[4:] + "\n"


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        ("tenant: customer\nroutes:\n  - id: a\n    path: [unclosed\n", 5, "YAML syntax error"),
        ("tenant: nobody\nroutes: []\n", 1, "unknown tenant 'nobody'"),
        (doc(forward="{upstream: nope}"), 7, "unknown upstream 'nope'"),
        (doc("    alow: anonymous", drop=("allow",)), 7, "unknown key 'alow'"),
        (doc(allow="\n      humans: {}"), 7, "unknown key 'humans'"),
        (doc(allow="\n      human: {roles: {one_of: [x]}}"), 7, "unknown key 'one_of'"),
        (doc(methods="[get]"), 5, "'get' is not one of"),
        (doc(path="/a/**/b"), 4, "'**' is only allowed as the last segment"),
        (doc(path="/a/{1x}"), 4, "bad segment '{1x}'"),
        (doc(path="/a/../b"), 4, "not a canonical path segment"),
        (doc(path="/a/%2e%2e/b"), 4, "not a canonical path segment"),
        (doc(path="/a;x"), 4, "not a canonical path segment"),
        (doc(path="/a/{x}/{x}"), 4, "parameter name twice"),
        (doc(path="/a/"), 4, "must not end with '/'"),
        (doc(path="/a//b"), 4, "empty segment"),
        (doc("    labels: nope"), 8, "unknown label profile 'nope'"),
        (
            doc(forward="x", drop=("forward",)) + "    builtin: {name: teleport}\n",
            7,
            "unknown builtin 'teleport'",
        ),
        (doc(drop=("forward",)), 3, "exactly one of 'forward' or 'builtin'"),
        (doc(drop=("path",)), 3, "exactly one of 'path' or 'paths'"),
        (doc("    allow: {human: {}}"), 8, "duplicate key 'allow'"),
        (doc(allow="everyone"), 6, "allow"),
        (doc("    labels: durably"), 6, "cannot be anonymous"),
        (doc(allow="\n      human: {scopes: {any: [x]}}"), 7, "scopes apply to machine"),
        (doc("    websocket: true", methods="[POST]"), 8, "websocket routes must allow GET"),
        (
            doc(forward="{upstream: jobs, strip_tenant_prefix: false, path_prefix: /b}"),
            7,
            "path_prefix cannot",
        ),
        (doc("    timeout: 0"), 8, "timeout"),
        (doc("    idle_timeout: 10"), 8, "idle_timeout applies only"),
        (
            "routes:\n  - id: a\n    path: /a\n    methods: [GET]\n    allow: anonymous\n",
            1,
            "routes need 'tenant",
        ),
        ("tenant: customer\ntenants: [admin]\n", 2, "either 'tenant' or 'tenants'"),
        ("- just\n- a list\n", 1, "is not of type 'object'"),
        ("label_profiles:\n  headers: {}\n", 2, "built in and cannot be redefined"),
    ],
)
def test_each_problem_has_file_and_line(tmp_path: Path, text: str, line: int, needle: str) -> None:
    find(tmp_path, text, line, needle)


def test_builtin_options_are_checked(tmp_path: Path) -> None:
    text = """
        tenant: admin
        routes:
          - id: lookup
            path: /customers/{id}
            methods: [GET]
            allow: {human: {roles: {any: ["platform:admin"]}}}
            builtin: {name: identity_lookup, tenant: nobody, param: uid, extra: x}
          - id: token
            path: /oauth2/token
            methods: [POST]
            allow: anonymous
            builtin: {name: oauth2_token, tenant: customer}
          - id: lookup2
            path: /c2/{id}
            methods: [GET]
            allow: anonymous
            builtin: {name: identity_lookup}
    """
    found = problems(tmp_path, {"a.yaml": text})
    assert any(":7: builtin identity_lookup has no option 'extra'" in p for p in found)
    assert any(":7: identity_lookup: unknown tenant 'nobody'" in p for p in found)
    assert any(":7: identity_lookup: pattern '/customers/{id}' has no {uid}" in p for p in found)
    assert any(":12: builtin oauth2_token has no option 'tenant'" in p for p in found)
    assert any(":17: builtin identity_lookup needs option 'param'" in p for p in found)
    assert any(":16: identity_lookup cannot be anonymous" in p for p in found)


def test_settings_dependent_checks(tmp_path: Path) -> None:
    text = """
        tenant: dealer
        routes:
          - id: lookup
            path: /c/{id}
            methods: [GET]
            allow: {machine: {}}
            builtin: {name: identity_lookup, tenant: customer, param: id}
          - id: jwks
            path: /.well-known/jwks.json
            methods: [GET]
            allow: anonymous
            builtin: {name: hydra_jwks}
    """
    no_hydra = {f"GATEWAY_TENANT_DEALER_HYDRA_{k}": "" for k in ("PUBLIC_URL", "ADMIN_URL", "ADMIN_TOKEN")}
    found = problems(
        tmp_path,
        {"a.yaml": text},
        GATEWAY_TENANT_CUSTOMER_KRATOS_ADMIN_URL="",
        GATEWAY_TENANT_CUSTOMER_KRATOS_ADMIN_TOKEN="",
        **no_hydra,
    )
    assert any(":6: tenant 'dealer' has no Hydra configured" in p for p in found), found
    assert any(":7: identity_lookup: tenant 'customer' has no Kratos admin URL" in p for p in found), found
    needle = ":12: builtin hydra_jwks needs tenant 'dealer' to set GATEWAY_TENANT_DEALER_HYDRA_PUBLIC_URL"
    assert any(needle in p for p in found), found


def test_every_problem_of_every_file_is_listed(tmp_path: Path) -> None:
    second = "  - id: b\n    path: /b//c\n    methods: [GET]\n    allow: anonymous\n"
    second += "    forward: {upstream: jobs}\n"
    bad_a = doc(forward="{upstream: nope}") + second + "    colour: red\n"
    bad_b = doc(allow="{robot: {}}").replace("customer", "dealer")
    bad_c = "tenant: [oops\n"
    found = problems(tmp_path, {"a.yaml": bad_a, "b.yaml": bad_b, "c.yaml": bad_c})
    where = sorted(p.split(": ")[0].rsplit("/", 1)[1] for p in found)
    assert where == ["a.yaml:13", "a.yaml:7", "b.yaml:6", "c.yaml:2"], found  # /b//c is skipped: b has a schema error


def test_duplicate_route_ids_across_files(tmp_path: Path) -> None:
    route = (
        "tenant: customer\nroutes:\n  - id: same\n    path: {path}\n    methods: [GET]\n"
        "    allow: anonymous\n    forward: {{upstream: jobs}}\n"
    )
    found = problems(tmp_path, {"a.yaml": route.format(path="/a"), "b.yaml": route.format(path="/b")})
    assert len(found) == 1
    assert found[0].startswith(f"{tmp_path}/p/b.yaml:3: duplicate route id 'customer:same'")
    assert f"first at {tmp_path}/p/a.yaml:3" in found[0]


@pytest.mark.parametrize(
    ("first", "second", "tie"),
    [
        (("/a/{x}", "GET"), ("/a/{y}", "GET"), True),  # same shape, names differ
        (("/a/{x}", "GET"), ("/a/{y}", "POST"), False),  # methods do not overlap
        (("/a/**", "*"), ("/a/**", "DELETE"), True),  # "*" overlaps everything
        (("/a", "GET"), ("/a", "HEAD"), True),  # GET implies HEAD
        (("/a/b", "GET"), ("/a/{x}", "GET"), False),  # literal beats param: ordered
        (("/a/**", "GET"), ("/a", "GET"), False),  # exact beats prefix: ordered
    ],
)
def test_ties_are_load_errors(tmp_path: Path, first: tuple[str, str], second: tuple[str, str], tie: bool) -> None:
    route = (
        "  - id: {id}\n    path: {path}\n    methods: ['{method}']\n    allow: anonymous\n"
        "    forward: {{upstream: jobs}}\n"
    )
    text = "tenant: customer\nroutes:\n" + route.format(id="one", path=first[0], method=first[1])
    text += route.format(id="two", path=second[0], method=second[1])
    directory = write_policies(tmp_path, {"a.yaml": text})
    if not tie:
        load_policies(directory, make_settings())
        return
    with pytest.raises(ConfigError) as info:
        load_policies(directory, make_settings())
    (problem,) = info.value.problems
    assert problem.startswith(f"{tmp_path}/a.yaml:8: route customer:two")
    assert "customer:one" in problem and "a.yaml:3" in problem and "no order between them" in problem


def test_missing_or_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="policy folder not found"):
        load_policies(tmp_path / "missing", make_settings())
    with pytest.raises(ConfigError, match="no policy files"):
        load_policies(tmp_path, make_settings())


TAGS = (
    "label_profiles:\n  tags:\n    label_key: team\n    operations:\n      - {method: GET, path: /runs, kind: list}\n"
)
TAGGED_ROUTE = (
    "tenant: customer\nroutes:\n  - id: a\n    path: /a\n    methods: [GET]\n"
    "    allow: {human: {}}\n    forward: {upstream: jobs}\n    labels: tags\n"
)


def test_label_profiles_are_compiled_and_usable(tmp_path: Path) -> None:
    files = {"labels.yaml": TAGS, "r.yaml": TAGGED_ROUTE, "more.yaml": TAGS}
    found = problems(tmp_path, files)
    assert len(found) == 1 and "label profile 'tags' is already defined" in found[0]
    del files["more.yaml"]
    (tmp_path / "p" / "more.yaml").unlink()
    policy = load_policies(write_policies(tmp_path / "p", files), make_settings())
    tags = policy.label_profiles["tags"]
    assert tags.label_key == "team" and [op.path for op in tags.operations] == ["/runs"]
    assert policy.label_profiles["durably"].label_key == "organizationId"  # the built-in is there too
    assert policy.routes["customer"][0].labels == "tags"


def test_a_bad_label_profile_is_a_load_problem_at_its_line(tmp_path: Path) -> None:
    """Once a 500 on every labelled route: an unknown field loaded cleanly and failed to compile later."""
    bad = TAGS.replace("    label_key: team\n", "    label_key: team\n    query: {param: tag}\n").replace(
        "kind: list", "kind: listing"
    )
    found = problems(tmp_path, {"labels.yaml": bad, "r.yaml": TAGGED_ROUTE})
    where = f"{tmp_path}/p/labels.yaml"
    assert found == [
        f"{where}:4: label profile 'tags': query: unknown field",
        f"{where}:6: label profile 'tags': operations[0].kind: 'listing' is not one of "
        "['trigger', 'list', 'list_stream', 'run_read', 'run_write', 'passthrough']",
    ], found


def test_builtin_target_options_kept(tmp_path: Path) -> None:
    text = """
        tenant: admin
        routes:
          - id: lookup
            path: /customers/{id}
            methods: [GET]
            allow: {human: {roles: {any: ["platform:admin"]}}}
            builtin: {name: identity_lookup, tenant: customer, param: id}
    """
    policy = load_policies(write_policies(tmp_path, {"a.yaml": text}), make_settings())
    assert policy.routes["admin"][0].target == Builtin("identity_lookup", {"tenant": "customer", "param": "id"})
