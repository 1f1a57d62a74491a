"""The client API through Mastodon.py (a real client no one here wrote), against the whole app on
a real port: register an app, authorize (the HTTP-client code flow: a logged-in session cookie,
the consent form, /oauth/token), post with an image, reply, boost, follow, read the home timeline
with paging, get notifications (also over the streaming API), search."""

from __future__ import annotations

import threading
import time

import httpx
from mastodon import Mastodon, StreamListener

from tests.api.clients import client_for, png, register_app
from tests.api.conftest import Person


def test_post_with_image_reply_boost_and_notifications(server_url: str, alice: Person, bob: Person) -> None:
    app = register_app(server_url)
    a, b = client_for(server_url, alice, app), client_for(server_url, bob, app)
    me = a.account_verify_credentials()
    assert me.username == "alice" and me.acct == "alice" and "source" in me
    media = a.media_post(png(), mime_type="image/png", description="a red square")
    assert media.type == "image" and media.description == "a red square"
    picture = httpx.get(media.url)
    assert picture.status_code == 200 and picture.headers["content-type"] == "image/webp"
    status = a.status_post("Hello #python learners", media_ids=[media], visibility="public")
    assert status.media_attachments[0].id == media.id and status.tags[0].name == "python"
    assert status.account.id == me.id and status.visibility == "public"
    reply = b.status_post("@alice welcome!", in_reply_to_id=status.id)
    assert reply.in_reply_to_id == status.id and reply.mentions[0].acct == "alice"
    boost = b.status_reblog(status.id)
    assert boost.reblog.id == status.id and boost.reblog.reblogged is True
    context = a.status_context(status.id)
    assert [s.id for s in context.descendants] == [reply.id]
    types = sorted(n.type for n in a.notifications())
    assert types == ["mention", "reblog"]
    mentions = a.notifications(types=["mention"])
    assert [n.status.id for n in mentions] == [reply.id]
    assert a.notifications(exclude_types=["mention", "reblog"]) == []
    shown = a.status(status.id)
    assert shown.replies_count == 1 and shown.reblogs_count == 1


def test_home_timeline_paging_with_link_headers(server_url: str, alice: Person, bob: Person) -> None:
    app = register_app(server_url)
    a, b = client_for(server_url, alice, app), client_for(server_url, bob, app)
    bob_id = b.me().id
    relationship = a.account_follow(bob_id)
    assert relationship.following is True
    posted = [b.status_post(f"note {n}").id for n in range(5)]
    first = a.timeline_home(limit=2)
    assert [s.id for s in first] == posted[::-1][:2]
    second = a.fetch_next(first)
    assert [s.id for s in second] == posted[::-1][2:4]
    newer = a.fetch_previous(second)
    assert [s.id for s in newer] == posted[::-1][:2]
    assert a.account_relationships([bob_id])[0].following is True


def test_search_accounts_hashtags_and_statuses(server_url: str, alice: Person, bob: Person) -> None:
    app = register_app(server_url)
    a, b = client_for(server_url, alice, app), client_for(server_url, bob, app)
    b.status_post("Learning #spanish verbs together")
    found = a.search_v2("bob")
    assert [acc.acct for acc in found.accounts] == ["bob"]
    tags = a.search_v2("#span", result_type="hashtags")
    assert [t.name for t in tags.hashtags] == ["spanish"]
    words = a.search_v2("verbs", result_type="statuses")
    assert len(words.statuses) == 1 and "verbs" in words.statuses[0].content


def test_notification_over_the_streaming_api(server_url: str, alice: Person, bob: Person) -> None:
    app = register_app(server_url)
    a, b = client_for(server_url, alice, app), client_for(server_url, bob, app)
    status = a.status_post("Favourite me")
    got: list = []
    ready = threading.Event()

    class Listener(StreamListener):
        def on_notification(self, notification):  # noqa: ANN001
            got.append(notification)
            ready.set()

    handle = a.stream_user(Listener(), run_async=True, reconnect_async=False)
    try:
        # The stream connects in the background: favourite again until one lands after it has (an
        # unfavourite takes the notification back, so the next favourite notifies anew).
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            b.status_favourite(status.id)
            if ready.wait(0.5):
                break
            b.status_unfavourite(status.id)
        assert got, "no notification arrived over the stream"
        assert got[0].type == "favourite" and got[0].status.id == status.id
    finally:
        handle.close()


def test_errors_as_mastodon(server_url: str) -> None:
    api = Mastodon(api_base_url=server_url, access_token="not-a-token")
    answer = httpx.get(f"{server_url}/api/v1/timelines/home", headers={"Authorization": "Bearer nope"})
    assert answer.status_code == 401 and answer.json() == {"error": "The access token is invalid"}
    missing = httpx.get(f"{server_url}/api/v1/statuses/123456")
    assert missing.status_code == 404 and missing.json() == {"error": "Record not found"}
    assert api is not None
