"""A person of ours and a person on Fedify (an independent ActivityPub implementation, npm):
Fedify's alice follows our Ann by `@ann@host`, receives Ann's post (Fedify verifies our signature
and reads the Note), and replies to it; the reply shows in Ann's thread here
(`community.statuses.context`). Fedify's reply is addressed to Ann alone (no Mention tag): kept as
a silent mention, as Mastodon's `ActivityPub::Activity::Create#process_audience` keeps addressed
local accounts.
"""

from __future__ import annotations

import json

import httpx
import pytest

from tests.interop.test_fedify import eventually, fedify, listed, received  # noqa: F401 - fedify is a fixture
from tests.support.instances import InstanceFactory, ok, query

pytestmark = pytest.mark.slow


def test_fedify_follows_a_local_person_gets_her_post_and_replies_in_her_thread(
    instance_factory: InstanceFactory,
    fedify: str,  # noqa: F811 - the fixture imported above
) -> None:
    ours = instance_factory("ours")
    ok(ours.cli("user", "create", "ann@example.org", "--handle", "ann", "--role", "learner", "--name", "Ann"))
    ann, alice = f"{ours.url}/users/ann", f"{fedify}/users/alice"

    # Alice looks Ann up by WebFinger and follows her; Ann (not locked) accepts, Fedify verifies the Accept.
    answer = httpx.post(f"{fedify}/_follow", params={"target": f"@ann@{ours.host}"}, timeout=60)
    assert answer.status_code == 200 and answer.json() == {"followed": ann, "name": "Ann"}, answer.text
    follow = (
        "SELECT f.accepted FROM community_follows f JOIN community_profiles p ON p.id = f.profile_id WHERE p.uri = ?"
    )
    eventually(lambda: query(ours, follow, alice) == [(1,)], "alice following Ann here", ours)
    eventually(lambda: [a for a in received(fedify, "Accept") if a["actor"] == ann], "Ann's Accept at Fedify", ours)

    # Ann posts: Fedify receives the Create, signature verified, with the Note as we wrote it.
    post = ok(ours.cli("people", "post", "ann", "Learning Python with #mechmooc today", "--language", "en"))
    creates = eventually(
        lambda: [c for c in received(fedify, "Create") if c["actor"] == ann], "Ann's post at Fedify", ours
    )
    note = creates[0]["json"]["object"]
    assert note["id"] == post and "Learning Python" in note["content"] and note["attributedTo"] == ann
    assert "https://www.w3.org/ns/activitystreams#Public" in json.dumps(listed(note.get("to")))
    assert [t for t in listed(note.get("tag")) if t.get("type") == "Hashtag"]

    # Alice replies to Ann's post; the reply is kept here and shows in Ann's thread.
    sent = httpx.post(f"{fedify}/_note", params={"to": ann, "text": "Me too, Ann!", "inReplyTo": post}, timeout=60)
    assert sent.status_code == 200, sent.text
    reply = sent.json()["note"]
    eventually(lambda: query(ours, "SELECT in_reply_to_ref FROM posts WHERE ap_id = ?", reply) == [(post,)],
               "alice's reply kept here", ours)  # fmt: skip
    thread = json.loads(ours.cli("people", "context", post, "--json").stdout)
    assert [d["id"] for d in thread["descendants"]] == [reply]
    assert "Me too, Ann!" in thread["descendants"][0]["text"]
    notified = (
        "SELECT n.type FROM community_notifications n JOIN community_profiles p ON p.id = n.profile_id WHERE p.uri = ?"
    )
    assert {"follow", "mention"} <= {t for (t,) in query(ours, notified, ann)}
    assert not [r for r in httpx.get(fedify + "/_received", timeout=10).json() if r["kind"] == "error"]
