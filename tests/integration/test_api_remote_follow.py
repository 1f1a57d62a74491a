"""The client API across two real instances of ours (`mechmooc serve` processes over signed HTTP),
driven by Mastodon.py: Ann on A searches `@bob@B` with `resolve=true` (WebFinger and the actor,
fetched by federation before any transaction), follows him, and reads his post in her home
timeline and live on her streaming connection (the inbox job runs in another process than the web
server: the message crosses through the database); her reply reaches B, where Bob's app sees the
mention."""

from __future__ import annotations

import time

import pytest
from mastodon import StreamListener

from tests.api.clients import client_for, register_app
from tests.api.conftest import PASSWORD, Person
from tests.integration.federated import eventually
from tests.support.instances import InstanceFactory, ok

pytestmark = pytest.mark.slow


def test_follow_a_remote_account_and_read_its_posts(instance_factory: InstanceFactory) -> None:
    a, b = instance_factory("a"), instance_factory("b")
    both = [a, b]
    ok(a.cli("user", "create", "ann@example.org", "--handle", "ann", "--password", PASSWORD))
    ok(b.cli("user", "create", "bob@example.org", "--handle", "bob", "--password", PASSWORD))
    ann = client_for(a.url, Person("ann@example.org", "ann"), register_app(a.url))
    bob = client_for(b.url, Person("bob@example.org", "bob"), register_app(b.url))

    found = ann.search_v2(f"@bob@{b.host}", resolve=True, result_type="accounts").accounts
    assert [acc.acct for acc in found] == [f"bob@{b.host}"]
    assert found[0].url.startswith(b.url)
    relationship = ann.account_follow(found[0].id)
    assert relationship.following or relationship.requested
    eventually(lambda: ann.account_relationships([found[0].id])[0].following, "B to accept Ann's follow", both)
    eventually(lambda: bob.me().followers_count == 1, "Bob's follower count", both)

    # Ann's app listens to her home stream on A; Bob's post arrives through A's inbox job (another
    # process than the web server: it hands the message over through the database).
    streamed: list = []

    class Listener(StreamListener):
        def on_update(self, status):  # noqa: ANN001
            streamed.append(status)

    stream = ann.stream_user(Listener(), run_async=True, reconnect_async=False)
    time.sleep(1)
    posted = bob.status_post("Hello from B, #python friends")
    try:
        eventually(lambda: [s for s in streamed if s.uri == posted.uri], "Bob's post on Ann's stream", both)
    finally:
        stream.close()
    seen = eventually(
        lambda: [s for s in ann.timeline_home() if s.uri == posted.uri], "Bob's post in Ann's home timeline", both
    )
    assert seen[0].account.acct == f"bob@{b.host}" and "python" in seen[0].content

    ann.status_post(f"@bob@{b.host} hello from A!", in_reply_to_id=seen[0].id)
    mention = eventually(lambda: bob.notifications(types=["mention"]), "Ann's reply as a mention at B", both)
    assert mention[0].account.acct == f"ann@{a.host}"
    assert mention[0].status.in_reply_to_id == posted.id
