"""Posting to a study group from the compose form: the same path as the group page's form
(`courses.posts.store_group_post`: archived, relayed by mail and to fediverse members), by the
signed-in person's seat in the group, under the same hourly limit; and an announcement of a run's
organizer or facilitator to every group of the run (`courses.run_posts.announce_to_run`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from community.models import Profile
from courses.models import Post, Run, StudyGroup
from courses.posts import store_group_post, text_html
from courses.run_posts import announce_to_run, moderated_runs
from server.floor.accounts import Account
from server.floor.errors import Invalid, PermissionDenied
from server.floor.ratelimit import hit
from web.pages.group_posting import MAX_TEXT, POSTS_PER_HOUR
from web.pages.group_view import seated_member
from web.social.paging import id_of


def post_to_group(
    session: Session, me: Profile | None, account: Account, group_id: int, values: dict[str, str], pictures: list[Any]
) -> str:
    """Store the form's text as a post of study group `group_id`; the path to see it."""
    group = session.get(StudyGroup, group_id)
    member = seated_member(session, group, account) if group is not None else None
    if group is None or member is None:
        raise PermissionDenied("group: you can post only to a study group you belong to")
    if pictures:
        raise Invalid("pictures: a post to a study group goes out by mail too and carries no pictures")
    text = values["status"].replace("\x00", "").strip()
    if not text:
        raise Invalid("text: write something before posting")
    if len(text) > MAX_TEXT:
        raise Invalid(f"text: the post is {len(text):,} characters long; at most {MAX_TEXT:,} fit")
    wait = hit(session, "group-post", str(member.id), POSTS_PER_HOUR, 3600)
    if wait is not None:
        raise Invalid(f"text: you posted {POSTS_PER_HOUR} times this hour; try again in {int(wait // 60) + 1} minutes")
    parent = None
    if (reply_id := id_of(values.get("in_reply_to", ""))) is not None:
        candidate = session.get(Post, reply_id)
        parent = candidate if candidate is not None and candidate.group_id == group.id else None
    post = store_group_post(
        session,
        group,
        source="web",
        text=text,
        html=text_html(text),
        author_email=member.email,
        author_actor=member.actor,
        author_name=member.name or (me.display_name if me else "") or account.handle,
        parent=parent,
    )
    if me is not None and post.profile_id is None:
        post.profile_id = me.id  # the post shows with its author's profile in the group's timeline
    return f"/groups/{group.handle}#post-{post.id}"


@dataclass(frozen=True)
class RunChoice:
    """A run one may announce to, as the compose form offers it."""

    handle: str
    label: str


def run_choices(session: Session, account: Account) -> list[RunChoice]:
    """The runs `account` organises or facilitates (not finished), newest first."""
    return [
        RunChoice(run.handle, f"{run.course.title if run.course else run.handle} ({run.start_date.isoformat()})")
        for run in moderated_runs(session, account)
    ]


def post_to_run(session: Session, account: Account, handle: str, values: dict[str, str], pictures: list[Any]) -> str:
    """Store the form's text as an announcement in every open group of the run `handle` (the
    signed-in person moderates it); the path to see the first one."""
    run = session.scalar(select(Run).where(Run.handle == handle.strip().lower()[:64]))
    if run is None:
        raise Invalid(f"run: no run {handle[:64]!r}")
    if pictures:
        raise Invalid("pictures: an announcement goes out by mail too and carries no pictures")
    text = values["status"].replace("\x00", "").strip()
    if len(text) > MAX_TEXT:
        raise Invalid(f"text: the post is {len(text):,} characters long; at most {MAX_TEXT:,} fit")
    wait = hit(session, "group-post", f"account:{account.id}", POSTS_PER_HOUR, 3600)
    if wait is not None:
        raise Invalid(f"text: you posted {POSTS_PER_HOUR} times this hour; try again in {int(wait // 60) + 1} minutes")
    posts = announce_to_run(session, run, account, text)
    first = session.get(StudyGroup, posts[0].group_id)
    assert first is not None
    return f"/groups/{first.handle}#post-{posts[0].id}"
