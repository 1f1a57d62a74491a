"""One-time login links (issue 15, item 1): they log in once, within their lifetime, and never double as a
password reset link (nor a reset link as one)."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select
from starlette.testclient import TestClient

from server.floor.accounts import Account
from server.floor.clock import frozen, now
from server.floor.db import session_scope
from tests.web.conftest import csrf_of
from web.login_links import issue_login_link
from web.passwords import issue_reset

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def link_for(email: str) -> str:
    with session_scope() as db:
        account = db.scalar(select(Account).where(Account.email == email))
        assert account is not None
        return issue_login_link(db, account).split("/", 3)[3]  # the path: /login/once/TOKEN


def use(client: TestClient, path: str) -> int:
    """Open the link, press its button; the status of the POST (400 when the page had no button)."""
    page = client.get("/" + path)
    token = CSRF.search(page.text)
    if page.status_code != 200 or token is None or 'action="/login/once/' not in page.text:
        return page.status_code
    return client.post("/" + path, data={"csrf_token": token.group(1)}, follow_redirects=False).status_code


def test_a_login_link_logs_in_once_and_not_twice(app, client: TestClient, people: dict[str, str]) -> None:
    path = link_for(people["admin"])
    assert client.get("/admin", follow_redirects=False).status_code in (302, 303)  # not logged in
    shown = client.get("/" + path)
    assert shown.status_code == 200 and people["admin"] in shown.text and "noindex" in shown.text
    assert client.get("/" + path).status_code == 200  # looking (a preview, a prefetch) spends nothing
    assert use(client, path) == 303
    assert client.get("/admin", follow_redirects=False).status_code == 200
    with TestClient(app, base_url="http://testserver.localhost") as other:
        assert use(other, path) == 400
        again = other.get("/" + path)
        assert "no longer works" in again.text and "mechmooc user login-link" in again.text
        assert other.post("/" + path, data={"csrf_token": csrf_of(other)}).status_code == 400
        assert other.get("/admin", follow_redirects=False).status_code in (302, 303)


def test_a_login_link_expires(client: TestClient, people: dict[str, str]) -> None:
    path = link_for(people["organizer"])
    with frozen(now() + timedelta(minutes=31)):
        assert use(client, path) == 400


def test_reset_and_login_links_are_not_interchangeable(client: TestClient, people: dict[str, str]) -> None:
    path = link_for(people["admin"])
    with session_scope() as db:
        account = db.scalar(select(Account).where(Account.email == people["admin"]))
        reset = issue_reset(db, account)  # type: ignore[arg-type]
    assert use(client, f"login/once/{reset}") == 400
    assert client.get("/password/reset/" + path.rsplit("/", 1)[1]).status_code == 400
    assert use(client, path) == 303  # neither attempt spent the real one


def test_a_disabled_account_cannot_use_its_link(client: TestClient, people: dict[str, str]) -> None:
    path = link_for(people["learner"])
    with session_scope() as db:
        db.scalar(select(Account).where(Account.email == people["learner"])).disabled = True  # type: ignore[union-attr]
    assert use(client, path) == 400
    assert use(client, "login/once/" + "x" * 43) == 400  # and a made-up token is the same page
