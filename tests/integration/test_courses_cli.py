"""The `mechmooc course` and `run` commands, run as real subprocesses on a fresh data dir."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import FIXTURES
from tests.support.backends import require_postgres
from tests.support.instances import base_environment, fresh_postgres_database, mechmooc_command

GENTLE = FIXTURES / "courses" / "gentle-python"
BASE_URL = "http://cli.localhost"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def mechmooc(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Run `mechmooc ARGS` against a data dir (and database) of this test; returns the CompletedProcess."""
    env = base_environment(
        {"MECHMOOC_DATA_DIR": str(tmp_path / "data"), "MECHMOOC_URL": BASE_URL, "MECHMOOC_INSECURE_HTTP": "1"}
    )
    env["MECHMOOC_MAIL_DOMAIN"] = "lists.example.org"
    if request.param == "postgres":
        require_postgres()
        env["MECHMOOC_DATABASE_URL"] = fresh_postgres_database(f"mechmooc_cli_{os.getpid()}")

    def run(*args: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [*mechmooc_command(), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            cwd=tmp_path,
            input=stdin,
        )
        if check:
            assert done.returncode == 0, done.stderr
        return done

    return run


def test_course_import_export_and_list(mechmooc, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    done = mechmooc("course", "import", str(GENTLE))
    assert done.stdout.splitlines()[-1] == f"{BASE_URL}/courses/gentle-python"
    mechmooc("course", "export", "gentle-python", str(tmp_path / "copy"))
    for path in GENTLE.rglob("*.*"):
        assert (tmp_path / "copy" / path.relative_to(GENTLE)).read_bytes() == path.read_bytes()
    listed = json.loads(mechmooc("course", "list", "--json").stdout)
    assert [(c["slug"], c["units"], c["forks"], c["followers"]) for c in listed] == [("gentle-python", 7, 0, 0)]


def test_course_errors_are_one_line_and_exit_non_zero(mechmooc, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    missing = mechmooc("course", "import", str(tmp_path / "nowhere"), check=False)
    assert missing.returncode != 0 and len(missing.stderr.strip().splitlines()) == 1
    assert "nowhere" in missing.stderr
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "course.toml").write_text('slug = "x"\ntitle = "X"\nlicense = "Nope-1.0"\n')
    done = mechmooc("course", "import", str(bad), check=False)
    assert done.returncode == 1 and done.stderr.strip() == (
        "error: course.toml:3: license 'Nope-1.0' is not an SPDX license id (Nope-1.0 unknown; see https://spdx.org/licenses/)"
    )
    assert mechmooc("course", "export", "nope", str(tmp_path / "x"), check=False).stderr.startswith("error: no course")
