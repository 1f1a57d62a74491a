"""Three real instances on 127.0.0.1: follow, fork, fork of a fork, upstream change, a cross-instance cohort.

A imports gentle-python; B follows and forks it; C forks B's fork (lineage A <- B <- C); A publishes a
changed version (by opening a run), B hears of it and sees the diff; a person on B joins A's run,
receives a unit as a post from the course, and posts to the study group, which reaches A's email
member, the group's archive and (a copy written for her) a member on C; replying to the unit posts
to the group too; an email reply reaches the person on B as a note she keeps.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import FIXTURES
from tests.integration.federated import eventually
from tests.support.instances import InstanceFactory, ok, query
from tests.support.smtp import SmtpSink

pytestmark = pytest.mark.slow
GENTLE = FIXTURES / "courses" / "gentle-python"
AP = {"Accept": "application/activity+json"}
SECRET = "flows-test-secret"


def document(url: str) -> dict[str, Any]:
    """An ActivityPub document, fetched unsigned as a reader would."""
    response = httpx.get(url, headers=AP, timeout=10)
    assert response.status_code == 200, (url, response.status_code, response.text[:300])
    return dict(response.json())


def fork_ids(course: str) -> list[str]:
    """The ids listed in a course's ForgeFed forks collection."""
    return [item["id"] for item in document(course + "/forks")["orderedItems"]]


def changed_copy(tmp: Path) -> Path:
    """gentle-python with one unit's wording changed (the origin's next version)."""
    target = tmp / "gentle-python"
    shutil.copytree(GENTLE, target)
    unit = target / "units" / "01-variables.md"
    unit.write_text(unit.read_text().replace("what surprised you", "what puzzled you"))
    return target


