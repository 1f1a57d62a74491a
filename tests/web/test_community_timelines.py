"""Timelines, follows, follow requests, hashtags, search and follow-from-your-server over the real app
(both backends)."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

import web.social.remote
from server.floor.settings import Settings
from tests.web.community_world import person, post
from tests.web.conftest import csrf_of, log_in

MAX_ID = re.compile(r'href="/public/local\?max_id=(\d+)" rel="next"')


def test_local_timeline_pages_by_id_cursor(client: TestClient, settings: Settings) -> None:
    lena = person("lena")
    for number in range(25):
        post(lena, f"Post number {number:02d}")
    first = client.get("/public/local")
    assert first.status_code == 200
    assert "Post number 24" in first.text and "Post number 05" in first.text and "Post number 04" not in first.text
    older = MAX_ID.search(first.text)
    assert older, "no link to older posts"
    second = client.get(f"/public/local?max_id={older.group(1)}")
    assert "Post number 04" in second.text and "Post number 00" in second.text and "Post number 05" not in second.text
    assert 'rel="prev"' in second.text and not MAX_ID.search(second.text)
    assert client.get("/public/local?max_id=abc").status_code == 400
    assert client.get("/public").status_code == 200 and "Post number 24" in client.get("/public").text


def test_follow_brings_posts_into_home_and_the_new_posts_check_counts_them(
    client: TestClient, settings: Settings
) -> None:
    person("lena")
    otto = person("otto", "Otto")
    assert client.get("/home", follow_redirects=False).status_code == 303  # visitors log in first
    log_in(client, "lena@example.org")
    profile = client.get("/@otto")
    assert ">Follow</button>" in profile.text
    token = csrf_of(client, "/@otto")
    assert client.post("/@otto/follow", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    assert ">Unfollow</button>" in client.get("/@otto").text
    home = client.get("/home")
    newest = re.search(r'data-feed="home" data-since="(\d+)"', home.text)
    assert newest, "the home page carries the new-posts marker"
    post(otto, "Fresh from Otto")
    count = client.get(f"/timelines/new?feed=home&since_id={newest.group(1)}")
    assert count.status_code == 200 and count.json()["count"] == 1
    assert "Fresh from Otto" in client.get("/home").text
    assert client.get("/timelines/new?feed=home&since_id=x").status_code == 400
    client.post("/@otto/unfollow", data={"csrf_token": token})
    post(otto, "Later from Otto")
    assert "Later from Otto" not in client.get("/home").text


def test_a_locked_account_approves_or_rejects_follow_requests(client: TestClient, settings: Settings) -> None:
    person("lena", "Lena", locked=True)
    person("otto", "Otto")
    person("zoe", "Zoe")
    for who in ("otto", "zoe"):
        log_in(client, f"{who}@example.org")
        token = csrf_of(client, "/@lena")
        client.post("/@lena/follow", data={"csrf_token": token})
        assert "Cancel follow request" in client.get("/@lena").text
        client.post("/logout", data={"csrf_token": token})
    log_in(client, "lena@example.org")
    page = client.get("/follow-requests")
    ids = re.findall(r'action="/follow-requests/(\d+)/approve"', page.text)
    assert len(ids) == 2 and "Otto" in page.text and "Zoe" in page.text
    token = csrf_of(client, "/follow-requests")
    zoe_first = page.text.index("Zoe") < page.text.index("Otto")
    approve, reject = (ids[1], ids[0]) if zoe_first else (ids[0], ids[1])
    assert client.post(f"/follow-requests/{approve}/approve", data={"csrf_token": token}).status_code == 200
    assert client.post(f"/follow-requests/{reject}/reject", data={"csrf_token": token}).status_code == 200
    assert client.post(f"/follow-requests/{reject}/approve", data={"csrf_token": token}).status_code == 404
    assert "No follow requests are waiting" in client.get("/follow-requests").text
    assert "followed you" in client.get("/notifications").text
    assert "<strong>1</strong> followers" in client.get("/@lena").text


def test_block_and_mute_buttons(client: TestClient, settings: Settings) -> None:
    person("lena")
    otto = person("otto")
    post(otto, "Otto says hi")
    log_in(client, "lena@example.org")
    token = csrf_of(client, "/@otto")
    client.post("/@otto/follow", data={"csrf_token": token})
    client.post("/@otto/mute", data={"csrf_token": token})
    assert ">Unmute</button>" in client.get("/@otto").text
    assert "Otto says hi" not in client.get("/home").text
    client.post("/@otto/unmute", data={"csrf_token": token})
    client.post("/@otto/block", data={"csrf_token": token})
    page = client.get("/@otto").text
    assert ">Unblock</button>" in page and ">Unfollow</button>" not in page
    assert client.post("/@lena/follow", data={"csrf_token": token}).status_code == 400  # oneself


def test_hashtag_timeline_and_following_a_tag(client: TestClient, settings: Settings) -> None:
    otto = person("otto")
    person("lena")
    post(otto, "Loops are fun #Python")
    post(otto, "Nothing tagged")
    page = client.get("/tags/python")
    assert "Loops are fun" in page.text and "Nothing tagged" not in page.text
    assert client.get("/tags/no%20such").status_code == 404
    log_in(client, "lena@example.org")
    token = csrf_of(client, "/tags/python")
    client.post("/tags/python/follow", data={"csrf_token": token})
    assert 'aria-pressed="true">Follow #python' in client.get("/tags/python").text
    post(otto, "More #python")
    assert "More" in client.get("/home").text


def test_search_finds_people_hashtags_and_posts(client: TestClient, settings: Settings) -> None:
    otto = person("otto", "Otto Octavius")
    post(otto, "Recursion explained with turtles #recursion")
    assert client.get("/search").status_code == 200
    found = client.get("/search?q=otto").text
    assert 'href="/@otto"' in found
    assert 'href="/tags/recursion"' in client.get("/search?q=%23recursion").text
    assert "Recursion explained" in client.get("/search?q=turtles").text
    remote = client.get("/search?q=@someone@example.net").text
    assert "Log in to look people up on other servers" in remote


def test_follow_from_your_own_server(client: TestClient, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    person("lena", "Lena")
    asked: list[str] = []

    def webfinger(url: str, *args: object, **kwargs: object) -> dict[str, object]:
        asked.append(url)
        template = "https://social.example/authorize_interaction?uri={uri}"
        return {"links": [{"rel": web.social.remote.SUBSCRIBE, "template": template}]}

    monkeypatch.setattr(web.social.remote, "get_json", webfinger)
    token = csrf_of(client, "/@lena")
    page = client.post("/@lena/remote-follow", data={"csrf_token": token, "handle": "@ann@social.example"})
    assert page.status_code == 200
    assert len(asked) == 1 and asked[0].endswith(
        "://social.example/.well-known/webfinger?resource=acct:ann@social.example"
    )
    assert "https://social.example/authorize_interaction?uri=http%3A%2F%2F" in page.text
    assert "%2Fusers%2Flena" in page.text
    bad = client.post("/@lena/remote-follow", data={"csrf_token": token, "handle": "ann"})
    assert bad.status_code == 400 and 'aria-invalid="true"' in bad.text


def test_authorize_interaction_leads_to_the_profile_to_follow(client: TestClient, settings: Settings) -> None:
    person("lena")
    person("otto")
    target = f"{settings.url}/users/otto"
    assert client.get(f"/authorize_interaction?uri={target}", follow_redirects=False).status_code == 303  # login
    log_in(client, "lena@example.org")
    answer = client.get(f"/authorize_interaction?uri={target}", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/@otto"
    assert client.get("/authorize_interaction?uri=javascript:alert(1)").status_code == 400
