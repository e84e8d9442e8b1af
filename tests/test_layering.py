"""The layout's promise: dependencies point one way and no module imports itself back.

Every module of flows/ is read with `ast` (imports inside functions and under TYPE_CHECKING
count too: a hidden import is still a dependency), and its imports of other flows modules make
the graph checked here. A layer is a set of package prefixes; a module belongs to the layer of its
longest matching prefix and may import its own layer and the layers below, never one above.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "flows"

LAYERS: list[tuple[str, tuple[str, ...]]] = [
    # Imports nothing of Flows above it: shared by every layer (and by the sandbox).
    (
        "ground floor",
        (
            "flows.datadir",
            "flows.documents",
            "flows.errors",
            "flows.gocompat",
            "flows.ledger_syntax",
            "flows.observability",
            "flows.outages",
            "flows.routing",
            "flows.settings",
        ),
    ),
    ("storage", ("flows.storage",)),
    ("stack", ("flows.stack",)),
    ("stages", ("flows.stages", "flows.workflows", "flows.triggers.expr")),
    ("engine", ("flows.engine",)),
    # Matching events against triggers and firing them; how events arrive is an edge.
    ("triggers", ("flows.triggers",)),
    ("application", ("flows.application",)),
    ("edges", ("flows.api", "flows.client", "flows.console", "flows.triggers.nats", "flows.triggers.pipeline")),
    ("composition", ("flows.cli", "flows.composition", "flows.server", "flows.__main__")),
]

SANDBOX = "flows.sandbox"
SANDBOX_MOUNTED_BY = ("flows.composition", "flows.server")
SANDBOX_MAY_IMPORT = ("flows.storage.database", "flows.storage.tables")
"""Beyond the ground floor: the database it shares with the core, and the core's table metadata."""


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imported(name: str, path: Path) -> Iterator[str]:
    """The flows modules `name` imports, wherever the import statement is."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield from _known(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            for alias in node.names:
                # `from flows.engine import process` imports the module flows.engine.process.
                submodule = f"{module}.{alias.name}"
                yield from _known(submodule if submodule in MODULES else module)


def _known(module: str) -> Iterator[str]:
    # `import flows.engine.client` names the module itself; anything else is not Flows'.
    if module in MODULES:
        yield module


GRAPH: dict[str, set[str]] = {
    name: {imported for imported in _imported(name, path) if imported != name}
    for name, path in MODULES.items()
}


def _layer(module: str) -> int | None:
    if module == "flows":  # the package itself: its docstring and version only
        return 0
    best: tuple[int, int] | None = None
    for rank, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + "."):
                if best is None or len(prefix) > best[0]:
                    best = (len(prefix), rank)
    return None if best is None else best[1]


def _cycles() -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in sorted(GRAPH[module]):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for module in sorted(GRAPH):
        if module not in index:
            visit(module)
    return components


def test_the_graph_sees_the_imports() -> None:
    # A reader that found nothing would pass every check below.
    assert "flows.engine.client" in GRAPH["flows.engine.instances"]
    assert "flows.stages.send.moves" in GRAPH["flows.stages.send.stage"]


def test_no_module_imports_itself_back() -> None:
    assert _cycles() == []


def test_every_module_has_a_layer() -> None:
    unplaced = [module for module in MODULES if not module.startswith(SANDBOX) and _layer(module) is None]
    assert unplaced == []


def test_no_module_imports_a_layer_above_its_own() -> None:
    upward = [
        f"{module} ({LAYERS[_layer(module) or 0][0]}) imports {imported} ({LAYERS[_layer(imported) or 0][0]})"
        for module, imports in sorted(GRAPH.items())
        if not module.startswith(SANDBOX)
        for imported in sorted(imports)
        if not imported.startswith(SANDBOX) and (_layer(imported) or 0) > (_layer(module) or 0)
    ]
    assert upward == []


def test_only_the_composition_mounts_the_sandbox() -> None:
    importers = sorted(
        module
        for module, imports in GRAPH.items()
        if not module.startswith(SANDBOX) and any(imported.startswith(SANDBOX) for imported in imports)
    )
    assert set(importers) <= set(SANDBOX_MOUNTED_BY), importers


def test_the_sandbox_builds_on_the_ground_floor_and_the_database_only() -> None:
    ground = LAYERS[0][1]
    beyond = sorted(
        f"{module} imports {imported}"
        for module, imports in GRAPH.items()
        if module.startswith(SANDBOX)
        for imported in imports
        if not imported.startswith(SANDBOX)
        and _layer(imported) != 0
        and not any(imported == allowed or imported.startswith(allowed + ".") for allowed in SANDBOX_MAY_IMPORT)
    )
    assert beyond == [], ground
