"""What a course tells its followers: a new version (`Update` of the actor and `Create` of the version
`Article`) and a new run (a Note Mastodon shows); each followed run boosts both to its own followers
(`federation.flows.run_news`: learners follow the run, not the course).

Reactions to `course.published` and `run.created`; both only write rows (a Post for the run's
announcement, delivery rows through `federation.transport.delivery.enqueue`) in the caller's transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from courses.models import Course, Post, Run
from courses.news import run_announcement
from federation.flows import actors
from federation.flows.follows import activity_id, follower_count
from federation.flows.run_news import followed_runs, relay_news
from federation.protocol import vocabulary
from federation.transport import delivery
from server.floor import urls
from server.floor.clock import now
from server.floor.config import get_settings


def iso(instant: Any) -> str:
    """An instant as AS2 writes it (UTC, seconds, Z)."""
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ")


def on_course_published(session: Session, payload: dict[str, Any]) -> None:
    """Send `Update` of the course actor (now at the new version) to the course's followers."""
    course = session.get(Course, payload["course_id"])
    if course is None:
        return
    course_id = urls.course(course.slug)
    session.expire(course, ["versions"])  # the version just added is not in the loaded list yet
    version = next((v for v in course.versions if v.number == payload["version"]), None)
    if version is not None:  # learners who followed a run (not the course) get it boosted by the run
        ids = vocabulary.CourseIds(course=course_id, url=course_id, forks=f"{course_id}/forks", version=version.number)
        relay_news(session, course, vocabulary.version_article(version.snapshot, ids, iso(version.published_at))["id"])
    if follower_count(session, course_id) == 0:
        return
    document = actors.actor_document(session, course_id)
    if document is None:
        return
    update = {
        "@context": document["@context"],
        "id": activity_id(course_id, f"update-v{payload['version']}"),
        "type": "Update",
        "actor": course_id,
        "published": iso(now()),
        "to": [vocabulary.PUBLIC],
        "cc": [f"{course_id}/followers"],
        "object": {k: v for k, v in document.items() if k != "@context"},
    }
    delivery.enqueue(session, update, sender=course_id, recipients=[f"{course_id}/followers"])
    # The Update refreshes the profile; the Create is what followers' home timelines show (a
    # Mastodon home feed takes statuses, never profile updates): title, teaser, link.
    if version is not None:
        ids = vocabulary.CourseIds(course=course_id, url=course_id, forks=f"{course_id}/forks", version=version.number)
        article = vocabulary.version_article(version.snapshot, ids, iso(version.published_at))
        create = {
            "@context": document["@context"],
            "id": f"{article['id']}/activity",
            "type": "Create",
            "actor": course_id,
            "published": article["published"],
            "to": article["to"],
            "cc": article["cc"],
            "object": article,
        }
        delivery.enqueue(session, create, sender=course_id, recipients=[f"{course_id}/followers"])


def run_facts(session: Session, run: Run) -> vocabulary.RunFacts:
    """The facts a run's Group actor and its announcement show."""
    return actors._run_facts(session, run, urls.run(run.handle))


def on_run_created(session: Session, payload: dict[str, Any]) -> None:
    """Announce a new run to the course's followers as a public Note: name, dates, signup link."""
    run = session.get(Run, payload["run_id"])
    if run is None:
        return
    course_id = urls.course(run.course.slug)
    if follower_count(session, course_id) == 0 and not followed_runs(session, run.course):
        return
    facts = run_facts(session, run)
    # The course's status made by courses.news (its followers here read it at home) is the Note.
    post = run_announcement(session, run)
    if post is None:
        post = Post(
            kind="announcement",
            source="local",
            course_id=run.course_id,
            run_id=run.id,
            author_actor=course_id,
            author_name=run.course.title,
            subject=f"New run: {run.course.title}",
            text=vocabulary.run_teaser(facts),
            visibility="public",
            created_at=now(),
        )
        session.add(post)
        session.flush()
        post.ap_id = urls.post(post.id)
    assert post.ap_id is not None
    note = vocabulary.run_announcement(facts, post.ap_id, iso(post.created_at), f"{course_id}/followers")
    post.html = note["content"]  # what the fediverse reads is what the status shows here
    create = vocabulary.create_of(note, course_id, vocabulary.context(get_settings().url), cc=note["cc"])
    delivery.enqueue(session, create, sender=course_id, recipients=[f"{course_id}/followers"])
    # Learners of the course's other runs who joined by following their run: the run boosts the news.
    relay_news(session, run.course, post.ap_id)
