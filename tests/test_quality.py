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
    result = _run(sys.executable, "-m", "mypy", "server", "courses", "mail", "federation", "web")
    assert result.returncode == 0, result.stdout + result.stderr
