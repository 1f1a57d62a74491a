"""Learners' privacy: who may see their addresses, what a learner may download, and forgetting them after a
run is long finished.

Retention, in order, for each finished run (a daily job, `retention_pass`, each run in its own transaction):
1. `RETENTION_NOTICE` before its learners are due to be forgotten (MECHMOOC_ANONYMISE_AFTER_DAYS after its
   end), the members of its study groups are told the date (`run.closing`: the mail package writes the
   notices; it asks those who took part lately whether they want to stay). The date is kept on the run
   (`anonymise_at`) and never moves earlier than it was told.
2. A learner who asks to stay (`keep_in_group`) records their consent (`keep_consent_at`): their place
   is exempt, they stay in the group, which lives on after the run.
3. On the date every other learner is forgotten: `run.anonymising` first (the mail package forgets its
   copies while the addresses are still known), then names, addresses, answers and magic links are
   replaced, they leave their group, and their group posts lose who wrote them. A group nobody stayed in
   is closed (its address bounces).
4. A learner who stayed and later leaves is forgotten the same way at the next pass.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from courses.models import Course, Enrollment, Post, Run, StudyGroup, table
from courses.runs import times_of
from courses.signup import by_token, new_token
from server.floor import urls
from server.floor.accounts import Account
from server.floor.clock import now
from server.floor.config import get_settings
from server.floor.db import immediate, session_scope
from server.floor.errors import Invalid
from server.floor.events import publish

log = logging.getLogger(__name__)

ANONYMOUS_DOMAIN = "anonymised.invalid"
# How long before they are forgotten the members of a run's groups are told (and may ask to stay).
RETENTION_NOTICE = timedelta(days=14)
# Who is in a group after the run: the places that may stay there.
STAYING = ("confirmed", "paused")
# Ids per `run.anonymising` event (as the bulk enrollment events).
EVENT_IDS = 10_000


def can_see_learners(account: Account | None, run: Run) -> bool:
    """Admins see every run's learners; an organizer only those of runs (or courses) they organise."""
    if account is None or account.disabled:
        return False
    if account.is_admin:
        return True
    if not account.is_organizer:
        return False
    return run.organizer_id == account.id or (run.course is not None and run.course.owner_id == account.id)


def anonymous_address(enrollment_id: int) -> str:
    """The address a forgotten learner's place (and the mails to it) carries instead of theirs."""
    return f"learner-{enrollment_id}@{ANONYMOUS_DOMAIN}"


def _group_ids(run: Run) -> Any:
    return select(StudyGroup.id).where(StudyGroup.run_id == run.id)


def _to_tell(session: Session, run: Run) -> bool:
    """True when some group member of `run` gets mail: they must be told before their list closes."""
    query = select(Enrollment.id).where(
        Enrollment.run_id == run.id,
        Enrollment.group_id.is_not(None),
        Enrollment.email.is_not(None),
        Enrollment.status.in_(STAYING),
    )
    return session.scalar(query.limit(1)) is not None


def _staying(session: Session, run: Run) -> dict[int, str]:
    """The places of `run` whose learners asked to stay in their group (and still are in it): id → address."""
    rows = session.execute(
        select(Enrollment.id, Enrollment.email).where(
            Enrollment.run_id == run.id,
            Enrollment.keep_consent_at.is_not(None),
            Enrollment.status.in_(STAYING),
            Enrollment.group_id.is_not(None),
        )
    )
    return {row.id: (row.email or "") for row in rows}


def _forget(session: Session, run: Run, ids: list[int]) -> set[str]:
    """Forget the places `ids` of `run`: the mail package first, then names, addresses, answers, links and
    group; the (lower-cased) addresses they had."""
    if not ids:
        return set()
    for start in range(0, len(ids), EVENT_IDS):
        publish(session, "run.anonymising", {"run_id": run.id, "enrollment_ids": ids[start : start + EVENT_IDS]})
    addresses: set[str] = set()
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        emails = session.scalars(
            select(Enrollment.email).where(Enrollment.id.in_(chunk), Enrollment.email.is_not(None))
        )
        addresses.update(email.lower() for email in emails if email)
    # A fresh token too: old magic links must not open a page about the forgotten learner. Out of the group:
    # its list must not keep an address nobody reads.
    session.connection().execute(
        update(table(Enrollment)).where(table(Enrollment).c.id == bindparam("eid")),
        [
            {"eid": eid, "email": anonymous_address(eid), "name": "", "actor": None, "answers": {},
             "token": new_token(), "group_id": None, "next_due_at": None, "keep_consent_at": None}
            for eid in ids
        ],
    )  # fmt: skip
    return addresses


