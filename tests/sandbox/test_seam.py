"""The sandbox behind one seam: outside flows/sandbox, only the top-level composition
(flows/composition.py, flows/server.py) imports it, so the core runs, and can be read, without it."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import flows

PACKAGE = Path(flows.__file__).parent
SANDBOX = PACKAGE / "sandbox"
COMPOSITION = {PACKAGE / "composition.py", PACKAGE / "server.py"}


def imported_modules(tree: ast.Module) -> Iterator[str]:
    """Every module an `import` or `from … import` names, with `from flows import sandbox` as
    `flows.sandbox` (relative imports are not used in flows/)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def imports_sandbox(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [name for name in imported_modules(tree) if name == "flows.sandbox" or name.startswith("flows.sandbox.")]


def test_the_core_imports_nothing_from_the_sandbox() -> None:
    core = [path for path in PACKAGE.rglob("*.py") if SANDBOX not in path.parents and path not in COMPOSITION]
    assert len(core) > 20  # the walk found the package
    offending = {str(path.relative_to(PACKAGE.parent)): names for path in core if (names := imports_sandbox(path))}
    assert offending == {}


def test_the_composition_is_where_the_sandbox_is_mounted() -> None:
    # The check above would pass vacuously if it could not see an import of the sandbox.
    assert imports_sandbox(PACKAGE / "composition.py")
