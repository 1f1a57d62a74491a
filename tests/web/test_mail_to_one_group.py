"""One-off mails to one study group, and copying a one-off mail to another run (issue 11, smaller items)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.testclient import TestClient

import mail.routes
import web.app
from mail.models import Composition, OutgoingMail
from server.floor.accounts import Account
from server.floor.clock import frozen
from server.floor.db import session_scope
from server.floor.settings import Settings
from tests.mail.conftest import gentle_run
from tests.web.conftest import csrf_of, log_in

START = datetime(2026, 3, 1, tzinfo=UTC)
PEOPLE = [(f"{name}@example.org", name.title(), "UTC") for name in ("ann", "bob", "cy", "dee")]


@pytest.fixture
def site(settings: Settings) -> TestClient:
    app = Starlette(
        routes=[*mail.routes.routes(), *web.app.routes()],
        middleware=web.app.middleware(settings),
        exception_handlers=web.app.exception_handlers(),
    )
    with TestClient(app, base_url="http://testserver.localhost") as client:
        yield client


def runs_of(organizer: str, *handles: str) -> list[str]:
    """Runs of gentle-python (two groups of two each) organized by `organizer`."""
    with session_scope() as session:
        owner = session.scalar(select(Account.id).where(Account.email == organizer))
        made = []
        for handle in handles:
            with frozen(START):
                run = gentle_run(session, PEOPLE, group_size=2, handle=handle)
            run.organizer_id = owner
            made.append(run.handle)
        session.commit()
    return made


def one_off_recipients() -> list[str]:
    with session_scope() as session:
        return sorted(session.scalars(select(OutgoingMail.to_addr).where(OutgoingMail.kind == "compose")))


def test_a_one_off_mail_to_one_group_reaches_only_its_members(site: TestClient, people: dict[str, str]) -> None:
    (handle,) = runs_of(people["organizer"], "run-a")
    assert log_in(site, people["organizer"]).status_code == 303
    page = site.get(f"/organize/runs/{handle}/mail").text
    assert 'value="group"' in page and f'<option value="{handle}-g2"' in page
    form = {
        "csrf_token": csrf_of(site, f"/organize/runs/{handle}/mail"), "subject": "Your group meets Friday",
        "body": "Hello {{ group.name }}", "audience": "group", "group": f"{handle}-g2", "action": "send",
    }  # fmt: skip
    sent = site.post(f"/organize/runs/{handle}/mail", data=form, follow_redirects=False)
    assert sent.status_code == 303
    assert one_off_recipients() == ["cy@example.org", "dee@example.org"]
    unknown = site.post(f"/organize/runs/{handle}/mail", data={**form, "group": "nope"})
    assert unknown.status_code == 400 and "has no group nope" in unknown.text
    missing = site.post(f"/organize/runs/{handle}/mail", data={**form, "group": ""})
    assert missing.status_code == 400 and "say which group" in missing.text


def test_a_one_off_mail_is_copied_to_another_run_as_a_draft_and_sent_there(
    site: TestClient, people: dict[str, str]
) -> None:
    first, second = runs_of(people["organizer"], "run-a", "run-b")
    (foreign,) = runs_of(people["admin"], "run-c")
    assert log_in(site, people["organizer"]).status_code == 303
    token = csrf_of(site, f"/organize/runs/{first}/mail")
    form = {"csrf_token": token, "subject": "Week 2 tips", "body": "Read this", "audience": "run", "action": "send"}
    site.post(f"/organize/runs/{first}/mail", data=form)
    with session_scope() as session:
        mail_id = session.scalars(select(Composition.id)).one()
    page = site.get(f"/organize/runs/{first}/mail").text
    assert "Week 2 tips" in page and f'<option value="{second}">' in page and foreign not in page
    refused = site.post(f"/organize/runs/{first}/mail/{mail_id}/copy", data={"csrf_token": token, "run": foreign})
    assert refused.status_code == 403
    copied = site.post(
        f"/organize/runs/{first}/mail/{mail_id}/copy", data={"csrf_token": token, "run": second}, follow_redirects=False
    )
    assert copied.status_code == 303 and copied.headers["location"] == f"/organize/runs/{second}/mail"
    with session_scope() as session:
        draft = session.scalars(select(Composition).where(Composition.id != mail_id)).one()
        assert (draft.subject, draft.sent_at, draft.send_at) == ("Week 2 tips", None, None)
    assert "draft" in site.get(f"/organize/runs/{second}/mail").text
    sent = site.post(f"/organize/runs/{second}/mail/{draft.id}/send", data={"csrf_token": token})
    assert sent.status_code == 200 and len(one_off_recipients()) == 8
    again = site.post(f"/organize/runs/{second}/mail/{draft.id}/send", data={"csrf_token": token})
    assert again.status_code == 400 and len(one_off_recipients()) == 8
    assert site.post(f"/organize/runs/{second}/mail/999/copy", data={"csrf_token": token}).status_code == 404