def _anonymise_posts(
    session: Session, run: Run, authors: set[str] | None = None, keep: frozenset[str] | set[str] = frozenset()
) -> None:
    """Group posts of `run` lose who wrote them: those of `authors` (lower-cased), or of everyone but `keep`."""
    query = update(Post).where(Post.group_id.in_(_group_ids(run)), Post.author_email.is_not(None))
    if authors is not None:
        chunks = sorted(authors)
        for start in range(0, len(chunks), 500):
            where = func.lower(Post.author_email).in_(chunks[start : start + 500])
            session.execute(query.where(where).values(author_email=None, author_name=""))
        return
    if keep:
        query = query.where(func.lower(Post.author_email).not_in(sorted(keep)))
    session.execute(query.values(author_email=None, author_name=""))


def anonymise_run(session: Session, run: Run) -> None:
    """Forget every learner of `run` but those who asked to stay in their group; their posts stay readable in
    the archive, without who wrote them."""
    staying = _staying(session, run)
    everyone = session.scalars(select(Enrollment.id).where(Enrollment.run_id == run.id).order_by(Enrollment.id))
    _forget(session, run, [eid for eid in everyone if eid not in staying])
    _anonymise_posts(session, run, keep={email.lower() for email in staying.values() if email})
    run.anonymised = True
    run.anonymise_at = run.anonymise_at or now()
    session.flush()


def retention_step(session: Session, run: Run, days: int, instant: datetime) -> str:
    """Move one finished run on: "told" (the notice went out), "anonymised", or "waiting"."""
    if run.anonymised or run.status != "finished":
        return "waiting"
    ends = times_of(session, run).ends
    due = ends + timedelta(days=days)
    if run.anonymise_at is None:
        if not _to_tell(session, run):
            if instant < due:
                return "waiting"
            anonymise_run(session, run)
            return "anonymised"
        if instant < due - RETENTION_NOTICE:
            return "waiting"
        # Told now, forgotten on the date told: never sooner than RETENTION_NOTICE from now.
        run.anonymise_at = max(due, instant + RETENTION_NOTICE)
        session.flush()
        # Who took part lately: since the run ended, or over the retention window if that is longer.
        since = min(ends, run.anonymise_at - timedelta(days=days))
        payload = {"run_id": run.id, "anonymise_at": run.anonymise_at.isoformat(), "active_since": since.isoformat()}
        publish(session, "run.closing", payload)
        return "told"
    if instant < run.anonymise_at:
        return "waiting"
    anonymise_run(session, run)
    return "anonymised"


def forget_leavers(session: Session, run: Run) -> int:
    """Forget the learners of an anonymised `run` who had asked to stay and have left their group since."""
    ids = list(
        session.scalars(
            select(Enrollment.id).where(
                Enrollment.run_id == run.id,
                Enrollment.keep_consent_at.is_not(None),
                or_(Enrollment.status.not_in(STAYING), Enrollment.group_id.is_(None)),
            )
        )
    )
    _anonymise_posts(session, run, authors=_forget(session, run, ids))
    session.flush()
    return len(ids)


def anonymise_finished_runs(session: Session, older_than_days: int | None = None) -> list[Run]:
    """Move every finished run on in this one transaction (see `retention_pass` for the job); the runs anonymised."""
    days = get_settings().anonymise_after_days if older_than_days is None else older_than_days
    done: list[Run] = []
    candidates = session.scalars(select(Run).where(Run.status == "finished", Run.anonymised.is_(False)))
    for run in candidates.all():
        if retention_step(session, run, days, now()) == "anonymised":
            done.append(run)
    session.flush()
    session.expire_all()
    return done


@dataclass
class RetentionReport:
    """What a retention pass did, by run handle; `failed` runs were rolled back (and logged)."""

    told: list[str] = field(default_factory=list)
    anonymised: list[str] = field(default_factory=list)
    leavers: int = 0
    failed: list[str] = field(default_factory=list)


