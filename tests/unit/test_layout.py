"""The package's shape: no import cycles, and the flow one way. An import that runs (at the
top of a module or inside a function) is an edge; one under `if TYPE_CHECKING:` is not,
since it never runs. `python -m tests.unit.test_layout` prints the figures."""

from __future__ import annotations

import ast
from pathlib import Path

HARNESS = Path(__file__).resolve().parents[2] / "harness"
# What may stay at the top of harness/ (the front door): the rest has a package.
TOP_LEVEL = {"__init__", "__main__", "cli", "errors", "progress", "wait", "process",
             "secrets", "scenario"}  # fmt: skip


def modules() -> dict[str, Path]:
    found = {}
    for path in HARNESS.rglob("*.py"):
        parts = path.relative_to(HARNESS.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _runtime_nodes(tree: ast.AST):
    """Every node but what sits under `if TYPE_CHECKING:`."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from (n for child in node.orelse for n in [child, *_runtime_nodes(child)])
            continue
        yield node
        yield from _runtime_nodes(node)


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The harness modules `name` imports at run time."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in _runtime_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base
                       for a in node.names]  # fmt: skip
        else:
            continue
        for target in targets:
            while target and target not in known:  # an attribute of a module: the module
                target = target.rpartition(".")[0]
            if target.startswith("harness") and target != name:
                out.add(target)
    return out


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(name, path, known) for name, path in known.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_the_package_has_no_import_cycle():
    assert cycles(graph()) == []


def test_the_check_finds_a_cycle_and_ignores_type_only_imports(tmp_path):
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(edges) == [["a", "b", "c"]]
    known = {"harness.x": tmp_path / "x.py", "harness.y": tmp_path / "y.py"}
    known["harness.x"].write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                  "    from harness.y import Y\ndef f():\n"
                                  "    from harness import y\n")  # fmt: skip
    assert imports("harness.x", known["harness.x"], known) == {"harness.y"}  # the lazy one


# Downstream may import upstream, never the reverse: the plan and the ledgers know the
# backends only by their protocols, and the oracles and reports judge recorded files.
NEVER = {
    "harness.plan": ("harness.backends.embedded", "harness.backends.devstack", "harness.run",
                     "harness.checks", "harness.report", "harness.load", "harness.bus"),
    "harness.load": ("harness.backends.embedded", "harness.backends.devstack", "harness.run",
                     "harness.checks", "harness.report", "harness.plan"),
    "harness.probe": ("harness.backends.embedded", "harness.backends.devstack", "harness.run",
                      "harness.checks", "harness.report", "harness.plan", "harness.load"),
    "harness.tempest": ("harness.backends.embedded", "harness.backends.devstack", "harness.run",
                        "harness.checks", "harness.report", "harness.plan", "harness.load"),
    "harness.bus": ("harness.backends.embedded", "harness.backends.devstack", "harness.run",
                    "harness.checks", "harness.report", "harness.plan"),
    "harness.checks": ("harness.backends", "harness.services", "harness.run", "harness.report"),
    "harness.report": ("harness.backends", "harness.services", "harness.run"),
    "harness.services": ("harness.run", "harness.checks", "harness.report", "harness.plan"),
}  # fmt: skip


def test_the_flow_is_one_way():
    edges = graph()
    wrong = {(name, dep) for name, deps in edges.items() for dep in deps
             for layer, never in NEVER.items()
             if name.startswith(layer) and dep.startswith(never)}  # fmt: skip
    assert wrong == set()
    assert edges["harness.backends"] == set()  # the protocols import nothing


def test_only_the_front_door_sits_at_the_top_of_the_package():
    top = {p.stem for p in HARNESS.glob("*.py")}
    assert top <= TOP_LEVEL, top - TOP_LEVEL


if __name__ == "__main__":
    found = modules()
    lengths = sorted(((len(p.read_text().splitlines()), n) for n, p in found.items()))
    longest_fn = max(
        (node.end_lineno - node.lineno + 1, f"{n}.{node.name}")
        for n, p in found.items()
        for node in ast.walk(ast.parse(p.read_text()))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    )
    print(f"modules {len(found)}; at the top of harness/ {len(list(HARNESS.glob('*.py')))}; "
          f"import cycles {len(cycles(graph()))}")  # fmt: skip
    print(f"longest module {lengths[-1][1]} ({lengths[-1][0]} lines); longest function "
          f"{longest_fn[1]} ({longest_fn[0]} lines)")  # fmt: skip
