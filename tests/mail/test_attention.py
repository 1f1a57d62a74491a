"""What a fault leaves for a person: `mechmooc mail uncertain|failed [--json]`, `mail resend` and
`mail mark-sent` (ids or --all-uncertain), as a script would call them; the counts in /healthz."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update
from starlette.testclient import TestClient

from mail.models import UNCERTAIN, OutgoingMail
from mail.scheduler import schedule_all_due
from server.floor.clock import frozen
from server.floor.db import session_factory
from server.floor.queue import DONE, FAILED, QUEUED
from server.floor.settings import Settings
from server.roof.cli import main
from tests.mail.conftest import gentle_run
from tests.mail.test_cli import environment  # noqa: F401 - the CLI's instance, from its environment
from tests.support.smtp import SmtpSink

LEARNERS = [(f"{name}@example.org", name.title(), "UTC") for name in ("ann", "bob", "cy", "dee")]


def left_behind() -> dict[str, int]:
    """Units for four learners; Ann's and Bob's were in flight when a worker died, Cy's failed."""
    session = session_factory()()
    with frozen(datetime(2026, 3, 1, tzinfo=UTC)):
        gentle_run(session, LEARNERS)
    with frozen(datetime(2026, 3, 2, 9, tzinfo=UTC)):
        schedule_all_due(session)
    ids = dict(session.execute(select(OutgoingMail.to_addr, OutgoingMail.id)).all())
    for name, state in (("ann", UNCERTAIN), ("bob", UNCERTAIN), ("cy", FAILED)):
        session.execute(
            update(OutgoingMail)
            .where(OutgoingMail.id == ids[f"{name}@example.org"])
            .values(state=state, last_error="550 5.1.1 no such user" if state == FAILED else "worker stopped")
        )
    session.commit()
    session.close()
    return {address.split("@")[0]: mail_id for address, mail_id in ids.items()}


def state_of(mail_id: int) -> OutgoingMail:
    session = session_factory()()
    try:
        return session.scalars(select(OutgoingMail).where(OutgoingMail.id == mail_id)).one()
    finally:
        session.close()


def test_listing_with_message_ids_then_resend_and_mark_sent(environment: Settings, smtp_sink: SmtpSink) -> None:  # noqa: F811
    ids = left_behind()
    runner = CliRunner()
    listed = runner.invoke(main, ["mail", "uncertain", "--json"])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    assert [row["id"] for row in rows] == [ids["bob"], ids["ann"]]  # newest first
    assert rows[1]["message_id"] == state_of(ids["ann"]).message_id and rows[1]["message_id"].startswith("<")
    failed = runner.invoke(main, ["mail", "failed"])
    assert failed.exit_code == 0 and str(ids["cy"]) in failed.output and "550 5.1.1 no such user" in failed.output
    assert state_of(ids["cy"]).message_id in failed.output

    for args, message in (
        (["mail", "resend"], "give the ids of the mails or --all-uncertain"),
        (["mail", "resend", str(ids["ann"]), "--all-uncertain"], "give the ids of the mails or --all-uncertain"),
        (["mail", "resend", "99999"], "no outgoing mail 99999"),
        (["mail", "resend", str(ids["dee"])], f"mail {ids['dee']} is queued"),
        (["mail", "mark-sent", str(ids["cy"])], "only uncertain mails are marked sent"),
        (["mail", "mark-sent", "seven"], "'seven' is not a valid integer"),
    ):
        refused = runner.invoke(main, args)
        assert refused.exit_code != 0 and message in refused.output, (args, refused.output)
        assert len(refused.output.strip().splitlines()) == 1
    # Nothing changed by a refused command: all or nothing.
    assert {state_of(ids[n]).state for n in ("ann", "bob")} == {UNCERTAIN}

    marked = runner.invoke(main, ["mail", "mark-sent", str(ids["ann"])])
    assert marked.exit_code == 0 and marked.output.strip() == "1"
    ann = state_of(ids["ann"])
    assert ann.state == DONE and ann.smtp_response == "marked sent by an operator" and ann.sent_at is not None
    with frozen(datetime(2026, 3, 2, 9, 1, tzinfo=UTC)):  # the run's day, not the machine's
        again = runner.invoke(main, ["mail", "resend", "--all-uncertain", "--json"])
        assert json.loads(again.output) == {"queued": 1} and state_of(ids["bob"]).state == QUEUED
        assert runner.invoke(main, ["mail", "resend", str(ids["cy"])]).output.strip() == "1"
    sent = runner.invoke(main, ["mail", "send-due", "--now", "2026-03-02T09:05:00Z"])
    assert sent.output.strip().splitlines()[-1] == "3"  # Bob's and Cy's again, and Dee's
    bob = smtp_sink.to("bob@example.org")[0].message
    assert bob["Message-ID"] == state_of(ids["bob"]).message_id  # the same Message-ID: harmless if it arrived
    assert json.loads(runner.invoke(main, ["mail", "uncertain", "--json"]).output) == []
    assert runner.invoke(main, ["mail", "uncertain"]).output.strip() == "none"


def test_healthz_counts_uncertain_and_failed_mails(environment: Settings) -> None:  # noqa: F811
    from server.roof.app import create_app

    left_behind()
    report = TestClient(create_app(environment)).get("/healthz").json()
    assert report["mail"] == {"uncertain": 2, "failed": 1}


@pytest.mark.parametrize("command", ["uncertain", "failed"])
def test_an_empty_listing_is_an_empty_json_list(environment: Settings, command: str) -> None:  # noqa: F811
    listed = CliRunner().invoke(main, ["mail", command, "--json"])
    assert listed.exit_code == 0 and json.loads(listed.output) == []
