"""The layout's promises: no import cycles, one registry per kind of handler, each documented."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from gateway.authn.sources import REGISTRY as SOURCES
from gateway.endpoints import ENDPOINTS, RESERVED_NAMES
from gateway.endpoints.builtins import REGISTRY as BUILTINS
from gateway.labels.registry import BUILT_IN, HEADERS

ROOT = Path(__file__).resolve().parents[1]
GATEWAY = ROOT / "gateway"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def runtime_imports(tree: ast.AST) -> list[str]:
    """Modules imported when the module runs: not under `if TYPE_CHECKING:`, not inside functions."""
    found: list[str] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                for other in child.orelse:
                    visit(other)
            elif isinstance(child, ast.Import):
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
        for imported in runtime_imports(ast.parse(path.read_text())):
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


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_every_builtin_is_documented(name: str) -> None:
    assert f"| `{name}` |" in (ROOT / "docs" / "policies.md").read_text()


def test_the_registries_are_what_the_docs_name() -> None:
    assert HEADERS == "headers" and set(BUILT_IN) == {"durably"}
    assert set(SOURCES) == {"kratos-cookie", "kratos-token", "hydra", "jwt"}
    assert {"healthz", "readyz", "decisions", "metrics", "_gateway"} <= RESERVED_NAMES
    assert all(path.startswith("/") for path in ENDPOINTS)
