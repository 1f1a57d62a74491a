"""Course news for the learners who joined by following a run: the run boosts it to its followers.

Learners on Mastodon join a run by following it; they do not follow the course, so the course's
`Create` of a new version's `Article` or of a new run's announcement never reaches them. Each run of
the course that someone follows sends an `Announce` of that object to its own followers. Mastodon
keeps it: `ActivityPub::Activity::Announce#perform` (app/lib/activitypub/activity/announce.rb) rejects
an Announce unless `related_to_local_activity?` — here `followed_by_local_accounts?`, true since the
learner follows the run — and then boosts the object when `announceable?` (`status.distributable?`:
both objects are public, `to` Public); the boost is public (`visibility_from_audience`, Public in `to`)
and reaches the home timeline of those who follow the run. The object is referenced by id: the
version Article (`/courses/{slug}/versions/{n}`) and the run announcement (`/posts/{id}`) are served
to any ActivityPub client, so Mastodon's `status_from_object` fetches them from us.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.orm import Session

from courses.models import Course, Run
from federation.models import Follower
from federation.protocol.vocabulary import AS, PUBLIC
from federation.transport import delivery
from server.floor import urls
from server.floor.clock import now


def followed_runs(session: Session, course: Course) -> list[str]:
    """The ids of the runs of `course` that someone follows, oldest run first."""
    handles = session.scalars(select(Run.handle).where(Run.course_id == course.id).order_by(Run.start_date, Run.id))
    ids = [urls.run(handle) for handle in handles]
    if not ids:
        return []
    followed = set(session.scalars(select(Follower.actor).where(Follower.actor.in_(ids)).distinct()))
    return [run_id for run_id in ids if run_id in followed]


def announce_id(run_id: str, object_id: str) -> str:
    """The run's Announce of `object_id`: one id per run and object, so a repeated event sends it once."""
    return f"{run_id}#announce-{hashlib.sha256(object_id.encode()).hexdigest()[:24]}"


def relay_news(session: Session, course: Course, object_id: str) -> int:
    """Each followed run of `course` Announces `object_id` (public) to its followers; how many runs did."""
    course_id = urls.course(course.slug)
    runs = followed_runs(session, course)
    for run_id in runs:
        announce = {
            "@context": AS,
            "id": announce_id(run_id, object_id),
            "type": "Announce",
            "actor": run_id,
            "published": now().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "to": [PUBLIC],
            "cc": [f"{run_id}/followers", course_id],
            "object": object_id,
        }
        delivery.enqueue(session, announce, sender=run_id, recipients=[f"{run_id}/followers"])
    return len(runs)
