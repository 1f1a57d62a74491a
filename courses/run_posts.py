"""An announcement to a whole run: its organizer or a facilitator writes once, and each of the run's
open study groups gets it as a moderator's announcement — the path of a group post
(`courses.posts.store_group_post`: archived, relayed by mail to the email members and copied to the
fediverse members, in the home feeds of the members with an account here, who are told)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, delete, or_, select
from sqlalchemy.orm import Session

from community.models import FeedEntry
from courses.facilitators import RunFacilitator, may_moderate
from courses.models import Course, Post, Run, StudyGroup
from courses.posts import announcement_subject, moderator_name, store_group_post, text_html
from courses.runs import ACTIVE
from server.floor.accounts import Account
from server.floor.errors import Invalid, PermissionDenied

MAX_RUNS = 50  # the runs offered on the compose form
MAX_GROUPS = 500  # a run's groups an announcement goes to (a run of 10,000 learners in groups of 20)


def moderated_runs(session: Session, account: Account) -> list[Run]:
    """The runs not finished yet whose groups `account` may post announcements to: those they
    organise (or whose course they own) and those they facilitate; for an admin, every such run."""
    if account.disabled:
        return []
    query = (
        select(Run).join(Course, Course.id == Run.course_id).where(Run.status.in_(ACTIVE), Run.anonymised.is_(False))
    )
    if not account.is_admin:
        facilitated = select(RunFacilitator.run_id).where(RunFacilitator.account_id == account.id)
        mine: list[ColumnElement[bool]] = [Run.id.in_(facilitated)]
        if account.is_organizer:
            mine += [Run.organizer_id == account.id, Course.owner_id == account.id]
        query = query.where(or_(*mine))
    return list(session.scalars(query.order_by(Run.start_date.desc(), Run.id).limit(MAX_RUNS)))


def announce_to_run(session: Session, run: Run, account: Account, text: str, subject: str = "") -> list[Post]:
    """`account` (a moderator of `run`) posts `text` to every open study group of the run; the posts,
    one a group. PermissionDenied for anyone else, Invalid when the run has no open group."""
    if not may_moderate(session, account, run):
        raise PermissionDenied(f"run: only the organizer and facilitators of {run.handle} announce to it")
    text = text.replace("\x00", "").strip()
    if not text:
        raise Invalid("text: write something before posting")
    query = select(StudyGroup).where(StudyGroup.run_id == run.id, StudyGroup.closed_at.is_(None))
    groups = list(session.scalars(query.order_by(StudyGroup.number, StudyGroup.id).limit(MAX_GROUPS)))
    if not groups:
        raise Invalid(f"run: {run.handle} has no open study group yet (groups are formed when it starts)")
    posts = [
        store_group_post(
            session,
            group,
            source="web",
            text=text,
            html=text_html(text),
            subject=announcement_subject(subject),
            author_email=account.email,
            author_name=moderator_name(account),
            author_account_id=account.id,
        )
        for group in groups
    ]
    # The author's own home feed keeps one copy (each group's copy reached it).
    author_id = posts[0].profile_id
    if author_id is not None and len(posts) > 1:
        session.execute(
            delete(FeedEntry)
            .where(FeedEntry.profile_id == author_id, FeedEntry.status_id.in_([p.id for p in posts[1:]]))
            .execution_options(synchronize_session=False)
        )
    return posts
