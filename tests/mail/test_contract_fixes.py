"""CONTRACT points of the mail package: multipart relays and confirmations, and `stats` per unit of the run."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from email.message import EmailMessage, Message

from sqlalchemy import select
from sqlalchemy.orm import Session

from courses.models import Enrollment, StudyGroup
from mail.lists import accept_group_mail
from mail.sender import send_all
from mail.stats import COLUMNS, run_stats, stats_text
from server.floor import urls
from server.floor.clock import frozen
from server.floor.events import publish
from server.floor.settings import Settings
from tests.mail.conftest import gentle_run
from tests.support.instances import base_environment, mechmooc_command
from tests.support.smtp import SmtpSink

START = datetime(2026, 3, 1, tzinfo=UTC)
LEARNERS = [("ann@example.org", "Ann", "UTC"), ("bob@example.org", "Bob", "UTC")]
GENTLE_UNITS = ["welcome", "variables", "conditionals", "functions", "lists-loops", "dictionaries", "project"]


def _bodies(message: Message) -> tuple[str, str]:
    """The text and HTML alternatives of a received mail (which must be multipart/alternative)."""
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]  # type: ignore[attr-defined]
    text = message.get_body(("plain",)).get_content()  # type: ignore[attr-defined]
    html = message.get_body(("html",)).get_content()  # type: ignore[attr-defined]
    return text, html


def _mail_to_group(sender: str, group: StudyGroup, message_id: str, html: str | None) -> EmailMessage:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = sender, urls.group_address(group.handle), "Garden"
    mail["Message-ID"] = message_id
    mail.set_content("I grow beans & peas <3, see https://example.org/beans.")
    if html is not None:
        mail.add_alternative(html, subtype="html")
    return mail


def test_relays_are_multipart_with_cleaned_or_built_html(
    session: Session, smtp_settings: Settings, smtp_sink: SmtpSink
) -> None:
    with frozen(START):
        gentle_run(session, LEARNERS)
    group = session.scalars(select(StudyGroup)).one()
    hostile = (
        '<p onclick="steal()">I grow <b>beans</b><script>alert("x")</script>'
        '<img src="https://tracker.example/p.gif"> <a href="javascript:steal()">j</a>'
        ' <a href="https://example.org/beans">beans</a></p>'
    )
    for message_id, html in (("<html-1@example.org>", hostile), ("<text-1@example.org>", None)):
        mail = _mail_to_group("Ann <ann@example.org>", group, message_id, html)
        # The envelope sender Ann's provider used: her own domain, so her From is believed (mail.screening).
        assert accept_group_mail(session, group, mail, mail.as_bytes(), "ann@example.org") == "posted"
    session.commit()
    send_all(session)
    relayed = {r.message["Message-ID"]: r.message for r in smtp_sink.to("bob@example.org")}
    assert set(relayed) == {"<html-1@example.org>", "<text-1@example.org>"}
    for copy in relayed.values():
        address = urls.group_address(group.handle)
        assert copy["From"].addresses[0].addr_spec == address and copy["Reply-To"] == address
        assert copy["X-Loop"] == address and copy["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert copy["List-Id"] and copy["List-Unsubscribe"].startswith("<http")
    text, html = _bodies(relayed["<html-1@example.org>"])
    assert "I grow beans & peas" in text
    assert "<b>beans</b>" in html and 'href="https://example.org/beans"' in html
    for gone in ("<script", "alert(", "onclick", "javascript:", "<img", "tracker.example"):
        assert gone not in html, gone
    text, html = _bodies(relayed["<text-1@example.org>"])
    assert "I grow beans & peas <3" in text
    assert "I grow beans &amp; peas &lt;3, see " in html
    assert '<a href="https://example.org/beans">https://example.org/beans</a>.' in html
    assert sorted(r.recipients[0] for r in smtp_sink.received) == ["bob@example.org"] * 2  # not back to Ann


def test_the_signup_confirmation_is_multipart_with_the_link_in_both_parts(
    session: Session, smtp_settings: Settings, smtp_sink: SmtpSink
) -> None:
    with frozen(START):
        run = gentle_run(session, [])
    pending = Enrollment(run_id=run.id, email="new@example.org", name="N <b>", status="pending", token="tok9")
    session.add(pending)
    session.flush()
    publish(session, "enrollment.requested", {"enrollment_id": pending.id})
    session.commit()
    assert send_all(session).sent == 1
    [received] = smtp_sink.to("new@example.org")
    text, html = _bodies(received.message)
    link = urls.signup_confirm("tok9")
    assert link in text and f'<a href="{link}">{link}</a>' in html
    assert "Hello N <b>," in text and "Hello N &lt;b&gt;," in html


def test_stats_of_a_fresh_run_lists_every_unit_with_zeros_and_whole_group_handles(
    session: Session, settings: Settings
) -> None:
    handle = "gentle-python-spring-2026-evening-cohort"
    with frozen(START):
        run = gentle_run(session, LEARNERS, handle=handle)
    report = run_stats(session, run)
    assert [u["slug"] for u in report["units"]] == GENTLE_UNITS
    assert [u["position"] for u in report["units"]] == list(range(7))
    assert all(u[c] == 0 for u in report["units"] for c in COLUMNS)
    assert [g["group"] for g in report["groups"]] == [f"{handle}-g1"]
    table = stats_text(report)
    assert f"group {handle}-g1 " in table and "lists-loops " in table
    assert len({len(line) for line in table.splitlines()[1:]}) == 1  # every row of the table lines up


def test_stats_refuses_another_servers_run_url_in_one_line(session: Session, settings: Settings) -> None:
    with frozen(START):
        gentle_run(session, LEARNERS)
    session.close()
    env = base_environment(
        {
            "MECHMOOC_DATA_DIR": str(settings.data_dir),
            "MECHMOOC_URL": settings.url,
            "MECHMOOC_INSECURE_HTTP": "1",
            "MECHMOOC_SECRET_KEY": settings.secret_key,
            "MECHMOOC_MAIL_DOMAIN": settings.mail_domain,
            "MECHMOOC_DATABASE_URL": settings.database_url,
        }
    )

    def stats(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*mechmooc_command(), "stats", *args], env=env, capture_output=True, text=True, timeout=120
        )

    foreign = stats("https://other.example/runs/gentle-python-1")
    assert foreign.returncode != 0 and foreign.stdout == ""
    lines = (foreign.stderr or foreign.stdout).strip().splitlines()
    assert len(lines) == 1 and "https://other.example/runs/gentle-python-1 is not a run of this instance" in lines[0]
    local = stats(urls.run("gentle-python-1"), "--json")
    assert local.returncode == 0, local.stderr
    assert [u["scheduled"] for u in json.loads(local.stdout)["units"]] == [0] * 7
