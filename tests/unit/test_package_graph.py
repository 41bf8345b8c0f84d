"""The package graph, computed from the source: no cycles between top-level packages, the ground imports
only the ground, and no capability core imports a face (docs/ARCHITECTURE.md, "Allowed directions").

Every ``import`` counts, including those inside functions: a lazy import is still a dependency."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import yibao

SRC = Path(yibao.__file__).parent
GROUND = frozenset({"money", "errors", "fields", "workdays", "data", "db"})
FACES = frozenset({"cli", "web", "bench", "demo", "settings"})


def _top(parts: tuple[str, ...]) -> str:
    return parts[0].removesuffix(".py")


def package_graph(root: Path = SRC) -> dict[str, set[str]]:
    """Top-level package → the top-level packages its modules import (absolute and relative imports)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for path in root.rglob("*.py"):
        rel = path.relative_to(root).parts
        me = _top(rel)
        graph[me]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = ("yibao", *rel[:-1])[: len(rel) - node.level + 1]
                    module = ".".join((*base, node.module) if node.module else base)
                else:
                    module = node.module or ""
                names = [module]
                if module == "yibao":  # ``from yibao import fields``: the names are the packages
                    names = [f"yibao.{a.name}" for a in node.names]
            for name in names:
                bits = name.split(".")
                if bits[0] == "yibao" and len(bits) > 1 and bits[1] != me:
                    graph[me].add(bits[1])
    return dict(graph)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every elementary cycle's node list found by depth-first search (empty when the graph is a DAG)."""
    found: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> None:
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                found.append([*stack[stack.index(m) :], m])
            elif m not in state:
                visit(m)
        stack.pop()
        state[n] = 2

    for n in sorted(graph):
        if n not in state:
            visit(n)
    return found


def test_the_top_level_packages_form_no_cycle() -> None:
    assert cycles(package_graph()) == []


def test_no_capability_core_imports_a_face() -> None:
    graph = package_graph()
    wrong = {(a, b) for a, deps in graph.items() if a not in FACES for b in deps if b in FACES}
    assert wrong == set()


def test_the_ground_imports_only_the_ground() -> None:
    graph = package_graph()
    wrong = {(a, b) for a in GROUND for b in graph.get(a, ()) if b not in GROUND}
    assert wrong == set()


def test_the_graph_check_sees_a_cycle_and_a_wrong_way_edge(tmp_path: Path) -> None:
    (tmp_path / "alpha").mkdir()
    (tmp_path / "alpha" / "__init__.py").write_text("from yibao.beta import x\n")
    (tmp_path / "beta.py").write_text("def f():\n    from yibao.alpha import y\n")
    (tmp_path / "ledger.py").write_text("import yibao.web.app\n")
    graph = package_graph(tmp_path)
    assert cycles(graph) == [["alpha", "beta", "alpha"]]
    assert "web" in graph["ledger"]


def test_the_architecture_document_states_the_graph() -> None:
    """docs/ARCHITECTURE.md lists every capability core's imports; the table must be the code's graph."""
    doc = SRC.parents[1] / "docs" / "ARCHITECTURE.md"
    if not doc.exists():  # an installed package without the checkout's docs
        return
    stated: dict[str, set[str]] = {}
    for line in doc.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[0].startswith("`") and cells[0].endswith("`") and " " not in cells[0]:
            stated[cells[0].strip("`")] = {
                x.strip() for x in cells[1].split(",") if x.strip() not in ("", "—")
            }
    graph = package_graph()
    cores = {k: deps for k, deps in graph.items() if k not in FACES | GROUND | {"__init__"}}
    assert stated == cores
