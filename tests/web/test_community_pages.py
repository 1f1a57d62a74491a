"""The community pages over the real app (both backends): profiles, compose, threads, the buttons of a
status (boost, favourite, bookmark, delete), editing with its history."""

from __future__ import annotations

import re

from starlette.testclient import TestClient

from server.floor.settings import Settings
from tests.web.community_world import follow, person, post, status
from tests.web.conftest import csrf_of, log_in

STATUS_PATH = re.compile(r"/@(\w+)/(\d+)$")


def _publish(client: TestClient, text: str, **fields: str) -> str:
    token = csrf_of(client, "/compose")
    response = client.post(
        "/compose", data={"csrf_token": token, "status": text, "visibility": "public", **fields}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    return str(response.headers["location"])


def test_a_profile_shows_the_person_and_their_posts_at_both_addresses(client: TestClient, settings: Settings) -> None:
    lena = person("lena", "Lena Lovelace")
    post(lena, "Hello from #python land")
    post(lena, "only my followers", visibility="private")
    for path in ("/@lena", "/users/lena"):
        page = client.get(path, headers={"Accept": "text/html"})
        assert page.status_code == 200, path
        assert "text/html" in page.headers["content-type"]
        assert '<h1 id="profile-name">Lena Lovelace</h1>' in page.text
        assert "@lena@" in page.text and "Hello from" in page.text
        assert '/tags/python"' in page.text  # the hashtag links to its timeline
        assert "only my followers" not in page.text  # a visitor does not see followers-only posts
        assert "Follow from your server" in page.text  # visitors may follow from elsewhere
    assert client.get("/@nobody").status_code == 404
    assert client.get("/users/nobody").status_code == 404


def test_compose_a_post_with_a_mention_notifies_the_mentioned_person(client: TestClient, settings: Settings) -> None:
    person("lena", "Lena")
    person("otto", "Otto")
    assert log_in(client, "lena@example.org").status_code == 303
    page = client.get("/compose")
    assert page.status_code == 200 and 'data-counter="500"' in page.text
    location = _publish(client, "Hi @otto, see https://example.org/x #study", spoiler_text="")
    match = STATUS_PATH.search(location)
    assert match and match.group(1) == "lena"
    thread = client.get(location)
    assert thread.status_code == 200
    assert 'href="https://example.org/x"' in thread.text and "/@otto" in thread.text
    client.post("/logout", data={"csrf_token": csrf_of(client, "/")})
    assert log_in(client, "otto@example.org").status_code == 303
    home = client.get("/")
    assert "unread-count" in home.text  # the header shows the unread count
    assert client.get("/notifications/unread").json() == {"count": 1}  # community.js keeps it current
    notes = client.get("/notifications")
    assert "mentioned you" in notes.text and "Hi" in notes.text
    mentions_only = client.get("/notifications?type=follow")
    assert "mentioned you" not in mentions_only.text
    token = csrf_of(client, "/notifications")
    assert client.post("/notifications/read", data={"csrf_token": token}).status_code == 200
    assert "unread-count" not in client.get("/").text


def test_compose_refuses_a_post_over_the_limit_and_keeps_the_text(client: TestClient, settings: Settings) -> None:
    person("lena")
    log_in(client, "lena@example.org")
    token = csrf_of(client, "/compose")
    too_long = "word " * 200
    response = client.post("/compose", data={"csrf_token": token, "status": too_long, "visibility": "public"})
    assert response.status_code == 400
    assert 'aria-invalid="true"' in response.text and "word word" in response.text
    empty = client.post("/compose", data={"csrf_token": token, "status": "   ", "visibility": "public"})
    assert empty.status_code == 400


def test_a_post_needs_the_csrf_token_and_a_login(client: TestClient, settings: Settings) -> None:
    person("lena")
    assert client.get("/compose", follow_redirects=False).status_code == 303  # to the login page
    log_in(client, "lena@example.org")
    assert client.post("/compose", data={"status": "no token"}).status_code == 403


def test_a_thread_shows_ancestors_and_replies(client: TestClient, settings: Settings) -> None:
    lena, otto = person("lena", "Lena"), person("otto", "Otto")
    first = post(lena, "Who reads chapter two?")
    second = post(otto, "@lena I do", in_reply_to_id=first)
    log_in(client, "lena@example.org")
    reply_form = client.get(f"/compose?in_reply_to={second}")
    assert reply_form.status_code == 200 and "@otto " in reply_form.text and "Reply to Otto" in reply_form.text
    third = _publish(client, "@otto great, Thursday?", in_reply_to=str(second))
    middle = client.get(f"/@otto/{second}")
    assert middle.status_code == 200
    above, below = middle.text.split("status-focus", 1)
    assert "Who reads chapter two?" in above and "great, Thursday?" in below
    assert ">In reply to Lena</a>" in middle.text
    assert client.get(f"/@lena/{second}", follow_redirects=False).status_code == 301  # the author's path
    assert client.get(f"/posts/{first}", follow_redirects=False).headers["location"] == f"/@lena/{first}"
    assert STATUS_PATH.search(third)


def test_private_posts_stay_hidden_from_visitors_and_strangers(client: TestClient, settings: Settings) -> None:
    lena, otto = person("lena"), person("otto")
    person("zoe")
    secret = post(lena, "for followers", visibility="private")
    follow(otto, lena)
    assert client.get(f"/@lena/{secret}").status_code == 404
    log_in(client, "zoe@example.org")
    assert client.get(f"/@lena/{secret}").status_code == 404
    assert (
        client.post(f"/@lena/{secret}/favourite", data={"csrf_token": csrf_of(client, "/compose")}).status_code == 404
    )
    client.post("/logout", data={"csrf_token": csrf_of(client, "/")})
    log_in(client, "otto@example.org")
    assert "for followers" in client.get(f"/@lena/{secret}").text


def test_boost_favourite_and_bookmark_change_the_counts(client: TestClient, settings: Settings) -> None:
    lena = person("lena")
    person("otto")
    first = post(lena, "Boost me")
    log_in(client, "otto@example.org")
    token = csrf_of(client, f"/@lena/{first}")
    for action in ("boost", "favourite", "bookmark"):
        response = client.post(
            f"/@lena/{first}/{action}", data={"csrf_token": token, "next": f"/@lena/{first}"}, follow_redirects=False
        )
        assert response.status_code == 303 and response.headers["location"] == f"/@lena/{first}#s-{first}"
    stored = status(first)
    assert stored.reblogs_count == 1 and stored.favourites_count == 1
    page = client.get(f"/@lena/{first}").text
    assert page.count('aria-pressed="true"') == 3
    assert "Boost me" in client.get("/bookmarks").text
    assert "Boost me" in client.get("/@otto").text  # the boost shows on the booster's profile
    for action in ("unboost", "unfavourite", "unbookmark"):
        client.post(f"/@lena/{first}/{action}", data={"csrf_token": token, "next": "/home"})
    stored = status(first)
    assert stored.reblogs_count == 0 and stored.favourites_count == 0
    assert "Boost me" not in client.get("/bookmarks").text
    nonsense = client.post(f"/@lena/{first}/explode", data={"csrf_token": token})
    assert nonsense.status_code == 404


def test_edit_keeps_a_history_and_delete_removes_the_post(client: TestClient, settings: Settings) -> None:
    lena = person("lena")
    person("otto")
    first = post(lena, "Frist post")
    log_in(client, "otto@example.org")
    assert client.get(f"/@lena/{first}/edit").status_code == 403  # not the author
    token = csrf_of(client, "/compose")
    assert client.post(f"/@lena/{first}/delete", data={"csrf_token": token}).status_code == 403
    client.post("/logout", data={"csrf_token": token})
    log_in(client, "lena@example.org")
    form = client.get(f"/@lena/{first}/edit")
    assert form.status_code == 200 and "Frist post" in form.text
    token = csrf_of(client, f"/@lena/{first}/edit")
    saved = client.post(
        f"/@lena/{first}/edit", data={"csrf_token": token, "status": "First post"}, follow_redirects=False
    )
    assert saved.status_code == 303 and saved.headers["location"] == f"/@lena/{first}"
    page = client.get(f"/@lena/{first}").text
    assert "First post" in page and f"/@lena/{first}/history" in page
    history = client.get(f"/@lena/{first}/history").text
    assert "Frist post" in history and "First post" in history
    gone = client.post(
        f"/@lena/{first}/delete", data={"csrf_token": token, "next": f"/@lena/{first}"}, follow_redirects=False
    )
    assert gone.status_code == 303 and gone.headers["location"] == "/home"
    assert client.get(f"/@lena/{first}").status_code == 404
    assert "First post" not in client.get("/@lena").text


def test_a_pinned_post_leads_the_profile(client: TestClient, settings: Settings) -> None:
    lena = person("lena")
    older = post(lena, "The post worth pinning")
    for number in range(3):
        post(lena, f"later chatter {number}")
    log_in(client, "lena@example.org")
    token = csrf_of(client, f"/@lena/{older}")
    client.post(f"/@lena/{older}/pin", data={"csrf_token": token, "next": "/@lena"})
    profile = client.get("/@lena").text
    pinned, rest = profile.split('id="posts-title"', 1)
    assert 'id="pinned-title"' in pinned and "The post worth pinning" in pinned
    assert 'aria-pressed="true">Pin to profile' in pinned
    client.post(f"/@lena/{older}/unpin", data={"csrf_token": token, "next": "/@lena"})
    assert 'id="pinned-title"' not in client.get("/@lena").text


def _png(width: int = 64, height: int = 48) -> bytes:
    from io import BytesIO

    from PIL import Image

    out = BytesIO()
    Image.new("RGB", (width, height), (200, 40, 40)).save(out, "PNG")
    return out.getvalue()


def test_a_post_with_pictures_and_their_descriptions(client: TestClient, settings: Settings) -> None:
    person("lena")
    log_in(client, "lena@example.org")
    token = csrf_of(client, "/compose")
    files = {"picture1": ("red.png", _png(), "image/png"), "picture2": ("blue.png", _png(30, 30), "image/png")}
    data = {
        "csrf_token": token,
        "status": "Two squares",
        "visibility": "public",
        "description1": "A red rectangle",
        "description2": "A smaller square",
    }
    sent = client.post("/compose", data=data, files=files, follow_redirects=False)
    assert sent.status_code == 303, sent.text
    page = client.get(sent.headers["location"]).text
    sources = re.findall(r'<img src="(/media/[^"]+)" alt="([^"]*)"', page)
    assert [alt for _, alt in sources] == ["A red rectangle", "A smaller square"]
    picture = client.get(sources[0][0])
    assert picture.status_code == 200 and picture.headers["content-type"] == "image/webp"
    hidden = client.post(
        "/compose",
        data={"csrf_token": token, "status": "behind a fold", "sensitive": "1", "description1": "A red rectangle"},
        files={"picture1": ("red.png", _png(), "image/png")},
        follow_redirects=False,
    )
    hidden_path = hidden.headers["location"]
    assert "<summary>Sensitive picture" in client.get(hidden_path).text
    form = client.get(f"{hidden_path}/edit").text
    media_id = re.search(r'name="describe-(\d+)"', form)
    assert media_id and 'id="f-sensitive" name="sensitive" value="1" checked' in form
    saved = client.post(
        f"{hidden_path}/edit",
        data={
            "csrf_token": token,
            "status": "behind a fold",
            "sensitive": "1",
            f"describe-{media_id.group(1)}": "A red box",
        },
    )
    assert saved.status_code == 200 and 'alt="A red box"' in saved.text and "<summary>Sensitive picture" in saved.text
    fake = {"picture1": ("evil.png", b"<html><script>alert(1)</script></html>", "image/png")}
    refused = client.post("/compose", data={**data, "status": "fake"}, files=fake)
    assert refused.status_code == 400 and "evil.png" in refused.text
    assert 'id="f-pictures-error"' in refused.text


def test_a_reply_mentions_everyone_in_the_conversation_and_keeps_its_visibility(
    client: TestClient, settings: Settings
) -> None:
    lena, otto = person("lena"), person("otto")
    person("zoe")
    first = post(otto, "@zoe and @lena: study group tonight?", visibility="private")
    follow(lena, otto)
    log_in(client, "lena@example.org")
    form = client.get(f"/compose?in_reply_to={first}").text
    assert "@otto @zoe </textarea>" in form  # the author first, then the others, never herself
    assert 'value="private" checked' in form
    assert lena
