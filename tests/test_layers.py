"""The package layers as the README states them: schema -> io -> runtime + models -> measure, metrics -> viz;
``synth`` and ``train`` make the model, ``cli`` sits on top. Checked on the import statements themselves."""

import ast
from pathlib import Path

import garmentcli

PACKAGE = Path(garmentcli.__file__).parent


def _imports(path: Path) -> set[str]:
    """Every ``garmentcli.*`` module a file imports (at the top or inside functions)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("garmentcli"):
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("garmentcli"))
    return found


def _module(path: Path) -> str:
    return ".".join(("garmentcli", *path.relative_to(PACKAGE).with_suffix("").parts))


def _graph(package: str) -> dict[str, set[str]]:
    files = {_module(p): p for p in (PACKAGE / package).glob("*.py") if p.name != "__init__.py"}
    return {name: {m for m in _imports(path) if m in files and m != name} for name, path in files.items()}


def test_models_and_runtime_do_not_import_train():
    for package in ("schema", "io", "models", "runtime", "metrics", "measure", "viz"):
        for path in (PACKAGE / package).glob("*.py"):
            wrong = {m for m in _imports(path) if m.startswith(("garmentcli.train", "garmentcli.cli"))}
            assert not wrong, f"{_module(path)} imports {sorted(wrong)}"


def test_schema_imports_nothing_above_it():
    for path in (PACKAGE / "schema").glob("*.py"):
        above = {m for m in _imports(path) if not m.startswith(("garmentcli.schema", "garmentcli.errors"))}
        assert not above, f"{_module(path)} imports {sorted(above)}"


def test_no_import_cycle_inside_a_package():
    for package in ("schema", "io", "models", "runtime", "metrics", "measure"):
        graph = _graph(package)
        state: dict[str, int] = {}

        def visit(node: str, trail: list[str], graph: dict[str, set[str]] = graph, state: dict[str, int] = state):
            state[node] = 1
            for nxt in sorted(graph[node]):
                assert state.get(nxt) != 1, f"import cycle: {' -> '.join([*trail, node, nxt])}"
                if nxt not in state:
                    visit(nxt, [*trail, node])
            state[node] = 2

        for node in sorted(graph):
            if node not in state:
                visit(node, [])
