"""Moderation between two real instances of ours (`mechmooc serve` processes, signed HTTP).

Ann lives on A, Bob on B; Bob follows Ann, so her posts reach B. Bob reports Ann's post and asks
for it to be forwarded: A receives a `Flag` from B's instance actor and Ann's moderators find a
report about her, with the post, and without Bob's name. Then B's moderator suspends Ann (a remote
actor there): Ann's next post is refused by B's inbox and never shows there; lifted, the one after
arrives again.
"""

from __future__ import annotations

import pytest

from tests.integration.federated import eventually, one
from tests.support.instances import InstanceFactory, ok, query

pytestmark = pytest.mark.slow


def test_a_forwarded_report_and_a_remote_suspension_between_two_instances(instance_factory: InstanceFactory) -> None:
    a, b = instance_factory("a"), instance_factory("b")
    both = [a, b]
    ok(a.cli("user", "create", "ann@example.org", "--handle", "ann", "--role", "learner"))
    ok(a.cli("user", "create", "ada@example.org", "--handle", "ada", "--role", "admin"))
    ok(b.cli("user", "create", "bob@example.org", "--handle", "bob", "--role", "learner"))
    ok(b.cli("user", "create", "mo@example.org", "--handle", "mo", "--role", "moderator"))
    ann = f"{a.url}/users/ann"
    ok(b.cli("people", "follow", "bob", f"@ann@{a.host}"))
    accepted = (
        "SELECT f.accepted FROM community_follows f JOIN community_profiles p ON p.id = f.target_id WHERE p.uri = ?"
    )
    eventually(lambda: one(b, accepted, ann) == 1, "A to accept Bob's follow of Ann", both)
    post = ok(a.cli("people", "post", "ann", "Buy cheap watches at my shop"))
    eventually(lambda: query(b, "SELECT 1 FROM posts WHERE ap_id = ?", post), "Ann's post at B", both)

    # Bob reports it, forwarded: A gets a Flag and a report about Ann, with the post, not naming Bob.
    ok(b.cli("moderation", "report", "bob", f"ann@{a.host}", "--status", post, "--comment", "spam", "--forward"))
    reports_at_a = (
        "SELECT r.comment, r.reporter_id, r.uri, r.status_ids FROM community_reports r "
        "JOIN community_profiles p ON p.id = r.target_id WHERE p.uri = ?"
    )
    eventually(lambda: query(a, reports_at_a, ann), "the forwarded report at A", both)
    ((comment, reporter_id, flag_id, status_ids),) = query(a, reports_at_a, ann)
    ann_post_id = one(a, "SELECT id FROM posts WHERE ap_id = ?", post)
    assert comment == "spam" and reporter_id is None and flag_id.startswith(b.url)
    assert str(ann_post_id) in str(status_ids)
    ((flag_actor, flag_payload),) = query(a, "SELECT actor, payload FROM federation_inbox WHERE type = 'Flag'")
    assert flag_actor == f"{b.url}/actor" and "bob" not in str(flag_payload)
    notified = (
        "SELECT count(*) FROM community_notifications n JOIN community_profiles p ON p.id = n.profile_id "
        "WHERE p.username = 'ada' AND p.domain IS NULL AND n.type = 'admin.report'"
    )
    assert one(a, notified) == 1

    # B's moderator suspends Ann: her next post is refused by B's inbox.
    ok(b.cli("moderation", "suspend", f"ann@{a.host}", "--as", "mo", "--reason", "spam from A"))
    refused = ok(a.cli("people", "post", "ann", "Still selling watches"))
    to_b = "SELECT status_code FROM federation_deliveries WHERE activity_id LIKE ? AND host = ?"
    eventually(
        lambda: any(code == 403 for (code,) in query(a, to_b, f"{refused}%", b.host)), "B to refuse Ann's post", both
    )
    assert query(b, "SELECT 1 FROM posts WHERE ap_id = ?", refused) == []
    audit = ok(b.cli("moderation", "audit"))
    assert "mo\tsuspend\tspam from A" in audit

    # Lifted: the next one arrives.
    ok(b.cli("moderation", "unsuspend", f"ann@{a.host}", "--as", "mo", "--reason", "they cleaned up"))
    welcome = ok(a.cli("people", "post", "ann", "Learning #python again"))
    eventually(lambda: query(b, "SELECT 1 FROM posts WHERE ap_id = ?", welcome), "Ann's post at B after the lift", both)
