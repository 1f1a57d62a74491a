"""Course news reaches learners who joined by following a run (issue 13): the run boosts a new version's
Article and a new run's announcement to its followers. Mastodon keeps an Announce only from an actor a
local account follows (app/lib/activitypub/activity/announce.rb, `ActivityPub::Activity::Announce#perform`:
`related_to_local_activity?` / `followed_by_local_accounts?`), of a public status (`announceable?`)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from courses.models import Post
from courses.runs import create_run
from courses.versions import publish
from federation.models import Delivery, Follower
from federation.protocol.vocabulary import PUBLIC
from server.floor import urls
from tests.federation.conftest import InstanceClient, Remote
from tests.federation.test_fediverse_learner import JOHN, cohort


def announces_by(session: Session, actor: str) -> list[dict[str, Any]]:
    session.expire_all()
    rows = session.execute(select(Delivery.body, Delivery.inbox).where(Delivery.sender == actor)).all()
    return [json.loads(body) | {"_inbox": inbox} for body, inbox in rows if json.loads(body)["type"] == "Announce"]


def test_a_new_version_and_a_new_run_are_boosted_by_the_run_to_its_followers(
    client: InstanceClient, session: Session, remote: Remote
) -> None:
    run, _group = cohort(session, client, remote, JOHN)  # John joined by following the run
    course_id, run_id = urls.course(run.course.slug), urls.run(run.handle)
    assert session.scalar(select(Follower.id).where(Follower.actor == course_id)) is None  # not the course
    course = run.course
    course.units[0].title = "Welcome, again"
    course.draft_changed = True
    version = publish(session, course)
    session.commit()
    (boost,) = announces_by(session, run_id)
    assert boost["object"] == f"{course_id}/versions/{version.number}"
    assert boost["to"] == [PUBLIC] and boost["cc"] == [f"{run_id}/followers", course_id]
    assert boost["_inbox"].startswith("https://mastodon/")  # John's server
    # The boosted Article is served to the learner's server as a public status (what `announceable?` needs).
    article = client.get(boost["object"], headers={"Accept": "application/activity+json"})
    assert article.status_code == 200 and PUBLIC in article.json()["to"]

    later = create_run(session, course, date(2031, 1, 6), "UTC")
    session.commit()
    announcement = session.scalar(select(Post).where(Post.run_id == later.id, Post.kind == "announcement"))
    assert announcement is not None  # made although nobody follows the course itself
    objects = [b["object"] for b in announces_by(session, run_id)]
    assert objects == [boost["object"], announcement.ap_id]
    assert announces_by(session, urls.run(later.handle)) == []  # the new run has no followers yet
    publish_again = [b["id"] for b in announces_by(session, run_id)]
    assert len(set(publish_again)) == 2  # one Announce per object, a stable id