def test_three_instances_follow_fork_lineage_and_a_cohort_across_them(
    instance_factory: InstanceFactory, tmp_path: Path
) -> None:
    sink = SmtpSink().start()
    try:
        a = instance_factory(
            "a", env={"MECHMOOC_SMTP_URL": sink.url, "MECHMOOC_SECRET_KEY": SECRET,
                      "MECHMOOC_MAIL_DOMAIN": "lists.a.example"}
        )  # fmt: skip
        b = instance_factory("b")
        c = instance_factory("c")
        everyone = [a, b, c]

        # A publishes gentle-python; B follows it and forks it; C forks B's fork.
        course_a = ok(a.cli("course", "import", str(GENTLE)))
        assert document(course_a)["type"] == "Service"
        ok(b.cli("course", "follow", course_a))
        fork_b = ok(b.cli("course", "fork", course_a))
        fork_c = ok(c.cli("course", "fork", fork_b, "--slug", "python-gently"))
        assert fork_c == f"{c.url}/courses/python-gently"

        # The lineage A <- B <- C: on C's course and its units, and in A's and B's forks collections.
        on_c = document(fork_c)
        assert on_c["origin"] == fork_b and on_c["lineage"] == [fork_b, course_a]
        assert on_c["units"][1]["origin"] == f"{fork_b}/units/{on_c['units'][1]['slug']}"
        assert document(fork_b)["units"][1]["origin"] == f"{course_a}/units/{on_c['units'][1]['slug']}"
        eventually(lambda: set(fork_ids(course_a)) == {fork_b, fork_c}, "A's forks collection", everyone)
        eventually(lambda: fork_ids(fork_b) == [fork_c], "B's forks collection", everyone)
        # A fork is a normal local course: C can run it on its own schedule.
        assert ok(c.cli("run", "create", "python-gently", "--start", "2031-02-03")).startswith(f"{c.url}/runs/")
        eventually(
            lambda: (
                query(b, "SELECT state FROM federation_following WHERE target = ?", course_a) == [("accepted",)] * 2
            ),
            "A to accept B's follows (instance actor and the fork)",
            everyone,
        )

        # A changes a unit and publishes (opening a run publishes): B's fork hears and shows the diff.
        ok(a.cli("course", "import", str(changed_copy(tmp_path)), "--replace"))
        # The run started yesterday, so its day-0 unit is due in real time: deliveries made under a
        # clock moved into the future would wait for that future (and peers check signature dates).
        start = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
        run_a = ok(a.cli("run", "create", "gentle-python", "--start", start, "--group-size", "4"))
        eventually(
            lambda: query(b, "SELECT upstream_version FROM courses WHERE slug = 'gentle-python'") == [(1,)],
            "B's fork to record A's new version",
            everyone,
        )
        diff = ok(b.cli("course", "upstream", "gentle-python")) and b.cli("course", "upstream", "gentle-python").stdout
        assert "-- Discuss with {{ group.address }}: what surprised you" in diff
        assert "+- Discuss with {{ group.address }}: what puzzled you" in diff
        assert "puzzled" not in json.dumps(document(fork_b))  # nothing merged until asked
        # The run was announced to the course's followers as a Note that reads well in Mastodon.
        eventually(
            lambda: [
                row
                for row in query(
                    b, "SELECT payload FROM federation_inbox WHERE type = 'Create' AND actor = ?", course_a
                )
                if '"Note"' in row[0]
            ],
            "the run announcement at B",
            everyone,
        )
        rows = query(b, "SELECT payload FROM federation_inbox WHERE type = 'Create' AND actor = ?", course_a)
        created = [json.loads(row[0])["object"] for row in rows]
        (note,) = [o for o in created if o["type"] == "Note"]
        assert run_a in note["content"] and start in note["content"]
        # The new version came as a Create of its Article too: what a home timeline shows (issue 13, item 5).
        (version,) = [o for o in created if o["type"] == "Article"]
        assert version["id"].startswith(f"{course_a}/versions/") and version["to"] == [
            "https://www.w3.org/ns/activitystreams#Public"
        ]

        # A cohort: an email learner on A, grouped; a person on B joins A's run by following it.
        ok(a.cli("run", "enroll", run_a, "ann@example.org", "--name", "Ann"))
        ok(a.cli("run", "group", run_a))
        ok(b.cli("user", "create", "bea@example.org", "--password", "correct horse battery"))
        ok(b.cli("course", "follow", run_a, "--as", "bea"))
        ok(c.cli("user", "create", "cy@example.org", "--password", "correct horse battery"))
        ok(c.cli("course", "follow", run_a, "--as", "cy"))
        bea, cy = f"{b.url}/users/bea", f"{c.url}/users/cy"

        def group_of_both() -> str | None:
            shown = json.loads(a.cli("run", "show", run_a, "--json").stdout or "{}")
            for group in shown.get("groups", []):
                if bea in json.dumps(group) and cy in json.dumps(group):
                    return str(group["handle"])
            return None

        group_handle = eventually(group_of_both, "bea (on B) and cy (on C) enrolled in one group on A", everyone)
        group_a = f"{a.url}/groups/{group_handle}"

        # Day 0 of the run (caught up by late joiners): Ann gets the unit by mail, Bea as a post on B.
        ok(a.cli("mail", "send-due", "--now", datetime.now(UTC).isoformat(timespec="seconds")))
        assert sink.to("ann@example.org"), "Ann got no unit mail"
        # Units come from the course (a Service: Lemmy keeps private messages from no Group), written for Bea,
        # kept on B as a direct status of the course's profile (community's statuses: Bea's timeline shows it).
        by_course = "SELECT ap_id, html FROM posts WHERE visibility = 'direct' AND profile_id IS NOT NULL AND author_actor = ? ORDER BY id"
        welcome = eventually(
            lambda: query(b, by_course, course_a),
            "the unit Note at B",
            everyone,
        )
        unit_note, unit_html = welcome[0]
        assert "/posts/unit-" in unit_note and "<p>" in unit_html and "@<span>bea</span>" in unit_html

        # Bea posts to the study group: stored in A's archive and relayed to Ann by email.
        post_b = ok(b.cli("federation", "post", "bea", "Hello group, I am Bea from B.", "--to", group_a))
        stored = eventually(
            lambda: query(a, "SELECT source, text FROM posts WHERE ap_id = ?", post_b),
            "Bea's post in A's archive",
            everyone,
        )
        assert stored == [("activitypub", "Hello group, I am Bea from B.")]
        eventually(
            lambda: any(
                "I am Bea from B" in m.message.get_body(("plain",)).get_content() for m in sink.to("ann@example.org")
            ),
            "Bea's post relayed to Ann by email",
            everyone,
        )
        # Cy on C gets a copy written for her by the course (Mastodon would drop a group's Announce:
        # learners follow the run, not the group).
        eventually(
            lambda: query(c, "SELECT 1 FROM posts WHERE author_actor = ? AND text LIKE '%I am Bea from B%'", course_a),
            "Bea's post copied to Cy on C",
            everyone,
        )

        # Bea answers the unit from B (a reply to the course's note): a post in her group on A.
        reply_b = ok(
            b.cli("federation", "post", "bea", "Question on the unit from Bea.", "--to", course_a,
                  "--in-reply-to", unit_note)
        )  # fmt: skip
        eventually(
            lambda: query(a, "SELECT source FROM posts WHERE ap_id = ? AND group_id IS NOT NULL", reply_b),
            "Bea's reply to the unit in her group on A",
            everyone,
        )
        eventually(
            lambda: any(
                "Question on the unit" in m.message.get_body(("plain",)).get_content()
                for m in sink.to("ann@example.org")
            ),
            "Bea's reply to the unit relayed to Ann by email",
            everyone,
        )

        # Ann answers by email (handed over by the mail provider's webhook): Bea gets it on B as a Note.
        reply = EmailMessage()
        reply["From"], reply["Subject"] = "Ann <ann@example.org>", "Re: hello"
        reply["To"] = f"{group_handle}@lists.a.example"
        reply["Message-ID"] = "<ann-reply-1@example.org>"
        reply["Return-Path"] = "<ann@example.org>"  # the envelope sender, as the provider's MTA writes it
        reply.set_content("Welcome Bea, greetings from the email side.")
        token = hmac.new(SECRET.encode(), b"mail-webhook", hashlib.sha256).hexdigest()[:32]
        handed = httpx.post(f"{a.url}/mail/webhooks/inbound?token={token}", content=reply.as_bytes(), timeout=30)
        assert handed.status_code == 200, handed.text
        eventually(
            lambda: query(
                b,
                "SELECT 1 FROM posts WHERE author_actor = ? AND text LIKE '%greetings from the email side%'",
                course_a,
            ),
            "Ann's email reply at B",
            everyone,
        )
        assert len(query(a, "SELECT 1 FROM posts WHERE group_id IS NOT NULL")) == 3  # the archive shows all three

        # Moderation: Cy is blocked from the group; A keeps the block and takes Cy out of it.
        ok(a.cli("federation", "remove-member", group_handle, cy, "--block"))
        assert query(a, "SELECT group_id FROM enrollments WHERE actor = ?", cy) == [(None,)]
        assert query(a, "SELECT blocked FROM federation_actor_blocks WHERE blocker = ?", group_a) == [(cy,)]
    finally:
        sink.stop()
