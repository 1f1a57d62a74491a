"""The house rules that tools can check: lint, format, import layers (DESIGN.md) and types of the domain."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_lint_is_clean() -> None:
    result = _run(sys.executable, "-m", "ruff", "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_kept() -> None:
    result = _run(sys.executable, "-m", "ruff", "format", "--check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_import_layers_of_the_design_hold() -> None:
    linter = shutil.which("lint-imports")
    assert linter, "import-linter is a test dependency: pip install -e '.[test]'"
    result = _run(linter)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_domain_packages_type_check() -> None:
    result = _run(sys.executable, "-m", "mypy", "server", "community", "courses", "mail", "federation", "web")
    assert result.returncode == 0, result.stdout + result.stderr


def _import_cycles(packages: tuple[str, ...]) -> list[list[str]]:
    """Strongly connected groups of modules (more than one) in the import graph, function-level imports included."""
    import grimp

    graph = grimp.build_graph(*packages, cache_dir=None)
    imports = {module: sorted(graph.find_modules_directly_imported_by(module)) for module in graph.modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(start: str) -> None:
        # Tarjan's algorithm, iterative so a deep graph cannot exhaust the recursion limit.
        work = [(start, 0)]
        while work:
            module, position = work.pop()
            if position == 0:
                index[module] = low[module] = len(index)
                stack.append(module)
                on_stack.add(module)
            successors = imports[module]
            if position < len(successors):
                work.append((module, position + 1))
                target = successors[position]
                if target not in index:
                    work.append((target, 0))
                elif target in on_stack:
                    low[module] = min(low[module], index[target])
                continue
            if low[module] == index[module]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == module:
                        break
                if len(group) > 1:
                    cycles.append(sorted(group))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[module])

    for module in sorted(imports):
        if module not in index:
            visit(module)
    return cycles


SHIPPED = ("server", "community", "courses", "mail", "federation", "web", "migrations")


def test_no_import_cycle_anywhere() -> None:
    cycles = _import_cycles(SHIPPED)
    assert not cycles, "import cycles (each line one group of modules that import each other):\n" + "\n".join(
        " <-> ".join(group) for group in cycles
    )


def test_the_cycle_finder_finds_a_cycle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "knot"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from knot import b\n")
    (package / "b.py").write_text("def late():\n    from knot import c\n")
    (package / "c.py").write_text("import knot.a\n")
    (package / "d.py").write_text("import knot.a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert _import_cycles(("knot",)) == [["knot.a", "knot.b", "knot.c"]]
