"""`stats` counts every mail of a run (one-off mails and group relays too), and each bounce once."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.testclient import TestClient

import mail.routes
from courses.models import Post, StudyGroup
from mail import compose
from mail.addresses import unsubscribe_key, verp
from mail.inbound import receive
from mail.models import MailEvent, OutgoingMail, Suppression
from mail.scheduler import schedule_all_due
from mail.sender import send_all
from mail.stats import run_stats, stats_csv, stats_text
from server.floor.clock import frozen
from server.floor.events import publish
from server.floor.settings import Settings
from tests.mail.conftest import gentle_run
from tests.mail.test_lifecycle import dsn
from tests.support.smtp import SmtpSink

START = datetime(2026, 3, 1, tzinfo=UTC)
NOON = datetime(2026, 3, 2, 12, tzinfo=UTC)
LEARNERS = [("ann@example.org", "Ann", "UTC"), ("bob@example.org", "Bob", "UTC"), ("cy@example.org", "Cy", "UTC")]


def mail_to(session: Session, address: str, kind: str) -> OutgoingMail:
    row = session.scalars(select(OutgoingMail).where(OutgoingMail.to_addr == address, OutgoingMail.kind == kind)).one()
    session.commit()
    return row


def test_one_off_mails_and_relays_count_with_their_clicks_bounces_and_unsubscribes(
    session: Session, smtp_settings: Settings, smtp_sink: SmtpSink
) -> None:
    with frozen(START):
        run = gentle_run(session, LEARNERS)
    with frozen(NOON):
        schedule_all_due(session)
        letter = compose.create(session, run.id, "Meet-up on Friday", "See [the map](https://example.org/map).")
        compose.test_send(session, letter, "organizer@example.org")  # a test to oneself counts nowhere
        compose.send_now(session, letter)
        group = session.scalars(select(StudyGroup)).first()
        assert group is not None
        post = Post(group_id=group.id, run_id=run.id, source="local", author_email="ann@example.org", author_name="Ann")
        post.subject, post.text = "Hello group", "Shall we meet?"
        session.add(post)
        session.flush()
        publish(session, "post.created", {"post_id": post.id})
        session.commit()
        send_all(session)
    app = TestClient(Starlette(routes=mail.routes.routes()))
    # Bob clicks the link in the one-off mail; Cy unsubscribes from a relay; Ann's one-off bounced.
    [one_off] = [r.message for r in smtp_sink.to("bob@example.org") if r.message["Subject"] == "Meet-up on Friday"]
    html = one_off.get_body(("html",)).get_content()
    link = re.search(r'href="(http://testserver\.localhost/mail/c/[^"]+)"', html)
    assert link is not None, html
    assert app.get(link.group(1).replace("&amp;", "&"), follow_redirects=False).status_code == 302
    relay = mail_to(session, "cy@example.org", "relay")
    assert app.post(f"/mail/unsubscribe/{unsubscribe_key(relay.token)}").status_code == 200
    ann = mail_to(session, "ann@example.org", "compose")
    receive(dsn(verp(ann.token), "ann@example.org", "5.1.1", "failed"), [verp(ann.token)])
    session.expire_all()

    report = run_stats(session, run)
    rows = {row["kind"]: row for row in report["mails"]}
    assert rows["compose"]["name"] == "Meet-up on Friday"
    assert {k: rows["compose"][k] for k in ("scheduled", "sent", "clicked", "bounced")} == {
        "scheduled": 3,
        "sent": 3,
        "clicked": 1,
        "bounced": 1,
    }
    assert (rows["relay"]["scheduled"], rows["relay"]["unsubscribed"]) == (2, 1)  # Bob and Cy, not the author
    units_sent = sum(unit["sent"] for unit in report["units"])
    assert report["total"]["sent"] == units_sent + 3 + 2
    assert (report["total"]["clicked"], report["total"]["bounced"], report["total"]["unsubscribed"]) == (1, 1, 1)
    assert report["headline"]["clicked"] == 1
    assert sum(group["sent"] for group in report["groups"]) == report["total"]["sent"]
    assert "one-off: Meet-up on Friday" in stats_text(report) and "group relays" in stats_text(report)
    assert "mail,Meet-up on Friday,3,3,2,1,0,1,0,0" in stats_csv(report).splitlines()


@pytest.mark.parametrize(
    ("status", "action", "kind"), [("5.1.1", "failed", "bounce"), ("4.2.2", "delayed", "soft_bounce")]
)
def test_the_same_dsn_received_three_times_counts_once(
    session: Session, settings: Settings, status: str, action: str, kind: str
) -> None:
    with frozen(START):
        run = gentle_run(session, LEARNERS)
    with frozen(NOON):
        schedule_all_due(session)
        send_all(session)
    bob = session.scalars(select(OutgoingMail).where(OutgoingMail.to_addr == "bob@example.org")).one()
    session.commit()
    report = dsn(verp(bob.token), "bob@example.org", status, action)
    outcomes = [receive(report, [verp(bob.token)])[0] for _ in range(3)]
    assert outcomes == [kind, f"{kind}: already counted", f"{kind}: already counted"]
    session.expire_all()
    assert len(session.scalars(select(MailEvent).where(MailEvent.kind == kind)).all()) == 1
    suppression = session.scalars(select(Suppression)).one()
    if kind == "soft_bounce":
        # Three copies of one delay notice are one soft bounce, not the three that suppress an address.
        assert (suppression.soft_bounces, suppression.active) == (1, False)
    else:
        assert suppression.active and run_stats(session, run)["total"]["bounced"] == 1
