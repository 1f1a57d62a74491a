"""Notification mail settings and the digest's stop link."""

from __future__ import annotations

from sqlalchemy import select
from starlette.testclient import TestClient

from community.models import Preferences, Profile
from mail import digest
from server.floor.db import session_scope
from tests.web.conftest import csrf_of, log_in


def prefs_of(handle: str) -> Preferences:
    with session_scope() as db:
        profile = db.scalar(select(Profile).where(Profile.username == handle))
        assert profile is not None
        prefs = db.get(Preferences, profile.id)
        assert prefs is not None
        db.expunge(prefs)
        return prefs


def test_opt_in_by_type_and_stop_with_one_click(client: TestClient, people: dict[str, str]) -> None:
    log_in(client, people["learner"])
    page = client.get("/settings/notifications")
    assert page.status_code == 200 and 'name="email_notifications"' in page.text
    assert not prefs_of("lena").email_notifications  # opt-in: off until asked
    form = {
        "email_notifications": "1",
        "types": ["mention", "group_post", "bogus", "x" * 10_000],
        "csrf_token": csrf_of(client, "/settings/notifications"),
    }
    saved = client.post("/settings/notifications", data=form)
    assert "Notification mail is on." in saved.text
    prefs = prefs_of("lena")
    assert prefs.email_notifications and prefs.email_types == ["mention", "group_post"]
    link = digest.stop_url(prefs.profile_id).split("testserver.localhost", 1)[1]
    client.post("/logout", data={"csrf_token": csrf_of(client, "/")})
    shown = client.get(link)
    assert shown.status_code == 200 and "Stop the notification digests" in shown.text
    assert prefs_of("lena").email_notifications  # a GET changes nothing
    stopped = client.post(link)  # RFC 8058: no cookie, no CSRF token
    assert stopped.status_code == 200 and "Notification mail is off" in stopped.text
    assert not prefs_of("lena").email_notifications
    assert client.post(link[:-4] + "abcd").status_code == 404


def test_settings_need_a_login(client: TestClient) -> None:
    assert client.get("/settings/notifications", follow_redirects=False).status_code == 303
