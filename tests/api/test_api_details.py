"""Details of the client API through Mastodon.py and plain HTTP: idempotent posting, pictures
without their metadata, alt text, avatars, scopes, the rate-limit counter, courses and groups as
accounts."""

from __future__ import annotations

from datetime import date
from io import BytesIO

import httpx
import pytest
from mastodon import MastodonNotFoundError
from PIL import Image

from courses.models import Course, Run, StudyGroup
from server.floor.db import session_scope
from tests.api.clients import client_for, png, register_app
from tests.api.conftest import OOB, Person, authorize_http
from web.api.cors import Window


def test_idempotency_key_answers_the_same_status(server_url: str, alice: Person) -> None:
    a = client_for(server_url, alice)
    headers = {"Authorization": f"Bearer {a.access_token}", "Idempotency-Key": "draft-1"}
    first = httpx.post(f"{server_url}/api/v1/statuses", data={"status": "only once"}, headers=headers).json()
    again = httpx.post(f"{server_url}/api/v1/statuses", data={"status": "only once"}, headers=headers).json()
    assert first["id"] == again["id"]
    assert len(a.account_statuses(a.me().id)) == 1


def test_pictures_lose_their_metadata_and_keep_alt_text(server_url: str, alice: Person) -> None:
    a = client_for(server_url, alice)
    media = a.media_post(png(exif_gps=True), mime_type="image/jpeg", description="first")
    stored = Image.open(BytesIO(httpx.get(media.url).content))
    assert stored.format == "WEBP" and not stored.getexif()
    changed = a.media_update(media.id, description="a red square")
    assert changed.description == "a red square"
    refused = httpx.post(
        f"{server_url}/api/v2/media",
        files={"file": ("x.png", b"not a picture", "image/png")},
        headers={"Authorization": f"Bearer {a.access_token}"},
    )
    assert refused.status_code == 422 and "error" in refused.json()


def test_update_credentials_with_avatar_and_fields(server_url: str, alice: Person) -> None:
    a = client_for(server_url, alice)
    me = a.account_update_credentials(
        display_name="Alice A.",
        note="Learning #python",
        avatar=png(300, 200),
        avatar_mime_type="image/png",
        fields=[("Pronouns", "she/her")],
    )
    assert me.display_name == "Alice A." and "#" in me.note and me.source.note == "Learning #python"
    assert me.fields[0].name == "Pronouns"
    avatar = Image.open(BytesIO(httpx.get(me.avatar).content))
    assert avatar.size == (400, 400)
    removed = httpx.delete(f"{server_url}/api/v1/profile/avatar", headers={"Authorization": f"Bearer {a.access_token}"})
    assert removed.status_code == 200 and removed.json()["avatar"].endswith("/static/avatar.png")


def test_scopes_limit_what_a_token_does(server_url: str, alice: Person) -> None:
    client_id, client_secret = register_app(server_url)
    code = authorize_http(server_url, alice, client_id, scope="read")
    token = httpx.post(
        f"{server_url}/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": client_id,
            "client_secret": client_secret,
            "redirect_uri": OOB,
        },
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{server_url}/api/v1/timelines/home", headers=headers).status_code == 200
    refused = httpx.post(f"{server_url}/api/v1/statuses", data={"status": "hi"}, headers=headers)
    assert refused.status_code == 403 and refused.json() == {"error": "This action is outside the authorized scopes"}


def test_rate_limit_window_counts_down_and_refuses() -> None:
    window = Window(limit=2, seconds=300)
    assert window.hit("t:a")[0] == 1 and window.hit("t:a")[0] == 0 and window.hit("t:a")[0] < 0
    assert window.hit("t:b")[0] == 1


def test_courses_runs_and_groups_are_accounts(server_url: str, alice: Person) -> None:
    with session_scope() as db:
        course = Course(slug="python", title="Python for beginners", summary="Learn <b>Python</b>")
        db.add(course)
        db.flush()
        run = Run(handle="python-jan", course_id=course.id, version_number=1, start_date=date(2027, 1, 4))
        db.add(run)
        db.flush()
        db.add(StudyGroup(run_id=run.id, number=1, handle="python-jan-1", name="Study group 1"))
    a = client_for(server_url, alice)
    shown_course = a.account_lookup("python")
    assert (
        shown_course.bot is True and shown_course.group is False and shown_course.display_name == "Python for beginners"
    )
    assert "&lt;b&gt;" in shown_course.note
    shown_run = a.account_lookup("python-jan")
    assert shown_run.group is True and shown_run.bot is False
    found = a.search_v2("python-jan-1", result_type="accounts").accounts
    assert [acc.acct for acc in found] == ["python-jan-1"] and found[0].group is True
    assert a.account_statuses(found[0].id) == []  # the group's posts are for its members
    assert a.account_follow(found[0].id).following in (True, False)
    with pytest.raises(MastodonNotFoundError):
        a.account_lookup("no-such-course")


def test_grouped_notifications_v2(server_url: str, alice: Person, bob: Person) -> None:
    app = register_app(server_url)
    a, b = client_for(server_url, alice, app), client_for(server_url, bob, app)
    status = a.status_post("hello")
    b.status_favourite(status.id)
    a.account_follow(b.me().id)
    b.status_post("@alice hi")
    grouped = httpx.get(f"{server_url}/api/v2/notifications", headers={"Authorization": f"Bearer {a.access_token}"})
    assert grouped.status_code == 200
    body = grouped.json()
    assert sorted(g["type"] for g in body["notification_groups"]) == ["favourite", "mention"]
    assert [acc["acct"] for acc in body["accounts"]] == ["bob"]
    policy = httpx.get(
        f"{server_url}/api/v2/notifications/policy", headers={"Authorization": f"Bearer {a.access_token}"}
    )
    assert policy.json()["for_not_following"] == "accept"
    ids = {s["id"] for s in body["statuses"]}
    assert {g["status_id"] for g in body["notification_groups"]} <= ids


def test_conversations_are_direct_threads(server_url: str, alice: Person, bob: Person) -> None:
    app = register_app(server_url)
    a, b = client_for(server_url, alice, app), client_for(server_url, bob, app)
    a.status_post("public, not a conversation")
    first = b.status_post("@alice just between us", visibility="direct")
    reply = a.status_post("@bob sure", visibility="direct", in_reply_to_id=first.id)
    conversations = a.conversations()
    assert len(conversations) == 1
    assert conversations[0].last_status.id == reply.id
    assert [acc.acct for acc in conversations[0].accounts] == ["bob"]
    assert [c.last_status.id for c in b.conversations()] == [reply.id]
