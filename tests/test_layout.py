"""The layout's promises: no import cycles (type-only imports included), `config` a leaf, one
registry per kind of handler, each documented."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from gateway.authn.sources import REGISTRY as SOURCES
from gateway.config.settings import RESERVED_TENANT_NAMES
from gateway.endpoints.builtins import REGISTRY as BUILTINS
from gateway.endpoints.registry import ENDPOINTS
from gateway.labels.registry import BUILT_IN, HEADERS

ROOT = Path(__file__).resolve().parents[1]
GATEWAY = ROOT / "gateway"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_imports(tree: ast.AST) -> list[str]:
    """Modules imported at module level, `if TYPE_CHECKING:` blocks included (a type-only
    import is still a dependency a reader follows); imports inside functions are not."""
    found: list[str] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                found.extend(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and not child.level:
                found.append(child.module)
                found.extend(f"{child.module}.{alias.name}" for alias in child.names)
            elif not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                visit(child)

    visit(tree)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in GATEWAY.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges: set[str] = set()
        for imported in module_imports(ast.parse(path.read_text())):
            parts = imported.split(".")
            # the module itself, and every package whose __init__ importing it runs
            for end in range(2, len(parts) + 1):
                target = ".".join(parts[:end])
                if target in modules and target != name and not name.startswith(target + "."):
                    edges.add(target)
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while (w := stack.pop()) != v:
                component.append(w)
            if component:
                found.append(sorted([v, *component]))

    for v in graph:
        if v not in index:
            strong(v)
    return found


def test_no_module_of_the_gateway_imports_itself_back() -> None:
    graph = import_graph()
    assert len(graph) > 100 and graph["gateway.pipeline"]  # the graph was read
    assert cycles(graph) == []


def test_type_only_imports_count() -> None:
    tree = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from gateway.a import B\n")
    assert "gateway.a" in module_imports(tree)


def test_config_imports_nothing_of_the_gateway_outside_itself() -> None:
    graph = import_graph()
    config = {name: edges for name, edges in graph.items() if name.split(".")[:2] == ["gateway", "config"]}
    assert len(config) > 5  # the package was read
    outside = {
        name: sorted(e for e in edges if e.split(".")[:2] != ["gateway", "config"]) for name, edges in config.items()
    }
    assert {name: edges for name, edges in outside.items() if edges} == {}


def test_settings_types_are_taken_from_where_they_are_defined() -> None:
    defined = {"Settings", "TenantSettings", "CacheSettings", "Limits", "TracingSettings", "Network"}
    wrong = []
    paths = [p for folder in ("gateway", "tests", "bench") for p in (ROOT / folder).rglob("*.py")]
    for path in (p for p in paths if "node_modules" not in p.parts):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom) or not (node.module or "").startswith("gateway."):
                continue
            if node.module != "gateway.config.settings" and defined & {a.name for a in node.names}:
                wrong.append(f"{path.relative_to(ROOT)}: from {node.module}")
    assert wrong == []


@pytest.mark.parametrize(
    ("importer", "imported"),
    [
        ("gateway.replicas", "gateway.cli"),  # the revocation wire format is gateway.replicas.channel
        ("gateway.observe", "gateway.forward"),  # upstream timings are taken in gateway.forward.timed
    ],
)
def test_layers_that_must_not_look_up(importer: str, imported: str) -> None:
    graph = import_graph()
    found = {
        (name, edge)
        for name, edges in graph.items()
        if name.startswith(importer)
        for edge in edges
        if edge.startswith(imported) and not edge.startswith(importer)
    }
    assert found == set()


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_every_builtin_is_documented(name: str) -> None:
    assert f"| `{name}` |" in (ROOT / "docs" / "policies.md").read_text()


@pytest.mark.parametrize("path", sorted(endpoint.path for endpoint in ENDPOINTS))
def test_every_gateway_endpoint_is_documented(path: str) -> None:
    assert path in (ROOT / "README.md").read_text() + (ROOT / "docs" / "operations.md").read_text()


def test_the_app_only_dispatches_to_the_endpoints() -> None:
    """The gateway's own endpoints, their paths and handlers, are the registry's: the app names none."""
    tree = ast.parse((GATEWAY / "app.py").read_text())
    paths = {endpoint.path for endpoint in ENDPOINTS}
    named = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and n.value in paths}
    handlers = {"gateway.endpoints.health", "gateway.endpoints.forward_auth", "gateway.endpoints.admin"}
    assert named == set() and not handlers & set(module_imports(tree))


def test_the_registries_are_what_the_docs_name() -> None:
    assert HEADERS == "headers" and set(BUILT_IN) == {"durably"}
    assert set(SOURCES) == {"kratos-cookie", "kratos-token", "session_jwt", "hydra", "jwt"}
    assert {endpoint.path.split("/")[1] for endpoint in ENDPOINTS} <= RESERVED_TENANT_NAMES  # no tenant shadows one
    assert all(endpoint.path.startswith("/") for endpoint in ENDPOINTS)


#: module globals rebound at run time, and why: none of them wires the gateway
REBOUND_GLOBALS = {"gateway.observe.tracecontext": "a pool of random ids, drawn in batches and forgotten after fork"}


def test_no_module_global_is_rebound_to_wire_the_gateway() -> None:
    """Objects are built whole and handed what they need: no module sets a global at start-up
    (tracing's exporter travels with the request's trace, the protocol's limits with the server)."""
    rebinding = {
        module_name(path)
        for path in GATEWAY.rglob("*.py")
        if any(isinstance(node, ast.Global) for node in ast.walk(ast.parse(path.read_text())))
    }
    assert rebinding == set(REBOUND_GLOBALS)
