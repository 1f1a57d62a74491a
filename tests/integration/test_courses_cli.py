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


def _cli(tmp_path: Path, database_url: str | None):  # type: ignore[no-untyped-def]
    """A function running `mechmooc ARGS` on a data dir (and database) of this test."""
    env = base_environment(
        {"MECHMOOC_DATA_DIR": str(tmp_path / "data"), "MECHMOOC_URL": BASE_URL, "MECHMOOC_INSECURE_HTTP": "1"}
    )
    env["MECHMOOC_MAIL_DOMAIN"] = "lists.example.org"
    if database_url:
        env["MECHMOOC_DATABASE_URL"] = database_url

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [*mechmooc_command(), *args], env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path
        )
        if check:
            assert done.returncode == 0, done.stderr
        return done

    run.database_url = database_url  # type: ignore[attr-defined]
    return run


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def mechmooc(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    """`mechmooc` on SQLite and on PostgreSQL (for what touches the database in earnest)."""
    database_url = None
    if request.param == "postgres":
        require_postgres()
        database_url = fresh_postgres_database(f"mechmooc_cli_{os.getpid()}")
    return _cli(tmp_path, database_url)


@pytest.fixture
def mechmooc_sqlite(tmp_path: Path):  # type: ignore[no-untyped-def]
    """`mechmooc` on SQLite only, for checks that do not depend on the database."""
    return _cli(tmp_path, None)


def test_course_import_export_and_list(mechmooc, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    done = mechmooc("course", "import", str(GENTLE))
    assert done.stdout.splitlines()[-1] == f"{BASE_URL}/courses/gentle-python"
    mechmooc("course", "export", "gentle-python", str(tmp_path / "copy"))
    for path in GENTLE.rglob("*.*"):
        assert (tmp_path / "copy" / path.relative_to(GENTLE)).read_bytes() == path.read_bytes()
    listed = json.loads(mechmooc("course", "list", "--json").stdout)
    assert [(c["slug"], c["units"], c["forks"], c["followers"]) for c in listed] == [("gentle-python", 7, 0, 0)]


def test_course_errors_are_one_line_and_exit_non_zero(mechmooc_sqlite, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    missing = mechmooc_sqlite("course", "import", str(tmp_path / "nowhere"), check=False)
    assert missing.returncode != 0 and len(missing.stderr.strip().splitlines()) == 1
    assert "nowhere" in missing.stderr
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "course.toml").write_text('slug = "x"\ntitle = "X"\nlicense = "Nope-1.0"\n')
    done = mechmooc_sqlite("course", "import", str(bad), check=False)
    assert done.returncode == 1 and done.stderr.strip() == (
        "error: course.toml:3: license 'Nope-1.0' is not an SPDX license id (Nope-1.0 unknown; see https://spdx.org/licenses/)"
    )
    assert mechmooc_sqlite("course", "export", "nope", str(tmp_path / "x"), check=False).stderr.startswith(
        "error: no course"
    )


ZONES = ["America/Los_Angeles", "America/New_York", "America/Sao_Paulo", "Europe/London", "Europe/Berlin"]
ZONES += ["Africa/Nairobi", "Asia/Kolkata", "Asia/Shanghai", "Asia/Tokyo", "Australia/Sydney"]


def _boot_here(tmp_path: Path, database_url: str | None):  # type: ignore[no-untyped-def]
    """Boot this test process on the CLI's database, to sign learners up through the services."""
    from server.floor.settings import load_settings
    from server.roof.bootstrap import boot

    environ = {"MECHMOOC_DATA_DIR": str(tmp_path / "data"), "MECHMOOC_URL": BASE_URL, "MECHMOOC_INSECURE_HTTP": "1"}
    if database_url:
        environ["MECHMOOC_DATABASE_URL"] = database_url
    return boot(load_settings(environ=environ), migrate=False)


def test_acceptance_200_learners_sign_up_confirm_and_are_grouped(mechmooc, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from courses.models import Enrollment
    from courses.runs import find_run
    from courses.signup import confirm, request_signup
    from server.floor.db import get_engine, session_scope

    mechmooc("course", "import", str(GENTLE))
    created = mechmooc("run", "create", "gentle-python", "--start", "2031-03-03", "--every", "1", "--timezone", "UTC")
    run_id = created.stdout.splitlines()[-1]
    assert run_id == f"{BASE_URL}/runs/gentle-python-2031-03-03"
    _boot_here(tmp_path, mechmooc.database_url)
    try:
        with session_scope() as session:
            run = find_run(session, run_id)
            for i in range(200):
                zone = ZONES[(i * 7) % len(ZONES)]
                language = "es" if i % 5 == 0 else "en"
                request_signup(
                    session, run, f"learner{i}@example.org", f"Learner {i}", zone, language, solo=i % 50 == 0
                )
        with session_scope() as session:
            tokens = session.scalars(select(Enrollment.token).order_by(Enrollment.id)).all()
            for token in tokens:
                assert not confirm(session, token).already
    finally:
        get_engine().dispose()
    mechmooc("run", "group", run_id)
    shown = json.loads(mechmooc("run", "show", run_id, "--json").stdout)
    assert (shown["course"], shown["start"], shown["learners"], shown["solo"]) == (
        "gentle-python",
        "2031-03-03",
        200,
        4,
    )
    groups = shown["groups"]
    members = [m["email"] for g in groups for m in g["members"]]
    assert len(members) == len(set(members)) == 196
    assert all(10 <= len(g["members"]) <= 30 for g in groups) and len(groups) == 10
    assert all(g["address"] == f"{g['handle']}@lists.example.org" for g in groups)
    # Ten zones of about twenty learners each: every group lives in one or two neighbouring zones.
    assert all(len({m["timezone"] for m in g["members"]}) <= 2 for g in groups)


def test_run_commands_refuse_bad_input_with_one_line(mechmooc_sqlite, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    mechmooc_sqlite("course", "import", str(GENTLE))
    run_id = mechmooc_sqlite("run", "create", "gentle-python", "--start", "2031-03-03").stdout.splitlines()[-1]
    handle = run_id.rsplit("/", 1)[1]
    for args, message in [
        (("run", "create", "gentle-python", "--start", "03/03/2031"), "error: --start '03/03/2031' must be a date"),
        (("run", "create", "nope", "--start", "2031-03-03"), "error: no course with slug nope"),
        (("run", "enroll", handle, "not-an-address"), "error: email 'not-an-address'"),
        (("run", "enroll", handle, "a@example.org", "--timezone", "Nowhere/City"), "error: timezone 'Nowhere/City'"),
        (("run", "show", "nope"), "error: no run nope"),
    ]:
        done = mechmooc_sqlite(*args, check=False)
        assert done.returncode != 0 and done.stderr.startswith(message), done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
    assert (
        mechmooc_sqlite("run", "enroll", handle, "ada@example.org", "--name", "Ada").stdout.strip()
        == "ada@example.org: confirmed"
    )
    csv_file = tmp_path / "learners.csv"
    csv_file.write_text(
        "email,name,timezone\nbo@example.org,Bo,Asia/Tokyo\nbad-address,X,UTC\nada@example.org,Ada,UTC\n"
    )
    refused = mechmooc_sqlite("run", "import", handle, str(csv_file), check=False)
    assert refused.returncode == 1 and "line 3: email 'bad-address'" in refused.stderr
    assert "line 4: ada@example.org is enrolled in run" in refused.stderr
    csv_file.write_text("email,name,timezone\nbo@example.org,Bo,Asia/Tokyo\ncy@example.org,Cy,UTC\n")
    assert (
        mechmooc_sqlite("run", "import", handle, str(csv_file), "--dry-run").stdout.splitlines()[-1] == "would enroll 2"
    )
    assert mechmooc_sqlite("run", "import", run_id, str(csv_file)).stdout.splitlines()[-1] == "enrolled 2"
    assert json.loads(mechmooc_sqlite("run", "show", handle, "--json").stdout)["learners"] == 3
