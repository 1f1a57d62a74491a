"""A local person as other servers read them: the actor document, paged collections, Notes, 410s.

Shapes as Mastodon serves its own (`app/serializers/activitypub/actor_serializer.rb`; outbox and
followers pages by `max_id`, `ActivityPub::OutboxesController`, `FollowerAccountsController`) and
reads others' (`app/services/activitypub/process_account_service.rb`:
`#set_immediate_attributes!` reads `name`, `summary`, `manuallyApprovesFollowers`, `discoverable`,
`indexable`, `alsoKnownAs`, `movedTo`, the `PropertyValue` attachments; `#set_fetchable_attributes!`
reads `icon` and `image`).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from community.models import Follow
from server.floor import urls
from server.floor.clock import now
from tests.federation.conftest import InstanceClient
from tests.federation.people_support import local, remote, status

AP = {"Accept": "application/activity+json"}


def test_a_persons_actor_document_carries_their_profile(session: Session, client: InstanceClient) -> None:
    new = local(session, "ann2")
    local(
        session, "ann", note="<p>Learning Python</p>", locked=True, discoverable=True, indexable=True,
        avatar_url="/media/avatars/ann.png", avatar_description="Ann's face", header_url="/media/headers/ann.jpg",
        fields=[{"name": "Site", "value": "https://ann.example"}], also_known_as=["https://old.example/users/ann"],
        moved_to_id=new.id,
    )  # fmt: skip
    document = client.get("/users/ann", headers=AP).json()
    assert (
        document["type"] == "Person" and document["name"] == "Ann" and document["summary"] == "<p>Learning Python</p>"
    )
    assert document["url"] == urls.absolute("/@ann") and document["manuallyApprovesFollowers"] is True
    assert document["discoverable"] is True and document["indexable"] is True
    assert document["icon"] == {
        "type": "Image",
        "mediaType": "image/png",
        "url": urls.absolute("/media/avatars/ann.png"),
        "name": "Ann's face",
    }
    assert (
        document["image"]["url"] == urls.absolute("/media/headers/ann.jpg")
        and document["image"]["mediaType"] == "image/jpeg"
    )
    assert document["attachment"] == [{"type": "PropertyValue", "name": "Site", "value": "https://ann.example"}]
    assert document["alsoKnownAs"] == ["https://old.example/users/ann"] and document["movedTo"] == new.uri
    assert document["featured"] == f"{document['id']}/featured" and document["published"].endswith("Z")
    assert document["outbox"] == f"{document['id']}/outbox" and document["publicKey"]["owner"] == document["id"]


def test_the_outbox_and_followers_are_paged_by_id_cursors(session: Session, client: InstanceClient) -> None:
    ann = local(session, "ann")
    for n in range(25):
        status(session, ann, f"post {n}")
    status(session, ann, "friends only", visibility="private")
    hidden = status(session, ann, "gone")
    hidden.deleted = True
    pinned = status(session, ann, "pinned one", pinned_at=now())
    for n in range(3):
        session.add(Follow(profile_id=remote(session, f"f{n}", f"h{n}.example").id, target_id=ann.id, accepted=True))
    session.add(Follow(profile_id=remote(session, "asking", "h9.example").id, target_id=ann.id, accepted=False))
    outbox = client.get("/users/ann/outbox", headers=AP).json()
    assert outbox["type"] == "OrderedCollection" and outbox["totalItems"] == 26
    first = client.get(outbox["first"], headers=AP).json()
    assert first["type"] == "OrderedCollectionPage" and len(first["orderedItems"]) == 20
    assert first["orderedItems"][0]["object"]["content"] == "<p>pinned one</p>" and "max_id=" in first["next"]
    second = client.get(first["next"], headers=AP).json()
    contents = [item["object"]["content"] for item in second["orderedItems"]]
    assert len(contents) == 6 and contents[-1] == "<p>post 0</p>" and "next" not in second
    assert "<p>friends only</p>" not in contents + [i["object"]["content"] for i in first["orderedItems"]]
    followers = client.get("/users/ann/followers", headers=AP).json()
    assert followers["totalItems"] == 3
    listed = client.get(followers["first"], headers=AP).json()["orderedItems"]
    assert set(listed) == {f"https://h{n}.example/users/f{n}" for n in range(3)}
    featured = client.get("/users/ann/featured", headers=AP).json()
    assert [n["id"] for n in featured["orderedItems"]] == [urls.post(pinned.id)]
    assert client.get("/users/ann/outbox?page=true&max_id=x%27", headers=AP).status_code == 200


def test_statuses_are_served_as_notes_and_deleted_ones_answer_410(session: Session, client: InstanceClient) -> None:
    ann = local(session, "ann")
    public = status(session, ann, "hello", language="en")
    private = status(session, ann, "secret", visibility="private")
    gone = status(session, ann, "oops")
    gone.deleted = True
    answer = client.get(f"/posts/{public.id}", headers=AP)
    assert answer.status_code == 200 and answer.json()["content"] == "<p>hello</p>"
    assert answer.json()["attributedTo"] == ann.uri and answer.json()["contentMap"] == {"en": "<p>hello</p>"}
    assert client.get(f"/posts/{private.id}", headers=AP).status_code == 401  # unsigned: not for just anyone
    deleted = client.get(f"/posts/{gone.id}", headers=AP)
    assert deleted.status_code == 410 and deleted.json()["type"] == "Tombstone"
    assert deleted.json()["id"] == urls.post(gone.id)


def test_a_deleted_or_suspended_person_answers_410_with_a_tombstone(session: Session, client: InstanceClient) -> None:
    ann = local(session, "ann")
    ann.deleted_at = now()
    bob = local(session, "bob")
    bob.suspended_at = now()
    for handle in ("ann", "bob"):
        answer = client.get(f"/users/{handle}", headers=AP)
        assert answer.status_code == 410 and answer.json()["type"] == "Tombstone", answer.text
        assert answer.json()["id"] == urls.person(handle)
        assert client.get(f"/users/{handle}/outbox", headers=AP).status_code == 410
    assert client.get("/users/nobody", headers=AP).status_code == 404


def test_webfinger_names_a_persons_page_at_the_short_url(session: Session, client: InstanceClient) -> None:
    local(session, "ann")
    host = urls.absolute("").split("://", 1)[1]
    document = client.get(f"/.well-known/webfinger?resource=acct:ann@{host}").json()
    links = {link["rel"]: link.get("href") or link.get("template") for link in document["links"]}
    assert links["self"] == urls.person("ann")
    assert links["http://webfinger.net/rel/profile-page"] == urls.absolute("/@ann")
    assert links["http://ostatus.org/schema/1.0/subscribe"] == urls.absolute("/authorize_interaction?uri={uri}")
    assert document["aliases"] == [urls.person("ann"), urls.absolute("/@ann")]
