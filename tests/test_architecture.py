"""The layout holds: no import circle in worker/, webhooks/ or sandbox/, and tests take their
helpers from tests/support/, never from a conftest or another test module.

The circle check reads the imports from the source, counting those under `if TYPE_CHECKING:`
and those inside functions, so a new circle fails here before it fails anywhere else. The
layer contracts themselves are import-linter's (`[tool.importlinter]` in pyproject.toml).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
PACKAGES = ("worker", "webhooks", "sandbox")


def import_graph(*packages: str) -> grimp.ImportGraph:
    """The import graph of `packages` from their source, `TYPE_CHECKING` imports included."""
    return grimp.build_graph(*packages, exclude_type_checking_imports=False, cache_dir=None)


def strongly_connected(graph: grimp.ImportGraph) -> list[set[str]]:
    """The groups of modules that import each other, directly or not (Tarjan, iterative)."""
    edges = {
        module: sorted(graph.find_modules_directly_imported_by(module)) for module in graph.modules
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(edges[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            module, imported = work[-1]
            following = next(imported, None)
            if following is not None:
                if following not in index:
                    index[following] = low[following] = len(index)
                    stack.append(following)
                    on_stack.add(following)
                    work.append((following, iter(edges[following])))
                elif following in on_stack:
                    low[module] = min(low[module], index[following])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[module])
            if low[module] == index[module]:
                group: set[str] = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.add(member)
                    if member == module:
                        break
                if len(group) > 1 or module in edges[module]:
                    groups.append(group)
    return groups


def circles(graph: grimp.ImportGraph) -> list[str]:
    """One shortest circle of each group of modules that import each other, as
    `a -> b -> a (modules in the circle: a, b)`."""
    found: list[str] = []
    for group in strongly_connected(graph):
        start = min(group)
        chains = [
            graph.find_shortest_chain(importer=imported, imported=start)
            for imported in graph.find_modules_directly_imported_by(start)
            if imported in group
        ]
        shortest = min((chain for chain in chains if chain), key=len)
        circle = " -> ".join((start, *shortest))
        found.append(f"{circle} (modules in the circle: {', '.join(sorted(group))})")
    return sorted(found)


def write_package(root: Path, name: str, modules: dict[str, str]) -> None:
    """A package `name` under `root` with `modules` (module name to source)."""
    package = root / name
    package.mkdir()
    (package / "__init__.py").write_text('"""A package under test."""\n')
    for module, source in modules.items():
        (package / f"{module}.py").write_text(source)


def imports_of_conftests(tree: Path) -> list[str]:
    """`file:line module` of every import of a conftest module under `tree`."""
    return [
        f"{tree.name}/{path.relative_to(tree)}:{line} {module}"
        for path, line, module in imports_under(tree)
        if module.rsplit(".", 1)[-1] == "conftest"
    ]


def imports_of_test_modules(tree: Path) -> list[str]:
    """`file:line module` of every import of a test module under `tree`."""
    return [
        f"{tree.name}/{path.relative_to(tree)}:{line} {module}"
        for path, line, module in imports_under(tree)
        if module.rsplit(".", 1)[-1].startswith("test_")
    ]


def imports_under(tree: Path) -> Iterator[tuple[Path, int, str]]:
    """Every module imported by a .py file under `tree` (file, line, module; a relative
    import names its module as written, e.g. `conftest` for `from .conftest import x`)."""
    for path in sorted(tree.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield path, node.lineno, alias.name
            elif isinstance(node, ast.ImportFrom):
                module = node.module or ""
                yield path, node.lineno, module
                for alias in node.names:
                    yield path, node.lineno, f"{module}.{alias.name}".lstrip(".")


def test_worker_webhooks_and_sandbox_have_no_import_circle() -> None:
    graph = import_graph(*PACKAGES)
    assert "worker.controller.decide" in graph.modules  # the graph is of the real source

    found = circles(graph)

    assert not found, "import circles:\n" + "\n".join(found)


def test_the_circle_check_finds_a_circle_through_type_checking_and_function_imports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_package(
        tmp_path,
        "circular_example",
        {
            "high": '"""High."""\nfrom circular_example import low\n',
            "low": '"""Low."""\nfrom typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n'
            "    from circular_example.middle import Middle\n",
            "middle": '"""Middle."""\n\nclass Middle:\n    def go(self):\n'
            "        from circular_example import high\n        return high\n",
        },
    )
    monkeypatch.syspath_prepend(str(tmp_path))

    found = circles(import_graph("circular_example"))

    assert found == [
        "circular_example.high -> circular_example.low -> circular_example.middle"
        " -> circular_example.high (modules in the circle: circular_example.high,"
        " circular_example.low, circular_example.middle)"
    ]


def test_the_circle_check_passes_a_package_whose_imports_run_downhill(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_package(
        tmp_path,
        "downhill_example",
        {
            "high": '"""High."""\nfrom downhill_example import low, middle\n',
            "middle": '"""Middle."""\nfrom typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n'
            "    from downhill_example import low\n",
            "low": '"""Low."""\n',
        },
    )
    monkeypatch.syspath_prepend(str(tmp_path))

    graph = import_graph("downhill_example")

    assert graph.direct_import_exists(
        importer="downhill_example.middle", imported="downhill_example.low"
    )
    assert circles(graph) == []


def test_no_test_imports_a_conftest() -> None:
    found = imports_of_conftests(TESTS)

    assert not found, "helpers belong in tests/support/, not a conftest:\n" + "\n".join(found)


def test_no_test_imports_another_test_module() -> None:
    found = imports_of_test_modules(TESTS)

    assert not found, "helpers belong in tests/support/, not a test module:\n" + "\n".join(found)


def test_the_test_import_checks_see_absolute_and_relative_imports(tmp_path: Path) -> None:
    (tmp_path / "test_a.py").write_text(
        "from tests.webhooks.conftest import serve\n"
        "from .conftest import CERTIFICATE\n"
        "import tests.e2e.conftest\n"
        "from tests.worker.agora import test_client_recording\n"
        "from tests.support.webhooks import serve\n"
    )

    assert imports_of_conftests(tmp_path) == [
        f"{tmp_path.name}/test_a.py:1 tests.webhooks.conftest",
        f"{tmp_path.name}/test_a.py:2 conftest",
        f"{tmp_path.name}/test_a.py:3 tests.e2e.conftest",
    ]
    assert imports_of_test_modules(tmp_path) == [
        f"{tmp_path.name}/test_a.py:4 tests.worker.agora.test_client_recording"
    ]
