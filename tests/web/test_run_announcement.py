"""An announcement to a whole run from the compose page (issue 12, item 4: "post to a study group or
run you belong to"): the run's organizer or a facilitator writes once; every open study group of the
run gets it as a moderator's announcement (archived, mailed to its email members), and the members
with an account read it at home. Others are refused. On SQLite and PostgreSQL."""
# ruff: noqa: F811  (pytest fixtures imported from tests.web.test_group_space are test parameters)

from __future__ import annotations

from sqlalchemy import select
from starlette.testclient import TestClient

from community import people as people_service
from community.models import FeedEntry
from courses.facilitators import add_facilitator
from courses.models import Post, Run, StudyGroup
from mail.sender import send_all
from server.floor.accounts import Account
from server.floor.db import session_scope
from tests.api.test_both_backends import token_for
from tests.mail.conftest import gentle_run
from tests.support.smtp import SmtpSink
from tests.web.test_group_space import csrf, sign_in, sink  # noqa: F401


def _two_groups(organizer_email: str) -> str:
    """A run of ann and bob in two groups of one, organised by `organizer_email`; its handle."""
    with session_scope() as db:
        run = gentle_run(db, [("ann@example.org", "Ann", "UTC"), ("bob@example.org", "Bob", "UTC")], group_size=1)
        run = db.get(Run, run.id)
        assert run is not None
        run.organizer_id = db.scalars(select(Account).where(Account.email == organizer_email)).one().id
        run.status = "running"
        return run.handle


def test_an_organizer_announces_to_every_group_of_the_run(
    client: TestClient, people: dict[str, str], sink: SmtpSink
) -> None:
    ann = token_for(client, "ann")  # a member of group 1 with an account; bob (group 2) is email only
    handle = _two_groups(people["organizer"])
    sign_in(client, people["organizer"])
    form = client.get("/compose").text
    assert f'<option value="{handle}"' in form and "Announce to a whole run" in form
    sent = client.post(
        "/compose",
        data={"csrf_token": csrf(client, "/compose"), "status": "Unit 3 is postponed to Monday.", "run": handle},
        follow_redirects=False,
    )
    assert sent.status_code == 303 and "#post-" in sent.headers["location"]
    with session_scope() as db:
        posts = db.scalars(select(Post).where(Post.text == "Unit 3 is postponed to Monday.")).all()
        groups = {g.id for g in db.scalars(select(StudyGroup).join(Run).where(Run.handle == handle))}
        assert {p.group_id for p in posts} == groups and len(groups) == 2
        assert all(p.subject == "Announcement" and p.author_name.endswith("(moderator)") for p in posts)
        otto = db.scalars(select(Account).where(Account.email == people["organizer"])).one()
        author = people_service.local_profile(db, otto)
        in_feed = select(FeedEntry).where(FeedEntry.profile_id == author.id)
        assert len(db.scalars(in_feed.where(FeedEntry.status_id.in_([p.id for p in posts]))).all()) == 1
        send_all(db)
    mailed = sorted(m.recipients[0] for m in sink.received if b"Unit 3 is postponed to Monday." in m.data)
    assert mailed == ["ann@example.org", "bob@example.org"]
    home = client.get("/api/v1/timelines/home", headers=ann).json()
    assert [s["content"] for s in home if "Unit 3 is postponed" in s["content"]] != []
    assert len([s for s in home if "Unit 3 is postponed" in s["content"]]) == 1  # her group's copy only


def test_a_facilitator_may_announce_and_a_learner_may_not(client: TestClient, people: dict[str, str]) -> None:
    handle = _two_groups(people["organizer"])
    sign_in(client, people["learner"])
    assert f'<option value="{handle}"' not in client.get("/compose").text
    refused = client.post(
        "/compose", data={"csrf_token": csrf(client, "/compose"), "status": "I am in charge now", "run": handle}
    )
    assert refused.status_code == 400 and "only the organizer and facilitators" in refused.text
    with session_scope() as db:
        assert db.scalars(select(Post).where(Post.text == "I am in charge now")).first() is None
        add_facilitator(db, db.scalars(select(Run).where(Run.handle == handle)).one(), people["learner"])
    assert f'<option value="{handle}"' in client.get("/compose").text
    sent = client.post(
        "/compose",
        data={"csrf_token": csrf(client, "/compose"), "status": "Office hours at 5.", "run": handle},
        follow_redirects=False,
    )
    assert sent.status_code == 303
    with session_scope() as db:
        assert len(db.scalars(select(Post).where(Post.text == "Office hours at 5.")).all()) == 2
    both = client.post(
        "/compose",
        data={"csrf_token": csrf(client, "/compose"), "status": "x", "run": handle, "group": f"{handle}-g1"},
    )
    assert both.status_code == 400 and "not both" in both.text
