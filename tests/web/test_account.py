"""One's own account page: the name shown to others, and changing the password."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.testclient import TestClient

from tests.web.conftest import PASSWORD, csrf_of, log_in


def test_anonymous_visitors_log_in_first(client: TestClient) -> None:
    response = client.get("/account", follow_redirects=False)
    assert response.headers["location"] == "/login?next=/account"


def test_name_change_shows_in_the_header(client: TestClient, people: dict[str, str]) -> None:
    log_in(client, people["organizer"])
    token = csrf_of(client, "/account")
    assert client.post("/account/profile", data={"display_name": "", "csrf_token": token}).status_code == 400
    page = client.post("/account/profile", data={"display_name": "Otto Neurath", "csrf_token": token})
    assert "Your name is saved." in page.text
    assert 'href="/account" aria-current="page">Otto Neurath <span class="role">(organizer)</span>' in page.text


def test_password_change_needs_the_current_one_and_ends_other_sessions(
    app: Starlette, client: TestClient, people: dict[str, str]
) -> None:
    elsewhere = TestClient(app, base_url="http://testserver.localhost")
    log_in(elsewhere, people["learner"])
    log_in(client, people["learner"])
    token = csrf_of(client, "/account")
    wrong = client.post(
        "/account/password",
        data={"current": "not it", "password": "new password 1", "confirm": "new password 1", "csrf_token": token},
    )
    assert wrong.status_code == 400
    assert "Current password: that is not your current password." in wrong.text
    mismatch = client.post(
        "/account/password",
        data={"current": PASSWORD, "password": "new password 1", "confirm": "new password 2", "csrf_token": token},
    )
    assert "Confirm password does not match the new password." in mismatch.text
    done = client.post(
        "/account/password",
        data={"current": PASSWORD, "password": "new password 1", "confirm": "new password 1", "csrf_token": token},
    )
    assert "Your new password is saved." in done.text
    assert "Log out" in client.get("/account").text
    assert elsewhere.get("/account", follow_redirects=False).status_code == 303
    assert log_in(elsewhere, people["learner"], "new password 1").status_code == 303