def retention_pass(older_than_days: int | None = None) -> RetentionReport:
    """Tell, wait or forget, for every finished run, each in its own transaction: a run that fails is rolled
    back, logged and counted, and the others go on (one bad run blocked every other for ever)."""
    days = get_settings().anonymise_after_days if older_than_days is None else older_than_days
    report = RetentionReport()
    with session_scope() as session:
        pending = session.execute(
            select(Run.id, Run.handle).where(Run.status == "finished", Run.anonymised.is_(False)).order_by(Run.id)
        ).all()
        kept = select(Enrollment.run_id).where(Enrollment.keep_consent_at.is_not(None))
        anonymised = session.execute(select(Run.id, Run.handle).where(Run.anonymised.is_(True), Run.id.in_(kept))).all()
    for run_id, handle in [*pending, *anonymised]:
        try:
            with session_scope() as session:
                immediate(session)  # reads, then writes: SQLite's write lock first
                run = session.get(Run, run_id)
                if run is None:
                    continue
                if run.anonymised:
                    report.leavers += forget_leavers(session, run)
                    continue
                outcome = retention_step(session, run, days, now())
            if outcome in ("told", "anonymised"):
                getattr(report, outcome).append(handle)
        except Exception:  # noqa: BLE001 - any failure of one run must not stop the others
            log.exception("retention of run %s failed; rolled back, tried again at the next pass", handle)
            report.failed.append(handle)
    if report.failed:
        log.error("retention: %d runs failed (%s)", len(report.failed), ", ".join(report.failed))
    return report


def keep_in_group(session: Session, token: str, stay: bool = True) -> Enrollment:
    """The learner of `token` asks to stay in their group after the run (their consent, recorded), or takes
    it back, while their run's learners are about to be forgotten."""
    enrollment = by_token(session, token)
    run = enrollment.run
    if stay and enrollment.keep_consent_at is not None:
        return enrollment
    if run.anonymised:
        raise Invalid(f"the learners of run {run.handle} were forgotten already: leave from your page instead")
    if run.status != "finished" or run.anonymise_at is None:
        raise Invalid("your group stays open while the run goes on: you will be asked before it closes")
    if stay and (enrollment.group_id is None or enrollment.status not in STAYING or not enrollment.email):
        raise Invalid("this place is not in a study group any more: there is no group to stay in")
    enrollment.keep_consent_at = now() if stay else None
    session.flush()
    return enrollment


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def learner_data(session: Session, enrollment: Enrollment) -> dict[str, Any]:
    """What we keep about the person of `enrollment` (every place of their address or account, their
    group posts), as JSON-ready data; the mail package adds the mails sent to them."""
    if enrollment.email:
        identity, author = (
            Enrollment.email == enrollment.email,
            func.lower(Post.author_email) == enrollment.email.lower(),
        )
    elif enrollment.actor:
        identity, author = Enrollment.actor == enrollment.actor, Post.author_actor == enrollment.actor
    else:  # neither (cannot be made by signing up): this place alone
        identity, author = Enrollment.id == enrollment.id, Post.id.is_(None)
    places = []
    for place in session.scalars(select(Enrollment).where(identity).order_by(Enrollment.id)):
        run, group = place.run, place.group
        places.append({
            "course": run.course.title, "course_url": urls.course(run.course.slug), "run": run.handle,
            "run_url": urls.run(run.handle), "run_start": run.start_date.isoformat(), "status": place.status,
            "name": place.name, "email": place.email, "fediverse_account": place.actor, "timezone": place.timezone,
            "language": place.language, "answers": place.answers or {}, "solo": place.solo,
            "group": None if group is None else {"name": group.name, "address": urls.group_address(group.handle),
                                                 "url": urls.group(group.handle)},
            "signed_up_at": _iso(place.created_at), "confirmed_at": _iso(place.confirmed_at),
            "paused_at": _iso(place.paused_at), "kept_in_group_at": _iso(place.keep_consent_at),
            "forgotten_on": _iso(run.anonymise_at) if not run.anonymised else None,
        })  # fmt: skip
    posts = [
        {"url": urls.post(post.id), "subject": post.subject, "text": post.text, "written_at": _iso(post.created_at),
         "held": post.held, "deleted": post.deleted}
        for post in session.scalars(select(Post).where(author).order_by(Post.id))
    ]  # fmt: skip
    return {"exported_at": now().isoformat(), "places": places, "posts": posts}


def organizer_courses(session: Session, account: Account) -> list[Course]:
    """The courses an organizer owns (all of them for an admin)."""
    query = select(Course).order_by(Course.slug)
    return list(session.scalars(query if account.is_admin else query.where(Course.owner_id == account.id)))
