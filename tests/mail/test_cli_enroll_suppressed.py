"""`mechmooc run enroll` of a suppressed address: the suppression stays, and the admin is told so."""

from __future__ import annotations

from datetime import UTC, datetime

from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from mail.models import Suppression
from mail.suppressions import suppress
from server.floor.clock import frozen
from server.floor.db import session_factory
from server.floor.settings import Settings
from server.roof.cli import main
from tests.mail.conftest import gentle_run
from tests.mail.test_cli import environment  # noqa: F401  (fixture)


def test_run_enroll_keeps_a_complaint_and_says_so(environment: Settings) -> None:  # noqa: F811
    session: Session = session_factory()()
    with frozen(datetime(2026, 3, 1, tzinfo=UTC)):
        gentle_run(session, [("ann@example.org", "Ann", "UTC")])
    suppress(session, "cat@example.org", "complaint")
    session.commit()
    done = CliRunner().invoke(main, ["run", "enroll", "gentle-python-1", "cat@example.org", "--name", "Cat"])
    assert done.exit_code == 0, done.output
    lines = done.output.strip().splitlines()
    assert lines[0] == "cat@example.org: confirmed"
    assert lines[1] == "note: cat@example.org is suppressed (complaint): no mail reaches it until they sign up"
    session.expire_all()
    assert session.scalars(select(Suppression.active).where(Suppression.email == "cat@example.org")).one() is True
    plain = CliRunner().invoke(main, ["run", "enroll", "gentle-python-1", "dan@example.org"])
    assert plain.output.strip().splitlines() == ["dan@example.org: confirmed"]
    session.close()
