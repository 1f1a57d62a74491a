"""Shared setup of the course pages' tests: the whole app, a published course with an open run, people."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from courses.folder import import_course
from courses.models import Course
from courses.runs import create_run
from server.floor.accounts import Account, create_account
from server.floor.clock import now
from server.floor.db import session_scope
from server.floor.settings import Settings
from server.roof.app import create_app
from tests.web.conftest import PASSWORD, csrf_of, log_in

GENTLE = Path(__file__).parents[1] / "fixtures" / "courses" / "gentle-python"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
CONFIRM_LINK = re.compile(r"/signup/confirm/([A-Za-z0-9_-]+)")


@dataclass
class World:
    """The ids and handles a test needs: a course owned by `owner`, a run starting in two weeks."""

    slug: str
    run: str
    owner: str
    other: str
    admin: str


def start_in(days: int) -> date:
    """A start date `days` from the (test) clock's today."""
    return (now() + timedelta(days=days)).date()


@pytest.fixture
def world(settings: Settings) -> World:
    """gentle-python owned by organizer Olga (published), an open run, organizer Bob and admin Ada."""
    with session_scope() as db:
        olga = create_account(db, "olga@example.org", PASSWORD, role="organizer")
        create_account(db, "bob@example.org", PASSWORD, role="organizer")
        create_account(db, "ada@example.org", PASSWORD, role="admin")
        course = import_course(db, GENTLE)
        course.owner_id = olga.id
        run = create_run(db, course, start_in(14), "Europe/Paris", organizer=olga)
        return World(course.slug, run.handle, "olga@example.org", "bob@example.org", "ada@example.org")


@pytest.fixture
def web(settings: Settings) -> Iterator[TestClient]:
    """A browser-like client of the whole app (federation, mail and web routes)."""
    with TestClient(create_app(settings), base_url="http://testserver.localhost") as client:
        yield client


def logged_in(client: TestClient, email: str) -> TestClient:
    """`client` after logging in as `email`."""
    response = log_in(client, email)
    assert response.status_code == 303, response.text
    return client


def token_on(client: TestClient, path: str) -> str:
    """The CSRF token of the form page at `path`."""
    return csrf_of(client, path)


def outbox_texts(to: str) -> list[str]:
    """The plain-text bodies of the mails queued to `to` (the mail outbox rows), decoded."""
    from mail.models import OutgoingMail

    with session_scope() as db:
        query = select(OutgoingMail.message).where(OutgoingMail.to_addr == to).order_by(OutgoingMail.id)
        messages = [email.message_from_string(text, policy=email.policy.default) for text in db.scalars(query)]
    return [message.get_body(("plain",)).get_content() for message in messages]  # type: ignore[union-attr]


def account_id(email: str) -> int:
    """The id of the account with `email`."""
    with session_scope() as db:
        return db.scalar(select(Account.id).where(Account.email == email))  # type: ignore[return-value]


def course_row(slug: str) -> Course:
    """The course `slug` with its units loaded (detached)."""
    with session_scope() as db:
        course = db.scalar(select(Course).where(Course.slug == slug))
        assert course is not None
        _ = [unit.slug for unit in course.units], [v.number for v in course.versions]
        return course
