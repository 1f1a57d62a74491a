"""Answering the course's notes is writing to one's study group.

A learner on Mastodon sees a unit, or a copy of a group post, as a note from the course
(`federation.flows.relay`); replying to it is the natural way to answer, and the reply is
addressed to the course (Mastodon's reply mentions the author), not to the group. So a `Create`
whose Note replies to one of our notes is posted to the group of its author:
- a reply to a copy of a group post, or to a member's post we keep: that post's group;
- a reply to a unit: the author's group in the unit's run.
Lemmy sends a private message without `inReplyTo`: one addressed to a course is posted to the
author's group in that course when they have exactly one (otherwise it is not ours to guess).
A Note addressed to a study group itself is `group_posts`' business, and a non-member's reply is
not posted (FEP-1b12 groups relay members only).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from courses.models import Course, Enrollment, Run, StudyGroup
from federation.entry.handlers import Inbound, activity_type, handles
from federation.flows.cohorts import addressed, group_for, receive_group_post
from federation.flows.copies import post_of_ref
from server.floor import urls

NOTE_TYPES = frozenset({"Note", "Article", "Page"})
ACTIVE = ("confirmed", "paused")


def _learner_group(session: Session, actor: str, run_ids: list[int]) -> StudyGroup | None:
    """The one study group `actor` takes part in among these runs (None if none, or several)."""
    query = select(Enrollment.group_id).where(
        Enrollment.actor == actor,
        Enrollment.run_id.in_(run_ids),
        Enrollment.status.in_(ACTIVE),
        Enrollment.group_id.is_not(None),
    )
    groups = set(session.scalars(query))
    return session.get(StudyGroup, groups.pop()) if len(groups) == 1 else None


def _courses_addressed(session: Session, recipients: list[str]) -> list[int]:
    prefix = urls.course("")
    slugs = [r[len(prefix) :] for r in recipients if r.startswith(prefix) and "/" not in r[len(prefix) :]]
    return list(session.scalars(select(Course.id).where(Course.slug.in_(slugs)))) if slugs else []


def group_answered(session: Session, note: dict[str, Any], author: str, recipients: list[str]) -> StudyGroup | None:
    """The study group a Note from `author` answers, by what it replies to (or, with no reply, the course it is to)."""
    reply_to = note.get("inReplyTo")
    if isinstance(reply_to, str) and reply_to:
        parent = post_of_ref(session, reply_to)
        if parent is None:
            return None
        if parent.kind == "group" and parent.group_id is not None:
            return session.get(StudyGroup, parent.group_id)
        if parent.kind == "unit" and parent.run_id is not None:
            return _learner_group(session, author, [parent.run_id])
        return None
    courses = _courses_addressed(session, recipients)
    if not courses:
        return None
    runs = list(session.scalars(select(Run.id).where(Run.course_id.in_(courses))))
    return _learner_group(session, author, runs)


@handles("Create")
def reply_to_course(inbound: Inbound) -> str | None:
    """Post a reply to a unit or to a group post (or a Lemmy message to the course) in the author's group."""
    note = inbound.object
    if activity_type(note) not in NOTE_TYPES or not isinstance(note, dict):
        return None
    recipients = addressed(inbound.activity, inbound.recipient)
    if group_for(inbound.session, recipients) is not None:
        return None  # addressed to the group itself: group_posts.post_to_group
    group = group_answered(inbound.session, note, inbound.actor, recipients)
    if group is None:
        return None
    post = receive_group_post(inbound.session, inbound.activity, group, inbound.actor)
    if post is None:
        return f"reply not posted in group {group.handle}: not a member, or already posted"
    return f"reply posted as {post.id} in group {group.handle}"
