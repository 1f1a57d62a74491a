"""`mechmooc course follow|fork|upstream` and `mechmooc federation ...` as subprocesses: moderation and errors."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.support.instances import base_environment, mechmooc_command

pytestmark = pytest.mark.slow


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`mechmooc ARGS` on a data dir of this test."""
    env = base_environment({"MECHMOOC_DATA_DIR": str(tmp_path / "data"), "MECHMOOC_URL": "http://cli.localhost"})
    return subprocess.run(
        [*mechmooc_command(), *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )


def test_domain_blocks_and_the_report_queue(tmp_path: Path) -> None:
    blocked = run(tmp_path, "federation", "block-domain", "Spam.Example", "--reason", "spam")
    assert blocked.returncode == 0 and blocked.stdout.splitlines()[-1] == "spam.example"
    database = sqlite3.connect(tmp_path / "data" / "mechmooc.sqlite3")
    assert list(database.execute("SELECT domain, reason FROM federation_domain_blocks")) == [("spam.example", "spam")]
    database.execute(
        "INSERT INTO federation_reports (activity_id, reporter, targets, content, created_at, resolution)"
        " VALUES ('f1', 'https://social.example/users/mod', '[\"http://cli.localhost/users/x\"]', 'rude', '2026-11-25 10:00:00', '')"
    )
    database.commit()
    database.close()
    listed = json.loads(run(tmp_path, "federation", "reports", "--json").stdout)
    assert [(r["reporter"], r["content"]) for r in listed] == [("https://social.example/users/mod", "rude")]
    assert run(tmp_path, "federation", "unblock-domain", "spam.example").returncode == 0
    again = run(tmp_path, "federation", "unblock-domain", "spam.example")
    assert again.returncode == 1 and again.stderr.strip() == "error: domain spam.example is not blocked"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("course", "fork", "not a handle"), "error: 'not a handle' is not a fediverse handle like @user@host"),
        (("course", "follow", "http://cli.localhost/courses/x"), "is on this instance"),
        (("course", "upstream", "nope"), "error: no course with slug nope"),
        (("federation", "block-domain", "nodots"), "error: domain 'nodots' is not a host name"),
    ],
)
def test_bad_input_is_one_line_and_non_zero(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    done = run(tmp_path, *args)
    assert done.returncode == 1 and len(done.stderr.strip().splitlines()) == 1 and message in done.stderr


def test_removing_a_member_from_an_unknown_group_is_one_line(tmp_path: Path) -> None:
    done = run(tmp_path, "federation", "remove-member", "no-such-group", "ann@example.org")
    assert done.returncode == 1 and done.stderr.strip() == "error: no study group 'no-such-group' here"
