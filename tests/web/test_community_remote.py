"""Remote people on the pages: a cached profile at /@user@host with its posts (fields cleaned, scripts
gone), a remote reply in a local thread, and an unknown remote handle answered 404 (no network here:
the look-up itself is federation's, tested with real servers in tests/integration)."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

import web.social.remote
from community import people, statuses
from community.models import Profile
from server.floor.db import session_scope
from server.floor.settings import Settings
from tests.web.community_world import person, post


def _remote_ann() -> int:
    with session_scope() as db:
        ann = people.upsert_remote(
            db,
            uri="https://social.example/users/ann",
            username="ann",
            domain="social.example",
            display_name="Ann Remote",
            note="<p>Teacher <script>alert(1)</script>at sea</p>",
            url="https://social.example/@ann",
            fields=[{"name": "Site", "value": '<a href="https://ann.example" onclick="x()">ann.example</a>'}],
        )
        return ann.id


def test_a_remote_profile_shows_what_this_server_knows(client: TestClient, settings: Settings) -> None:
    ann = _remote_ann()
    with session_scope() as db:
        author = db.get(Profile, ann)
        assert author is not None
        statuses.receive(
            db, author, ap_id="https://social.example/statuses/1", html="<p>Ahoy from the sea</p>", force=True
        )
    page = client.get("/@ann@social.example")
    assert page.status_code == 200
    assert "Ann Remote" in page.text and "@ann@social.example" in page.text
    assert "Ahoy from the sea" in page.text and "Teacher" in page.text
    assert "<script>" not in page.text.split("<body>", 1)[1].replace('<script src="', "")
    assert "onclick" not in page.text and 'href="https://ann.example"' in page.text
    assert 'href="https://social.example/@ann"' in page.text  # their own page
    assert "Follow from your server" not in page.text  # offered on our people's pages only


def test_a_remote_reply_shows_in_the_local_thread(client: TestClient, settings: Settings) -> None:
    lena = person("lena", "Lena")
    first = post(lena, "Anyone sailing?")
    ann = _remote_ann()
    with session_scope() as db:
        author, parent = db.get(Profile, ann), statuses.get_visible(db, first, None)
        assert author is not None
        reply = statuses.receive(
            db,
            author,
            ap_id="https://social.example/statuses/2",
            html="<p>Me, every day</p>",
            in_reply_to=parent,
        )
        assert reply is not None
        reply_id = reply.id
    thread = client.get(f"/@lena/{first}").text
    assert "Me, every day" in thread and f'href="/@ann@social.example/{reply_id}"' in thread
    remote_thread = client.get(f"/@ann@social.example/{reply_id}")
    assert remote_thread.status_code == 200 and "Anyone sailing?" in remote_thread.text


def test_an_unknown_remote_handle_is_not_found(client: TestClient, settings: Settings) -> None:
    assert client.get("/@nobody@unknown.invalid").status_code == 404


def test_visitors_see_only_remote_profiles_this_server_knows(
    client: TestClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    looked_up: list[str] = []
    monkeypatch.setattr(web.social.remote, "_resolve", lambda acct, refresh: looked_up.append(acct) or 0)
    _remote_ann()
    assert client.get("/@ann@social.example").status_code == 200  # known here: shown
    assert client.get("/@bob@elsewhere.example").status_code == 404  # unknown: no call out for a visitor
    assert client.get("/users/ann@social.example").status_code == 404
    assert looked_up == []
