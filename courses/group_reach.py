"""Group posts as community statuses: whose profile a group post comes from, and how it reaches
the group's members who have a profile here (their home feeds and a `group_post` notification).

Courses knows the members (enrollments); community knows feeds and notifications and nothing of
courses, so the member profile ids are found here and passed down.
"""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from community import fanout, search
from community.models import Profile
from community.notifications import notify
from community.people import find_by_uri, local_profile
from courses.models import Enrollment, Post, StudyGroup
from server.floor.accounts import Account

MEMBER_STATUSES = ("confirmed", "paused")  # courses.groups.GROUPED_STATUSES


def author_profile(session: Session, *, account_id: int | None, email: str | None, actor: str | None) -> Profile | None:
    """The profile a group post is by: the local account's (by id, else by address; made on first
    use), else the profile of the fediverse actor if one is known here; None for an email-only learner."""
    account = session.get(Account, account_id) if account_id is not None else None
    if account is None and email:
        account = session.scalar(select(Account).where(func.lower(Account.email) == email.strip().lower()))
    if account is not None and not account.disabled:
        return local_profile(session, account)
    if actor:
        return find_by_uri(session, actor)
    return None


def member_profile_ids(session: Session, group_id: int) -> list[int]:
    """The profiles of the group's members who have a local account (by the enrollment's account,
    or by the same address)."""
    query = (
        select(Profile.id)
        .join(Account, Account.id == Profile.account_id)
        .join(
            Enrollment,
            or_(Enrollment.account_id == Account.id, func.lower(Enrollment.email) == func.lower(Account.email)),
        )
        .where(Enrollment.group_id == group_id, Enrollment.status.in_(MEMBER_STATUSES), Profile.domain.is_(None))
        .distinct()
    )
    return list(session.scalars(query))


def reach_members(session: Session, group: StudyGroup, post: Post) -> None:
    """A group post (not held) into its members' home feeds, each but the author told (`group_post`),
    and into the search index."""
    members = member_profile_ids(session, group.id)
    fanout.add_group(session, post.id, [*members, *([post.profile_id] if post.profile_id else [])])
    for member_id in members:
        if member_id != post.profile_id:
            notify(session, member_id, "group_post", from_profile_id=post.profile_id, status_id=post.id)
    search.index(session, post)
