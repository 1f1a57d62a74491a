"""Password reset: an emailed link that works once, for an hour, and is stored only as a hash."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email import message_from_string, policy
from email.message import EmailMessage

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from mail.models import OutgoingMail
from server.floor.accounts import Account, check_password, create_account
from server.floor.clock import frozen
from server.floor.db import session_scope
from server.floor.errors import Invalid
from tests.web.conftest import csrf_of, log_in
from web import passwords
from web.models import PasswordReset

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
LINK = re.compile(r"http://testserver\.localhost(/password/reset/[A-Za-z0-9_-]+)")


def outbox() -> list[EmailMessage]:
    """The queued mails, parsed."""
    with session_scope() as db:
        rows = db.scalars(select(OutgoingMail).order_by(OutgoingMail.id)).all()
        return [message_from_string(row.message, policy=policy.default) for row in rows]  # type: ignore[misc]


def ask_for_link(client: TestClient, email: str) -> None:
    token = csrf_of(client, "/password/forgot")
    response = client.post("/password/forgot", data={"email": email, "csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303


def link_in(mail: EmailMessage) -> str:
    body = mail.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    match = LINK.search(text)
    assert match, text
    return match.group(1)


def test_reset_end_to_end(client: TestClient, people: dict[str, str]) -> None:
    ask_for_link(client, people["organizer"].upper())
    assert f"If {people['organizer'].upper()} belongs to an account" in client.get("/login").text
    [mail] = outbox()
    assert mail["To"] == people["organizer"]
    assert mail["Subject"] == "Reset your password"
    path = link_in(mail)
    form = client.get(path)
    assert form.status_code == 200 and "Choose a new password" in form.text
    token = csrf_of(client, path)
    short = client.post(path, data={"password": "short", "confirm": "short", "csrf_token": token})
    assert short.status_code == 400 and "Password must have at least 8 characters." in short.text
    done = client.post(
        path, data={"password": "a new secret", "confirm": "a new secret", "csrf_token": token}, follow_redirects=False
    )
    assert done.status_code == 303
    assert "Your new password is saved" in client.get("/").text
    again = client.post(
        path, data={"password": "another one!", "confirm": "another one!", "csrf_token": csrf_of(client, "/")}
    )
    assert again.status_code == 400 and "This link no longer works" in again.text
    assert client.get(path).status_code == 400
    client.post("/logout", data={"csrf_token": csrf_of(client, "/")})
    assert log_in(client, people["organizer"], "a new secret").status_code == 303


def test_unknown_address_gets_the_same_answer_and_no_mail(client: TestClient, people: dict[str, str]) -> None:
    ask_for_link(client, "stranger@example.org")
    assert "If stranger@example.org belongs to an account" in client.get("/login").text
    assert outbox() == []


def test_reset_requests_are_throttled(client: TestClient, people: dict[str, str]) -> None:
    for _ in range(5):
        ask_for_link(client, people["learner"])
    assert len(outbox()) == 3


def test_only_the_hash_of_the_token_is_stored(settings, people: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    with session_scope() as db:
        account = passwords.find_account(db, people["learner"])
        assert account is not None
        token = passwords.issue_reset(db, account)
        stored = db.scalars(select(PasswordReset.token_hash)).all()
    assert len(stored) == 1 and token not in stored[0] and len(stored[0]) == 64


def test_link_expires_after_an_hour(settings, people: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    with session_scope() as db, frozen(T0):
        account = passwords.find_account(db, people["learner"])
        assert account is not None
        token = passwords.issue_reset(db, account)
    with session_scope() as db, frozen(T0 + timedelta(minutes=59)):
        assert passwords.valid_reset(db, token) is not None
    with session_scope() as db, frozen(T0 + timedelta(hours=1)):
        assert passwords.valid_reset(db, token) is None
        with pytest.raises(Invalid, match="expired or was already used"):
            passwords.redeem_reset(db, token, "too late now")


def test_link_is_single_use_and_spends_the_other_links(settings, people: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    with session_scope() as db, frozen(T0):
        account = passwords.find_account(db, people["learner"])
        assert account is not None
        first, second = passwords.issue_reset(db, account), passwords.issue_reset(db, account)
    with session_scope() as db, frozen(T0 + timedelta(minutes=5)):
        assert passwords.redeem_reset(db, first, "first new password").email == people["learner"]
    with session_scope() as db, frozen(T0 + timedelta(minutes=6)):
        for token in (first, second):
            with pytest.raises(Invalid):
                passwords.redeem_reset(db, token, "second new password")
        account = db.scalar(select(Account).where(Account.email == people["learner"]))
        assert account is not None and check_password(account, "first new password")


def test_expired_link_in_the_browser_flow(client: TestClient, people: dict[str, str]) -> None:
    with frozen(T0):
        ask_for_link(client, people["learner"])
    path = link_in(outbox()[0])
    with frozen(T0 + timedelta(hours=2)):
        page = client.get(path)
    assert page.status_code == 400
    assert 'href="/password/forgot"' in page.text


def test_one_client_cannot_mail_many_addresses(client: TestClient, settings) -> None:  # type: ignore[no-untyped-def]
    with session_scope() as db:
        for n in range(12):
            create_account(db, f"learner{n}@example.org", "a password!", role="learner")
    for n in range(12):
        ask_for_link(client, f"learner{n}@example.org")
    assert len(outbox()) == 10
