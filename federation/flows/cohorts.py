"""Cohorts that span the fediverse: remote accounts join runs, study groups are FEP-1b12 Groups.

- `join(session, run, actor_id)` enrolls a fediverse account through `courses.signup.enroll_actor`
  (which groups it and publishes `enrollment.confirmed`, so the mail scheduler starts its units)
  and makes it a follower of the run, so the run's activities reach it. `join_by_handle` is the
  service behind the signup form's "join with your fediverse handle".
- `receive_group_post` stores a member's post to a study group (addressed to the group, or a
  reply to a note of the course) as a courses `Post` (source activitypub) and publishes
  `post.created`: mail relays it to email members, `federation.flows.relay` sends each other
  fediverse member a copy written for them (Mastodon would drop the group's `Announce`: the
  learners follow the run, not the group).
- Moderation: `remove_member` (the learner leaves the group and gets nothing more from it) and
  `block_member` (also refused if they post or join again).
"""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import urlsplit

import nh3
from sqlalchemy import select
from sqlalchemy.orm import Session

from courses import learner
from courses.closing import is_closed_by_organizer
from courses.groups import remove_from_group
from courses.models import Enrollment, Post, Run, StudyGroup
from courses.posts import store_group_post
from courses.signup import enroll_actor, request_actor_signup
from federation.flows.copies import post_of_ref
from federation.models import ActorBlock, Follower, RemoteActor
from federation.protocol.addressing import personal_note
from federation.protocol.vocabulary import create_of
from federation.transport import delivery
from federation.transport.fetch import cached_actor
from server.floor import urls
from server.floor.clock import now
from server.floor.config import get_settings
from server.floor.errors import Invalid, PermissionDenied
from server.floor.ratelimit import hit

# Enrollments by Follow/Join one remote host may make in one run per hour (docs/security.md):
# throwaway accounts of one server must not fill a run; a real instance's learners rarely come 10 an hour.
JOINS_PER_HOST = 10
JOIN_WINDOW_SECONDS = 3600


class JoinLimited(PermissionDenied):
    """A remote host made too many enrollments in one run within the hour (answered with Reject)."""


def join(session: Session, run: Run, actor_id: str, follow_id: str | None = None) -> Enrollment:
    """Enroll the fediverse account `actor_id` in `run` (idempotent) and make it a run follower.

    A new enrollment counts against its host's limit (JOINS_PER_HOST an hour per run): JoinLimited.
    """
    run_id = urls.run(run.handle)
    if is_blocked_from(session, run, actor_id):
        raise PermissionDenied(f"{actor_id} is blocked from {run_id}")
    remote = cached_actor(session, actor_id)  # fetched before the transaction (the inbox's `needs`)
    enrollment = session.scalar(select(Enrollment).where(Enrollment.run_id == run.id, Enrollment.actor == remote.ap_id))
    if enrollment is None or enrollment.status in {"left", "unsubscribed"}:
        host = urlsplit(remote.ap_id).netloc.lower()
        wait = hit(session, "federation.join", f"{run.id} {host}", JOINS_PER_HOST, JOIN_WINDOW_SECONDS)
        if wait is not None:
            raise JoinLimited(
                f"{host} enrolled {JOINS_PER_HOST} accounts in {run_id} within the hour; "
                f"try again in {int(wait // 60) + 1} minutes"
            )
        enrollment = enroll_actor(session, run, remote.ap_id, remote.name or remote.handle or "", run.timezone)
    elif enrollment.status == "pending":
        # Typed into the signup form, now followed from the account itself: that confirms it.
        enrollment = enroll_actor(session, run, remote.ap_id, remote.name or remote.handle or "", run.timezone)
    follower = session.scalar(select(Follower).where(Follower.actor == run_id, Follower.follower == remote.ap_id))
    if follower is None:
        session.add(
            Follower(
                actor=run_id,
                follower=remote.ap_id,
                inbox=remote.inbox,
                shared_inbox=remote.shared_inbox,
                follow_id=follow_id,
            )
        )
        session.flush()
    return enrollment


