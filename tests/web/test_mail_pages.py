"""The mail package's pages: unsubscribe confirmation, the organizer's run mail dashboard, the outbox admin."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.testclient import TestClient

import mail.routes
import web.app
from courses.models import Enrollment
from mail.addresses import unsubscribe_key
from mail.models import OutgoingMail
from mail.scheduler import schedule_all_due
from mail.sender import send_all
from server.floor.accounts import Account
from server.floor.clock import frozen
from server.floor.db import session_scope
from server.floor.settings import Settings
from tests.mail.conftest import gentle_run
from tests.web.conftest import csrf_of, log_in

START = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def site(settings: Settings) -> TestClient:
    """The mail endpoints and every page, as the roof mounts them."""
    app = Starlette(
        routes=[*mail.routes.routes(), *web.app.routes()],
        middleware=web.app.middleware(settings),
        exception_handlers=web.app.exception_handlers(),
    )
    with TestClient(app, base_url="http://testserver.localhost") as client:
        yield client


def a_run_with_mail(organizer_email: str | None = None) -> tuple[str, str]:
    """A run whose first unit went to the local outbox; (run handle, the key of Ann's unsubscribe link)."""
    with session_scope() as session:
        with frozen(START):
            run = gentle_run(session, [("ann@example.org", "Ann", "UTC"), ("bob@example.org", "Bob", "UTC")])
        if organizer_email:
            run.organizer_id = session.scalar(select(Account.id).where(Account.email == organizer_email))
            session.commit()
        with frozen(datetime(2026, 3, 2, 12, tzinfo=UTC)):
            schedule_all_due(session)
            send_all(session)
        token = session.scalar(select(OutgoingMail.token).where(OutgoingMail.to_addr == "ann@example.org"))
        return run.handle, unsubscribe_key(str(token))


def test_unsubscribe_confirmation_page_and_its_buttons(site: TestClient) -> None:
    _, token = a_run_with_mail()
    page = site.get(f"/mail/unsubscribe/{token}")
    assert page.status_code == 200
    assert "A Gentle Introduction to Python" in page.text and "ann@example.org" in page.text
    done = site.post(f"/mail/unsubscribe/{token}", data={"scope": "run", "page": "1"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].endswith("?done=run")
    assert "will get no more mail from A Gentle Introduction to Python" in site.get(done.headers["location"]).text
    with session_scope() as session:
        assert (
            session.scalars(select(Enrollment.status).where(Enrollment.email == "ann@example.org")).one()
            == "unsubscribed"
        )
    assert site.get("/mail/unsubscribe/unknown").status_code == 404


def test_organizer_sees_run_stats_downloads_csv_and_sends_a_one_off(site: TestClient, people: dict[str, str]) -> None:
    handle, _ = a_run_with_mail(people["organizer"])
    assert log_in(site, people["organizer"]).status_code == 303
    page = site.get(f"/organize/runs/{handle}/mail")
    assert (
        page.status_code == 200 and "clicks" in page.text and "Welcome to your study group" in page.text
    )  # units by title
    csv_text = site.get(f"/organize/runs/{handle}/mail.csv").text
    assert csv_text.splitlines()[0] == "level,name,scheduled,sent,delivered,bounced,opened,clicked,unsubscribed,replies"
    assert csv_text.splitlines()[1].startswith("unit,welcome,2,2,2,0")
    token = csrf_of(site, f"/organize/runs/{handle}/mail")
    form = {"csrf_token": token, "subject": "Meet-up", "body": "Hi {{ learner.name }}", "audience": "run"}
    preview = site.post(f"/organize/runs/{handle}/mail", data={**form, "action": "preview"})
    assert preview.status_code == 200 and "Hi Sample Learner" in preview.text and "Hi Ann" not in preview.text
    sent = site.post(f"/organize/runs/{handle}/mail", data={**form, "action": "send"}, follow_redirects=False)
    assert sent.status_code == 303
    assert "One-off: Meet-up" in site.get(f"/organize/runs/{handle}/mail").text  # one-off mails count too
    broken = site.post(f"/organize/runs/{handle}/mail", data={**form, "body": "{% if %}", "action": "send"})
    assert broken.status_code == 400
    with session_scope() as session:
        kinds = session.scalars(select(OutgoingMail.kind).where(OutgoingMail.kind == "compose")).all()
    assert len(kinds) == 2


def test_another_organizer_may_not_see_the_run_mail(site: TestClient, people: dict[str, str], session: Session) -> None:
    handle, _ = a_run_with_mail(people["admin"])
    log_in(site, people["organizer"])
    assert site.get(f"/organize/runs/{handle}/mail").status_code == 403


def test_admin_outbox_lists_uncertain_mail_and_sends_it_again(site: TestClient, people: dict[str, str]) -> None:
    a_run_with_mail()
    with session_scope() as session:
        row = session.scalars(select(OutgoingMail).where(OutgoingMail.to_addr == "bob@example.org")).one()
        row.state, row.last_error = "uncertain", "worker stopped between SMTP and recording"
        mail_id = row.id
    log_in(site, people["admin"])
    page = site.get("/admin/mail")
    assert page.status_code == 200 and "worker stopped between SMTP and recording" in page.text
    assert "/admin/mail/local/" in page.text  # no SMTP configured: the local outbox is listed
    local = page.text.split('href="/admin/mail/local/')[1].split('"')[0]
    assert (
        "bob@example.org" in site.get(f"/admin/mail/local/{local}").text
        or "ann@example.org" in site.get(f"/admin/mail/local/{local}").text
    )
    token = csrf_of(site, "/admin/mail")
    resent = site.post(f"/admin/mail/{mail_id}/resend", data={"csrf_token": token}, follow_redirects=False)
    assert resent.status_code == 303
    with session_scope() as session:
        assert session.get(OutgoingMail, mail_id).state == "queued"  # type: ignore[union-attr]
    log_in(site, people["organizer"])
    assert site.get("/admin/mail").status_code == 403


def test_admin_outbox_pages_past_a_hundred_and_acts_on_every_uncertain_mail(
    site: TestClient, people: dict[str, str]
) -> None:
    from sqlalchemy import update

    from mail.outbox import queue_system_mail

    with session_scope() as session:
        for n in range(130):
            queue_system_mail(session, f"person{n}@example.org", f"Notice {n}", "Hello")
        session.flush()
        session.execute(update(OutgoingMail).values(state="uncertain", last_error="worker stopped"))
        session.execute(
            update(OutgoingMail).where(OutgoingMail.to_addr == "person0@example.org").values(state="failed")
        )
    log_in(site, people["admin"])
    index = site.get("/admin")
    assert "<strong>129</strong> uncertain, <strong>1</strong> failed" in index.text  # the dashboard counts
    first = site.get("/admin/mail")
    rows = re.findall(r"/admin/mail/\d+/mark-sent", first.text)
    assert len(rows) == 100 and "person129@example.org" in first.text
    older = re.search(r'href="/admin/mail\?before=(\d+)" rel="next"', first.text)
    assert older is not None
    second = site.get(f"/admin/mail?before={older.group(1)}")
    assert "person29@example.org" in second.text and "person30@example.org" not in second.text
    assert "person0@example.org" in second.text and 'rel="next"' not in second.text  # the 130th, failed
    failed_only = site.get("/admin/mail?state=failed")
    assert "person0@example.org" in failed_only.text and "person1@example.org" not in failed_only.text
    assert site.get("/admin/mail?before=yesterday").status_code == 400
    assert site.get("/admin/mail?state=lost").status_code == 400
    token = csrf_of(site, "/admin/mail")
    marked = site.post("/admin/mail/uncertain/mark-sent", data={"csrf_token": token}, follow_redirects=True)
    assert "129 uncertain mails are recorded as sent." in marked.text
    with session_scope() as session:
        states = dict(session.execute(select(OutgoingMail.state, func.count()).group_by(OutgoingMail.state)).all())
    assert states == {"done": 129, "failed": 1}
    assert "<strong>0</strong> uncertain" in site.get("/admin").text
