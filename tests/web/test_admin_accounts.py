"""The admin's account pages: invitations by mail, roles, disabling, and never losing the last admin."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email import message_from_string, policy

from sqlalchemy import select
from starlette.testclient import TestClient

from mail.models import OutgoingMail
from server.floor.accounts import Account
from server.floor.clock import frozen
from server.floor.db import session_scope
from tests.web.conftest import csrf_of, log_in

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def account(email: str) -> Account:
    with session_scope() as db:
        found = db.scalar(select(Account).where(Account.email == email))
    assert found is not None
    return found


def post(client: TestClient, path: str, **data: str) -> object:
    return client.post(path, data={**data, "csrf_token": csrf_of(client, "/admin/accounts")}, follow_redirects=True)


def test_admin_adds_an_organizer_who_chooses_a_password(client: TestClient, people: dict[str, str]) -> None:
    log_in(client, people["admin"])
    with frozen(T0):
        page = post(client, "/admin/accounts", email="nina@example.org", display_name="Nina", role="organizer")
    assert "nina@example.org can now choose a password" in page.text  # type: ignore[attr-defined]
    assert account("nina@example.org").role == "organizer"
    assert account("nina@example.org").password_hash is None
    with session_scope() as db:
        row = db.scalars(select(OutgoingMail).where(OutgoingMail.to_addr == "nina@example.org")).one()
        mail = message_from_string(row.message, policy=policy.default)
    text = mail.get_body(("plain",)).get_content()  # type: ignore[attr-defined]
    assert 'with the role "organizer"' in text and "within 7 days" in text
    path = re.search(r"/password/reset/\S+", text).group(0)  # type: ignore[union-attr]

    newcomer = TestClient(client.app, base_url="http://testserver.localhost")
    with frozen(T0 + timedelta(days=3)):
        token = csrf_of(newcomer, path)
        done = newcomer.post(path, data={"password": "nina's secret", "confirm": "nina's secret", "csrf_token": token})
    assert "Your new password is saved" in done.text
    assert "Otto" not in done.text and 'Nina <span class="role">(organizer)</span>' in done.text


def test_bad_new_account_names_the_field(client: TestClient, people: dict[str, str]) -> None:
    log_in(client, people["admin"])
    taken = post(client, "/admin/accounts", email=people["learner"], display_name="", role="organizer")
    assert taken.status_code == 400  # type: ignore[attr-defined]
    assert "An account with email lena@example.org exists already." in taken.text  # type: ignore[attr-defined]
    role = post(client, "/admin/accounts", email="x@example.org", display_name="", role="wizard")
    assert "Role &#39;wizard&#39; is not one of admin, organizer, moderator, learner." in role.text  # type: ignore[attr-defined]
    with session_scope() as db:
        assert db.scalar(select(Account).where(Account.email == "x@example.org")) is None
        assert db.scalars(select(OutgoingMail)).all() == []


def test_roles_change_and_disabled_accounts_are_logged_out(client: TestClient, app, people: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    learner = TestClient(app, base_url="http://testserver.localhost")
    log_in(learner, people["learner"])
    log_in(client, people["admin"])
    lena = account(people["learner"])
    page = post(client, f"/admin/accounts/{lena.id}", action="role", role="organizer")
    assert "lena@example.org is now organizer." in page.text  # type: ignore[attr-defined]
    assert learner.get("/test/organizers").status_code == 200
    page = post(client, f"/admin/accounts/{lena.id}", action="disable")
    assert "lena@example.org is disabled." in page.text  # type: ignore[attr-defined]
    assert learner.get("/test/organizers", follow_redirects=False).status_code == 303
    assert log_in(learner, people["learner"]).status_code == 400
    post(client, f"/admin/accounts/{lena.id}", action="enable")
    assert log_in(learner, people["learner"]).status_code == 303


def test_the_last_admin_stays_an_admin(client: TestClient, people: dict[str, str]) -> None:
    log_in(client, people["admin"])
    ada = account(people["admin"])
    page = post(client, f"/admin/accounts/{ada.id}", action="role", role="learner")
    assert "ada@example.org is the only admin: make someone else admin first." in page.text  # type: ignore[attr-defined]
    page = post(client, f"/admin/accounts/{ada.id}", action="disable")
    assert "is the only admin: it cannot be disabled" in page.text  # type: ignore[attr-defined]
    assert account(people["admin"]).role == "admin" and not account(people["admin"]).disabled
    otto = account(people["organizer"])
    post(client, f"/admin/accounts/{otto.id}", action="role", role="admin")
    post(client, f"/admin/accounts/{ada.id}", action="role", role="organizer")
    assert account(people["admin"]).role == "organizer"


def test_only_admins_reach_the_account_pages(client: TestClient, people: dict[str, str]) -> None:
    log_in(client, people["organizer"])
    assert client.get("/admin/accounts").status_code == 403
    otto = account(people["organizer"])
    token = csrf_of(client, "/")
    response = client.post(f"/admin/accounts/{otto.id}", data={"action": "role", "role": "admin", "csrf_token": token})
    assert response.status_code == 403
    assert account(people["organizer"]).role == "organizer"