def join_by_handle(session: Session, run: Run, actor_id: str) -> Enrollment:
    """The signup form's fediverse path: the account typed in, looked up before the transaction
    (`fetch.prefetch`), asks to join; it confirms by a direct post.

    Anyone can type anyone's handle, so the enrollment stays pending until the account opens the
    single-use link sent to it (`on_enrollment_requested`), as an email signup does.
    """
    remote = cached_actor(session, actor_id)
    if is_blocked_from(session, run, remote.ap_id):
        raise PermissionDenied(f"{remote.ap_id} is blocked from {urls.run(run.handle)}")
    return request_actor_signup(session, run, remote.ap_id, remote.name or remote.handle or "", run.timezone)


def on_enrollment_requested(session: Session, payload: dict[str, Any]) -> None:
    """A fediverse account was named on the signup form: send it the confirmation, written for it alone.

    From the course, addressed as every personal note is (`federation.protocol.addressing`), so it
    is neither dropped (Lemmy, GoToSocial) nor filtered (Mastodon). Following the run confirms too.
    """
    enrollment = session.get(Enrollment, int(payload["enrollment_id"]))
    if enrollment is None or not enrollment.actor or enrollment.email or enrollment.status != "pending":
        return
    run = enrollment.run
    course_id = urls.course(run.course.slug)
    link = urls.signup_confirm(enrollment.token)
    title = html.escape(run.course.title)
    run_handle = f"@{run.handle}@{get_settings().host}"
    content = (
        f"<p>Someone asked to enroll this account in <strong>{title}</strong> (starting "
        f'{run.start_date.isoformat()}). To confirm, open <a href="{html.escape(link)}">{html.escape(link)}</a> '
        f'or follow <a href="{html.escape(urls.run(run.handle))}">{html.escape(run_handle)}</a> from this account. '
        "If it was not you, ignore this post.</p>"
    )
    handle = session.scalar(select(RemoteActor.handle).where(RemoteActor.ap_id == enrollment.actor))
    note = personal_note(
        note_id=f"{urls.run(run.handle)}/confirmations/{enrollment.id}-{int(now().timestamp() * 1000)}",
        sender=course_id,
        recipient=enrollment.actor,
        handle=handle,
        content=content,
        published=now().isoformat(timespec="seconds").replace("+00:00", "Z"),
    )
    delivery.enqueue(session, create_of(note, course_id, cc=note["cc"]), sender=course_id, recipients=note["to"])


def leave(session: Session, run: Run, actor_id: str) -> bool:
    """The account leaves the run (Leave, Undo of its Follow); False when it was not enrolled."""
    enrollment = session.scalar(select(Enrollment).where(Enrollment.run_id == run.id, Enrollment.actor == actor_id))
    follower = session.scalar(
        select(Follower).where(Follower.actor == urls.run(run.handle), Follower.follower == actor_id)
    )
    if follower is not None:
        session.delete(follower)
    if enrollment is None or enrollment.status == "left":
        return False
    # The courses service frees the place: waiting list, group remnants, `enrollment.changed`.
    learner.leave(session, enrollment.token)
    return True


def members(session: Session, group: StudyGroup) -> list[Enrollment]:
    """The group's learners still taking part (email and fediverse)."""
    query = select(Enrollment).where(Enrollment.group_id == group.id, Enrollment.status.in_(("confirmed", "paused")))
    return list(session.scalars(query.order_by(Enrollment.id)))


def fediverse_members(session: Session, group: StudyGroup, *, besides: str | None = None) -> list[str]:
    """The actor ids of the group's fediverse members, less `besides` (the author of a post)."""
    return [m.actor for m in members(session, group) if m.actor and m.actor != besides]


