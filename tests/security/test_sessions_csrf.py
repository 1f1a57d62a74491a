"""Sessions end on the server, and the CSRF exemption covers ActivityPub deliveries only.

The attacks: a session cookie copied before logout (from a shared computer, a proxy log) stayed
valid for its 14 days, since logout only cleared the browser's copy; and any POST to a path ending
in `/inbox` skipped the CSRF check, so a page of ours at such a path would take forged forms.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

import web.app
from server.floor.accounts import create_account
from server.floor.db import session_scope
from server.floor.settings import Settings
from server.roof.app import create_app
from tests.web.conftest import PASSWORD, csrf_of, log_in
from web.app import SESSION_COOKIE

BASE = "http://testserver.localhost"


@pytest.fixture
def app(settings: Settings) -> Starlette:
    """The whole app, with Ada (organizer) as an account."""
    with session_scope() as db:
        create_account(db, "ada@example.org", PASSWORD, role="organizer")
    return create_app(settings)


def browser(app: Starlette, cookie: str | None = None) -> TestClient:
    """A client of `app`, optionally holding a copy of someone's session cookie."""
    client = TestClient(app, base_url=BASE)
    if cookie is not None:
        client.cookies.set(SESSION_COOKIE, cookie)
    return client


def logged_in_cookie(client: TestClient) -> str:
    assert log_in(client, "ada@example.org").status_code == 303
    assert client.get("/account").status_code == 200
    return str(client.cookies[SESSION_COOKIE])


def test_a_cookie_copied_before_logout_is_dead_after_it(app: Starlette) -> None:
    with browser(app) as ada:
        stolen = logged_in_cookie(ada)
        response = ada.post("/logout", data={"csrf_token": csrf_of(ada, "/account")}, follow_redirects=False)
        assert response.status_code == 303
    with browser(app, stolen) as thief:
        answer = thief.get("/account", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")


def test_logout_ends_the_account_s_other_sessions_and_a_new_login_works(app: Starlette) -> None:
    with browser(app) as laptop, browser(app) as phone:
        logged_in_cookie(laptop)
        logged_in_cookie(phone)
        laptop.post("/logout", data={"csrf_token": csrf_of(laptop, "/account")})
        assert phone.get("/account", follow_redirects=False).status_code == 303
        logged_in_cookie(laptop)  # logging in again starts a session of the new epoch


def test_a_password_change_ends_a_copied_cookie_but_keeps_this_session(app: Starlette) -> None:
    with browser(app) as ada:
        stolen = logged_in_cookie(ada)
        form = {"current": PASSWORD, "password": "a new long password", "confirm": "a new long password"}
        response = ada.post("/account/password", data={**form, "csrf_token": csrf_of(ada, "/account")})
        assert response.status_code == 200 and "new password is saved" in response.text
        assert ada.get("/account").status_code == 200
    with browser(app, stolen) as thief:
        assert thief.get("/account", follow_redirects=False).status_code == 303


def changed(request: Request) -> Response:
    """Stands for a page of ours that changes something on POST and happens to end in /inbox."""
    return PlainTextResponse("changed")


@pytest.fixture
def pages(settings: Settings) -> Iterator[TestClient]:
    """The web shell with a people's-messages page at /messages/inbox and an actor inbox."""
    app = Starlette(
        routes=[
            Route("/messages/inbox", changed, methods=["POST"]),
            Route("/users/{handle}/inbox", changed, methods=["POST"]),
            Route("/users/{handle}/outbox", changed, methods=["POST"]),
            *web.app.routes(),
        ],
        middleware=web.app.middleware(settings),
        exception_handlers=web.app.exception_handlers(),
    )
    with TestClient(app, base_url=BASE) as client:
        yield client


def test_a_forged_form_to_a_page_ending_in_inbox_is_refused(pages: TestClient) -> None:
    # The forging site's form: the victim's session cookie goes along, the token cannot.
    csrf_of(pages, "/login")
    for path in ("/messages/inbox", "/users/ada/inbox"):
        response = pages.post(path, data={"message": "forged"})
        assert response.status_code == 403, path
    assert pages.post("/users/ada/inbox", content=b"{}", headers={"content-type": "text/plain"}).status_code == 403


def test_activitypub_deliveries_to_the_exact_inbox_routes_still_pass(pages: TestClient) -> None:
    for content_type in (
        "application/activity+json",
        'application/ld+json; profile="https://www.w3.org/ns/activitystreams"',
    ):
        response = pages.post("/users/ada/inbox", content=b"{}", headers={"content-type": content_type})
        assert response.status_code == 200 and response.text == "changed"
    # Only inboxes: an outbox (or any other machine-looking path) is checked like every form.
    response = pages.post("/users/ada/outbox", content=b"{}", headers={"content-type": "application/activity+json"})
    assert response.status_code == 403
