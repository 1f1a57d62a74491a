"""Remote people looked up by `@user@host` (WebFinger, then the actor), kept as community profiles,
and their recent public posts read from their outbox's first page (`federation.flows.people`).

Fields as Mastodon's `ActivityPub::ProcessAccountService` reads them
(`app/services/activitypub/process_account_service.rb`, `#set_immediate_attributes!`: name,
summary, manuallyApprovesFollowers, discoverable, indexable, PropertyValue fields, alsoKnownAs;
`#set_fetchable_attributes!`: icon, image). The other server is mocked at `fetch.get_json`.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from community.models import Profile, Status
from federation.flows import people
from tests.federation.conftest import Remote, payload

DAN = "https://social.example/users/dan"


def _dan(remote: Remote) -> None:
    remote.actor(
        DAN, preferredUsername="dan", name="Dan <b>D</b>", summary='<p>Hi<script>alert(1)</script> <a href="https://x.example">x</a></p>',
        manuallyApprovesFollowers=True, discoverable=True, indexable=False, alsoKnownAs=["https://old.example/users/dan"],
        icon={"type": "Image", "mediaType": "image/png", "url": "https://files.social.example/dan.png", "name": "Dan's face"},
        image={"type": "Image", "url": "https://files.social.example/header.jpg"},
        attachment=[{"type": "PropertyValue", "name": "Site", "value": '<a href="https://dan.example">dan.example</a>'},
                    {"type": "PropertyValue", "name": "Evil", "value": "<img src=x onerror=alert(1)>"}],
        outbox=f"{DAN}/outbox",
    )  # fmt: skip
    for scheme in ("http", "https"):
        remote.documents[f"{scheme}://social.example/.well-known/webfinger?resource=acct:dan@social.example"] = {
            "subject": "acct:dan@social.example",
            "links": [{"rel": "self", "type": "application/activity+json", "href": DAN}],
        }


def test_a_remote_person_is_resolved_once_and_kept_as_a_profile(session: Session, remote: Remote) -> None:
    _dan(remote)
    session.commit()  # no transaction of the test's stays open across the lookups
    profile = people.resolve("@dan@social.example")
    assert profile.uri == DAN and profile.acct == "dan@social.example" and profile.display_name == "Dan D"
    assert "<script" not in profile.note and "alert" not in profile.note and 'href="https://x.example"' in profile.note
    assert profile.locked and profile.discoverable and not profile.indexable
    assert profile.avatar_url == "https://files.social.example/dan.png" and profile.avatar_description == "Dan's face"
    assert profile.header_url == "https://files.social.example/header.jpg"
    assert [f["name"] for f in profile.fields] == ["Site", "Evil"] and "onerror" not in profile.fields[1]["value"]
    assert profile.also_known_as == ["https://old.example/users/dan"]
    assert profile.inbox_url == f"{DAN}/inbox" and profile.shared_inbox_url == "https://social.example/inbox"
    fetched = len(remote.fetches)
    assert people.resolve("dan@social.example").id == profile.id and people.resolve(DAN).id == profile.id
    assert len(remote.fetches) == fetched  # fresh: no second fetch
    assert people.resolve_accts(["dan@social.example", "nobody@nowhere.example", "ann"]) == {
        "dan@social.example": profile.id
    }


def test_recent_public_posts_come_from_the_outbox_first_page(session: Session, remote: Remote) -> None:
    _dan(remote)
    note = payload("mastodon-create-note-flow")
    mine = {**note, "id": f"{DAN}/statuses/1/activity", "object": {**note["object"], "id": f"{DAN}/statuses/1",
            "attributedTo": DAN, "cc": [f"{DAN}/followers"]}}  # fmt: skip
    followers_only = {**mine, "id": f"{DAN}/statuses/2/activity",
                      "object": {**mine["object"], "id": f"{DAN}/statuses/2", "to": [f"{DAN}/followers"], "cc": []}}  # fmt: skip
    forged = {**mine, "id": f"{DAN}/statuses/3/activity",
              "object": {**mine["object"], "id": "https://evil.example/statuses/3"}}  # fmt: skip
    remote.documents[f"{DAN}/outbox"] = {"type": "OrderedCollection", "first": f"{DAN}/outbox?page=true"}
    remote.documents[f"{DAN}/outbox?page=true"] = {
        "type": "OrderedCollectionPage", "orderedItems": [mine, followers_only, forged, {"type": "Announce"}],
    }  # fmt: skip
    session.commit()
    profile = people.resolve("@dan@social.example")
    kept = people.recent_posts(profile.id)
    rows = list(session.scalars(select(Status).where(Status.profile_id == profile.id)))
    assert [s.id for s in rows] == kept and [s.ap_id for s in rows] == [f"{DAN}/statuses/1"]
    assert rows[0].visibility == "public" and rows[0].text.startswith("Creating Test Data")
    assert session.scalar(select(Profile.id).where(Profile.uri == "https://evil.example/statuses/3")) is None
