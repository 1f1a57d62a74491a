"""Groups after the run (issue 13): when the run finishes its groups stay open, relaying mail, until the
organizer closes them (`mechmooc run close-groups`); then the SMTP receiver refuses mail to them with a
550 that says so, and nothing more is relayed."""

from __future__ import annotations

import smtplib
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from courses.models import Post, StudyGroup
from mail.inbound import receive
from mail.lists import CLOSED_BY_ORGANIZER
from mail.models import OutgoingMail
from server.floor import urls
from server.floor.clock import frozen
from server.floor.settings import Settings
from server.roof.cli import main
from tests.mail.conftest import gentle_run
from tests.mail.test_retention import ended, mail_group

START = datetime(2026, 3, 1, tzinfo=UTC)
PEOPLE = [(f"{name}@example.org", name.title(), "UTC") for name in ("ann", "bob", "cy", "dee")]


def relays_to(session: Session, address: str) -> list[str]:
    session.expire_all()
    query = select(OutgoingMail.subject).where(OutgoingMail.kind == "relay", OutgoingMail.to_addr == address)
    return list(session.scalars(query.order_by(OutgoingMail.id)))


def test_groups_stay_open_after_the_run_until_closed_then_refuse_mail(
    session: Session, smtp_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {"DATA_DIR": str(smtp_settings.data_dir), "URL": smtp_settings.url, "INSECURE_HTTP": "1",
                        "SECRET_KEY": smtp_settings.secret_key, "MAIL_DOMAIN": smtp_settings.mail_domain,
                        "DATABASE_URL": smtp_settings.database_url, "SMTP_URL": smtp_settings.smtp_url or ""}.items():  # fmt: skip
        if value:
            monkeypatch.setenv(f"MECHMOOC_{name}", value)
    with frozen(START):
        run = gentle_run(session, PEOPLE, group_size=2)  # ann+bob, cy+dee
    first, second = session.scalars(select(StudyGroup).order_by(StudyGroup.number)).all()
    end = ended(session, run)

    # Finished: both groups go on, mail relayed as during the run.
    with frozen(end + timedelta(days=30)):
        mail_group(smtp_settings, "ann@example.org", urls.group_address(first.handle), "Still here", "Anyone?")
        mail_group(smtp_settings, "cy@example.org", urls.group_address(second.handle), "Us too", "Hi")
    assert relays_to(session, "bob@example.org") == ["Still here"]
    assert relays_to(session, "dee@example.org") == ["Us too"]

    # The organizer closes the first group from the command line, then all of them.
    one = CliRunner().invoke(main, ["run", "close-groups", run.handle, "--group", first.handle])
    assert one.exit_code == 0, one.output
    assert f"closed 1 groups: {first.handle}" in one.output
    with frozen(end + timedelta(days=31)):
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            mail_group(smtp_settings, "ann@example.org", urls.group_address(first.handle), "Hello?", "Anyone?")
        mail_group(smtp_settings, "cy@example.org", urls.group_address(second.handle), "Still open", "Yes")
    code, reason = refused.value.recipients[urls.group_address(first.handle)]
    assert code == 550 and CLOSED_BY_ORGANIZER.encode() in reason
    assert relays_to(session, "dee@example.org") == ["Us too", "Still open"]
    raw = b"From: ann@example.org\r\nSubject: late\r\nMessage-ID: <late@example.org>\r\n\r\nhi\r\n"
    assert receive(raw, [urls.group_address(first.handle)]) == [f"rejected: {CLOSED_BY_ORGANIZER}"]

    rest = CliRunner().invoke(main, ["run", "close-groups", run.handle])
    assert rest.exit_code == 0 and f"closed 1 groups: {second.handle}" in rest.output, rest.output
    assert "all were closed" in CliRunner().invoke(main, ["run", "close-groups", run.handle]).output
    with frozen(end + timedelta(days=32)), pytest.raises(smtplib.SMTPRecipientsRefused):
        mail_group(smtp_settings, "cy@example.org", urls.group_address(second.handle), "Gone?", "Hm")
    assert relays_to(session, "bob@example.org") == ["Still here"] and len(relays_to(session, "dee@example.org")) == 2
    # The archive stays: what was said before closing is kept.
    assert {p.subject for p in session.scalars(select(Post))} == {"Still here", "Us too", "Still open"}
