"""Two real instances of ours whose people follow each other and talk: posts, replies, boosts,
likes, edits and deletes cross between `mechmooc serve` processes over signed HTTP.

Ann lives on A, Bob on B. Each follows the other by `@user@host` (WebFinger, then the actor); a
follow of an unlocked person is accepted at once (Mastodon's `Follow#perform` ->
`AuthorizeFollowService`), of a locked one it waits for approval. Ann's public post reaches Bob's
server because Bob follows her (`Create#perform` keeps what someone there follows); Bob's reply
shows in Ann's thread (`community.statuses.context`); his boost and like are counted on her status
(`Announce#perform`: the status is local there; `Like#perform`); her edit reaches his server with
its history (`Update#update_status`), her delete removes it there (`Delete#delete_note`); a
followers-only post reaches followers only, the person documents are paged collections, and when
Ann moves to a new account (which names her in `alsoKnownAs`) Bob follows that one instead
(`Move#perform`, `MoveWorker`).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.integration.federated import eventually, one
from tests.support.instances import InstanceFactory, ok, query

pytestmark = pytest.mark.slow
AP = {"Accept": "application/activity+json"}


def test_two_instances_people_follow_each_other_and_exchange_statuses(instance_factory: InstanceFactory) -> None:
    a, b = instance_factory("a"), instance_factory("b")
    both = [a, b]
    ok(a.cli("user", "create", "ann@example.org", "--handle", "ann", "--role", "learner"))
    ok(b.cli("user", "create", "bob@example.org", "--handle", "bob", "--role", "learner"))
    ok(b.cli("user", "create", "cat@example.org", "--handle", "cat", "--role", "learner"))
    ann, bob = f"{a.url}/users/ann", f"{b.url}/users/bob"

    # Bob follows Ann by handle, Ann follows Bob: both accepted (neither is locked).
    assert ok(b.cli("people", "follow", "bob", f"@ann@{a.host}")) == ann
    assert ok(a.cli("people", "follow", "ann", f"@bob@{b.host}")) == bob
    accepted = (
        "SELECT f.accepted FROM community_follows f JOIN community_profiles p ON p.id = f.target_id WHERE p.uri = ?"
    )
    eventually(lambda: one(b, accepted, ann) == 1, "A to accept Bob's follow of Ann", both)
    eventually(lambda: one(a, accepted, bob) == 1, "B to accept Ann's follow of Bob", both)
    assert one(a, "SELECT followers_count FROM community_profiles WHERE uri = ?", ann) == 1

    # Ann posts; it reaches B (Bob follows her), with its hashtag and language.
    post = ok(a.cli("people", "post", "ann", "Hello from A, learning #python", "--language", "en"))
    at_b = "SELECT text, visibility, language, deleted FROM posts WHERE ap_id = ?"
    eventually(lambda: query(b, at_b, post), "Ann's post at B", both)
    assert query(b, at_b, post) == [("Hello from A, learning #python", "public", "en", 0)]
    assert (
        one(
            b,
            "SELECT count(*) FROM community_status_tags st JOIN posts p ON p.id = st.status_id WHERE p.ap_id = ?",
            post,
        )
        == 1
    )

    # Bob replies, boosts and likes: Ann's thread shows the reply, her status counts the rest.
    reply = ok(b.cli("people", "post", "bob", "Hi Ann, me too!", "--reply-to", post))
    eventually(lambda: query(a, "SELECT 1 FROM posts WHERE ap_id = ?", reply), "Bob's reply at A", both)
    thread = json.loads(ok_json(a.cli("people", "context", post, "--json")))
    assert [d["id"] for d in thread["descendants"]] == [reply]
    ok(b.cli("people", "boost", "bob", post))
    ok(b.cli("people", "like", "bob", post))
    counts = "SELECT reblogs_count, favourites_count, replies_count FROM posts WHERE ap_id = ?"
    eventually(lambda: query(a, counts, post) == [(1, 1, 1)], "the boost, like and reply counted at A", both)
    notified = "SELECT type FROM community_notifications n JOIN community_profiles p ON p.id = n.profile_id WHERE p.uri = ? ORDER BY n.id"
    assert {"reblog", "favourite", "reply", "follow"} <= {t for (t,) in query(a, notified, ann)}

    # Ann edits: B has the new text and the history; Bob takes back his like and boost.
    ok(a.cli("people", "edit", "ann", post, "Hello from A, learning #python (edited)"))
    eventually(lambda: one(b, "SELECT text FROM posts WHERE ap_id = ?", post) == "Hello from A, learning #python (edited)",
               "the edit at B", both)  # fmt: skip
    assert (
        one(
            b,
            "SELECT count(*) FROM community_status_edits e JOIN posts p ON p.id = e.status_id WHERE p.ap_id = ?",
            post,
        )
        == 2
    )
    ok(b.cli("people", "like", "bob", post, "--undo"))
    ok(b.cli("people", "boost", "bob", post, "--undo"))
    eventually(lambda: query(a, counts, post) == [(0, 0, 1)], "the like and boost taken back at A", both)

    # A followers-only post reaches Bob's server; Cat (on B, not a follower) is not why: B keeps it for Bob.
    private = ok(a.cli("people", "post", "ann", "Only for my followers", "--visibility", "private"))
    eventually(
        lambda: one(b, "SELECT visibility FROM posts WHERE ap_id = ?", private) == "private",
        "the private post at B",
        both,
    )
    assert httpx.get(private, headers=AP, timeout=10).status_code == 401  # not for an unsigned reader

    # Ann deletes her post: gone at B too, and its id answers 410 with a Tombstone.
    ok(a.cli("people", "delete", "ann", post))
    eventually(lambda: one(b, "SELECT deleted FROM posts WHERE ap_id = ?", post) == 1, "the delete at B", both)
    gone = httpx.get(post, headers=AP, timeout=10)
    assert gone.status_code == 410 and gone.json()["type"] == "Tombstone"

    # Ann's actor and collections as a server reads them.
    actor = httpx.get(ann, headers=AP, timeout=10).json()
    assert actor["type"] == "Person" and actor["url"] == f"{a.url}/@ann" and actor["manuallyApprovesFollowers"] is False
    followers = httpx.get(actor["followers"], headers=AP, timeout=10).json()
    assert followers["totalItems"] == 1
    assert httpx.get(followers["first"], headers=AP, timeout=10).json()["orderedItems"] == [bob]
    outbox = httpx.get(actor["outbox"], headers=AP, timeout=10).json()
    first = httpx.get(outbox["first"], headers=AP, timeout=10).json()
    assert outbox["totalItems"] == 0 and first["orderedItems"] == []  # public posts only: the one she had is deleted

    # Ann moves to a new account on B, which names her old one (alsoKnownAs): A sends her followers
    # a Move, and B has Bob follow the new account instead (Move#perform, MoveWorker); A hears his Undo.
    ok(b.cli("user", "create", "ann2@example.org", "--handle", "ann2", "--role", "learner"))
    ok(b.cli("people", "alias", "ann2", f"@ann@{a.host}"))
    assert ok(a.cli("people", "move", "ann", f"@ann2@{b.host}")) == f"@ann2@{b.host}"
    follows_ann2 = (
        "SELECT f.accepted FROM community_follows f JOIN community_profiles t ON t.id = f.target_id"
        " JOIN community_profiles p ON p.id = f.profile_id WHERE t.uri = ? AND p.uri = ?"
    )
    eventually(
        lambda: query(b, follows_ann2, f"{b.url}/users/ann2", bob) == [(1,)], "Bob following ann2 after the move", both
    )
    eventually(
        lambda: one(a, "SELECT followers_count FROM community_profiles WHERE uri = ?", ann) == 0,
        "Bob's Undo at A",
        both,
    )
    assert httpx.get(ann, headers=AP, timeout=10).json()["movedTo"] == f"{b.url}/users/ann2"


def ok_json(done: Any) -> str:
    """The whole stdout of a successful CLI run (a JSON document)."""
    assert done.returncode == 0, done.stderr + done.stdout
    return str(done.stdout)