def group_for(session: Session, addressed: list[str]) -> StudyGroup | None:
    """The local study group among the addressed ids (to, cc, audience, the inbox), if any."""
    prefix = urls.group("")
    handles = [a[len(prefix) :] for a in addressed if a.startswith(prefix) and "/" not in a[len(prefix) :]]
    if not handles:
        return None
    return session.scalar(select(StudyGroup).where(StudyGroup.handle.in_(handles)))


def addressed(activity: dict[str, Any], recipient: str | None) -> list[str]:
    """Every id an activity and its object are addressed to (to, cc, audience) and the inbox owner."""
    found = [recipient] if recipient else []
    for document in (activity, activity.get("object")):
        if not isinstance(document, dict):
            continue
        for field in ("to", "cc", "audience"):
            value = document.get(field)
            found += [value] if isinstance(value, str) else [v for v in value or [] if isinstance(v, str)]
    return found


def is_blocked_from(session: Session, run: Run, actor_id: str) -> bool:
    """True when the run or one of its groups has blocked `actor_id`."""
    blockers = [urls.run(run.handle), *(urls.group(g.handle) for g in run.groups)]
    query = select(ActorBlock.id).where(ActorBlock.blocker.in_(blockers), ActorBlock.blocked == actor_id)
    return session.scalar(query) is not None


def _text(html: str) -> str:
    return nh3.clean(html, tags=set()).strip()


def receive_group_post(session: Session, create: dict[str, Any], group: StudyGroup, author: str) -> Post | None:
    """Store a member's post to `group` (`courses.posts.store_group_post`: post.created copies it to the others)."""
    note = create.get("object")
    if not isinstance(note, dict) or not isinstance(note.get("id"), str):
        raise Invalid("a post to a study group must embed its object with an id")
    if is_closed_by_organizer(group):
        return None  # closed by its organizer (courses.closing): nothing is posted, nobody gets a copy
    member = session.scalar(select(Enrollment).where(Enrollment.group_id == group.id, Enrollment.actor == author))
    if member is None or member.status not in {"confirmed", "paused"} or is_blocked_from(session, group.run, author):
        return None  # not a member: FEP-1b12 groups announce members' posts only
    if session.scalar(select(Post.id).where(Post.ap_id == note["id"])) is not None:
        return None
    html = nh3.clean(str(note.get("content") or ""))
    reply_to = note.get("inReplyTo") if isinstance(note.get("inReplyTo"), str) else None
    return store_group_post(
        session,
        group,
        source="activitypub",
        ap_id=note["id"],
        text=_text(html),
        html=html,
        subject=str(note.get("summary") or note.get("name") or ""),
        author_actor=author,
        author_name=member.name,
        parent=post_of_ref(session, reply_to) if reply_to else None,  # another group's post: a new thread
        in_reply_to_ref=reply_to,
    )


def remove_member(session: Session, group: StudyGroup, actor_or_email: str) -> Enrollment:
    """Take a learner out of a study group (moderation); they stay in the run on their own (no regrouping
    brings them back; an organizer can move them into a group)."""
    member = session.scalar(
        select(Enrollment).where(
            Enrollment.group_id == group.id,
            (Enrollment.actor == actor_or_email) | (Enrollment.email == actor_or_email),
        )
    )
    if member is None:
        raise Invalid(f"{actor_or_email} is not a member of group {group.handle}")
    remove_from_group(session, member)
    return member


def block_member(session: Session, group: StudyGroup, actor_id: str) -> ActorBlock:
    """Remove a fediverse member from a group and refuse their posts and joins from now on."""
    group_id = urls.group(group.handle)
    try:
        remove_member(session, group, actor_id)
    except Invalid:
        pass  # blocking someone who already left is fine
    row = session.scalar(select(ActorBlock).where(ActorBlock.blocker == group_id, ActorBlock.blocked == actor_id))
    if row is None:
        row = ActorBlock(blocker=group_id, blocked=actor_id, created_at=now())
        session.add(row)
        session.flush()
    return row
