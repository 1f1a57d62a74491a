"""Reports to this instance's moderators, their queue, and the audit log of what moderators did.

A report names an account (a `Profile`, local or remote) and optionally some of its statuses; it
comes from a local person (`report`) or from another server's `Flag` (`receive_flag`, called by
federation's inbox handler). Each new report publishes `report.created` {report_id, forward} —
federation sends a `Flag` to the target's server when `forward` is true — and notifies every local
moderator and admin (`admin.report`). What moderators do about it (`community.sanctions`) writes one
`ModerationAction` row each: the audit log, naming the moderator and the reason.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from community.access import follows, mentioned
from community.models import FeedEntry, ModerationAction, Notification, Profile, Report, Status
from community.people import local_profile
from server.floor.accounts import Account
from server.floor.clock import now
from server.floor.errors import Invalid, NotFound, PermissionDenied
from server.floor.events import publish

MODERATOR_ROLES = ("admin", "moderator")
CATEGORIES = ("spam", "legal", "violation", "other")
COMMENT_LENGTH = 1000  # Mastodon's limit on a report's comment
REASON_LENGTH = 1000
STATUSES_PER_REPORT = 20
REPORTS_PER_DAY = 20  # by one local person: a moderator queue is not a place to flood
QUEUE_PAGE = 50
EVIDENCE_HTML = 20_000  # characters of a reported status's HTML kept with the report


def _evidence(session: Session, status_ids: list[int]) -> list[dict[str, object]]:
    """What the reported statuses say now, kept with the report."""
    rows = {s.id: s for s in session.scalars(select(Status).where(Status.id.in_(status_ids)))} if status_ids else {}
    return [
        {
            "id": number,
            "text": rows[number].text[:EVIDENCE_HTML],
            "html": rows[number].html[:EVIDENCE_HTML],
            "visibility": rows[number].visibility,
            "created_at": rows[number].created_at.isoformat(),
        }
        for number in status_ids
        if number in rows
    ]


def is_moderator(account: Account | None) -> bool:
    """True for an enabled account that may act on reports (roles admin and moderator)."""
    return account is not None and not account.disabled and account.role in MODERATOR_ROLES


def require_moderator(account: Account | None) -> Account:
    """The account, if it is a moderator; PermissionDenied otherwise."""
    if account is None or not is_moderator(account):
        raise PermissionDenied("only moderators and admins may act on reports and accounts")
    return account


def _clean_reason(reason: str) -> str:
    text = (reason or "").strip()
    if len(text) > REASON_LENGTH:
        raise Invalid(f"reason: at most {REASON_LENGTH} characters (now {len(text)})")
    return text


def log_action(
    session: Session,
    moderator: Account | None,
    action: str,
    *,
    reason: str = "",
    profile_id: int | None = None,
    status_id: int | None = None,
    domain: str | None = None,
    report_id: int | None = None,
) -> ModerationAction:
    """Write one row of the audit log (moderator None: the instance itself, e.g. a remote Flag)."""
    row = ModerationAction(
        moderator_id=moderator.id if moderator is not None else None,
        action=action,
        target_profile_id=profile_id,
        target_status_id=status_id,
        target_domain=domain,
        report_id=report_id,
        reason=_clean_reason(reason),
        created_at=now(),
    )
    session.add(row)
    session.flush()
    return row


def reportable(session: Session, status: Status, reporter: Profile) -> bool:
    """Whether `reporter` may name `status` in a report: one they could read (public or unlisted,
    mentioning them, followers-only of someone they follow, or in their home feed). Unlike
    `access.can_see`, a block between them does not stop it: people report whom they blocked."""
    if status.visibility in ("public", "unlisted") or mentioned(session, status.id, reporter.id):
        return True
    if status.visibility == "private" and status.profile_id is not None:
        if follows(session, reporter.id, status.profile_id):
            return True
    query = select(FeedEntry.status_id).where(FeedEntry.profile_id == reporter.id, FeedEntry.status_id == status.id)
    return session.scalar(query) is not None


def _statuses_of(session: Session, reporter: Profile, target: Profile, status_ids: Iterable[int]) -> list[int]:
    """The reported status ids, checked: at most STATUSES_PER_REPORT, each one a status of `target`
    the reporter could read (the same answer for one that does not exist: nothing is revealed)."""
    wanted = list(dict.fromkeys(int(number) for number in status_ids))
    if len(wanted) > STATUSES_PER_REPORT:
        raise Invalid(f"status_ids: at most {STATUSES_PER_REPORT} statuses in one report (now {len(wanted)})")
    if not wanted:
        return []
    found = {
        s.id: s for s in session.scalars(select(Status).where(Status.id.in_(wanted), Status.profile_id == target.id))
    }
    for number in wanted:
        status = found.get(number)
        if status is None or not reportable(session, status, reporter):
            raise Invalid(f"status_ids: {number} is not a status of @{target.acct}")
    return wanted


def moderator_profiles(session: Session) -> list[Profile]:
    """The community profiles of the enabled local moderators and admins (made if they have none yet)."""
    query = select(Account).where(Account.role.in_(MODERATOR_ROLES), Account.disabled.is_(False)).order_by(Account.id)
    return [local_profile(session, account) for account in session.scalars(query)]


def _notify_moderators(session: Session, report: Report) -> None:
    """An `admin.report` notification for every local moderator and admin (not the reporter). Made
    here rather than by `notifications.notify`, which keeps one notification per (type, sender):
    every report is news, even a second one from the same person."""
    for profile in moderator_profiles(session):
        if profile.id in (report.reporter_id, report.target_id):
            continue
        note = Notification(
            profile_id=profile.id,
            type="admin.report",
            from_profile_id=report.reporter_id,
            report_id=report.id,
            created_at=now(),
        )
        session.add(note)
        session.flush()
        publish(session, "notification.created", {"notification_id": note.id, "profile_id": profile.id})


def report(
    session: Session,
    reporter: Profile,
    target: Profile,
    status_ids: Iterable[int] = (),
    comment: str = "",
    category: str = "other",
    forward: bool = False,
) -> Report:
    """A local person reports `target` (and some of its statuses) to the moderators.

    `forward` asks for a copy (an anonymous `Flag` from this instance) to go to the target's
    server; it means nothing for a local target. Publishes `report.created`.
    """
    if not reporter.local or reporter.account_id is None:
        raise PermissionDenied("only local people report through this instance's form")
    if reporter.suspended_at is not None:
        raise PermissionDenied(f"@{reporter.acct} is suspended and cannot report")
    if reporter.id == target.id:
        raise Invalid("account: you cannot report yourself")
    if category not in CATEGORIES:
        raise Invalid(f"category: {category!r} is not one of {', '.join(CATEGORIES)}")
    text = (comment or "").strip()
    if len(text) > COMMENT_LENGTH:
        raise Invalid(f"comment: at most {COMMENT_LENGTH} characters (now {len(text)})")
    since = now() - timedelta(days=1)
    recent = session.scalar(
        select(func.count()).select_from(Report).where(Report.reporter_id == reporter.id, Report.created_at >= since)
    )
    if (recent or 0) >= REPORTS_PER_DAY:
        raise Invalid(f"account: at most {REPORTS_PER_DAY} reports a day; the moderators have yours")
    checked = _statuses_of(session, reporter, target, status_ids)
    row = Report(
        reporter_id=reporter.id,
        target_id=target.id,
        status_ids=checked,
        evidence=_evidence(session, checked),
        comment=text,
        category=category,
        forward=bool(forward) and not target.local,
        created_at=now(),
    )
    session.add(row)
    session.flush()
    publish(session, "report.created", {"report_id": row.id, "forward": row.forward})
    _notify_moderators(session, row)
    return row


def receive_flag(
    session: Session,
    *,
    uri: str,
    reporter: Profile | None,
    target: Profile,
    status_ids: Iterable[int] = (),
    comment: str = "",
) -> Report:
    """A `Flag` from another server about one of ours becomes a report (once per Flag id).

    The caller (federation's inbox handler) resolved the reported actor and statuses to rows of
    ours and sanitized the comment; the reporter is the remote actor's profile when we know it.
    Never forwarded (it came from there), so no Flag goes back.
    """
    existing = session.scalar(select(Report).where(Report.uri == uri))
    if existing is not None:
        return existing
    wanted = list(dict.fromkeys(int(number) for number in status_ids))[:STATUSES_PER_REPORT]
    found = set(session.scalars(select(Status.id).where(Status.id.in_(wanted), Status.profile_id == target.id)))
    named = [number for number in wanted if number in found]
    row = Report(
        reporter_id=reporter.id if reporter is not None else None,
        target_id=target.id,
        status_ids=named,
        evidence=_evidence(session, named),
        comment=(comment or "")[:COMMENT_LENGTH],
        category="other",
        forward=False,
        uri=uri,
        created_at=now(),
    )
    session.add(row)
    session.flush()
    publish(session, "report.created", {"report_id": row.id, "forward": False})
    _notify_moderators(session, row)
    return row


def get_report(session: Session, report_id: int) -> Report:
    """The report, or NotFound."""
    row = session.get(Report, report_id)
    if row is None:
        raise NotFound(f"no report {report_id}")
    return row


def reports(
    session: Session, *, resolved: bool = False, max_id: int | None = None, limit: int = QUEUE_PAGE
) -> list[Report]:
    """A page of the queue: open reports oldest first, or resolved ones newest first (id cursor)."""
    query = select(Report)
    if resolved:
        query = query.where(Report.resolved_at.is_not(None)).order_by(Report.id.desc())
        if max_id is not None:
            query = query.where(Report.id < max_id)
    else:
        query = query.where(Report.resolved_at.is_(None)).order_by(Report.id)
        if max_id is not None:
            query = query.where(Report.id > max_id)
    return list(session.scalars(query.limit(max(1, min(limit, 200)))))


def open_count(session: Session) -> int:
    """How many reports wait for a moderator."""
    return int(session.scalar(select(func.count()).select_from(Report).where(Report.resolved_at.is_(None))) or 0)


def resolve(session: Session, report_id: int, moderator: Account, reason: str = "") -> Report:
    """Close a report (what was done, if anything, is in the reason and the audit log)."""
    require_moderator(moderator)
    row = get_report(session, report_id)
    if row.resolved_at is not None:
        raise Invalid(f"report {report_id} is already resolved")
    row.resolved_at, row.resolved_by_id = now(), moderator.id
    log_action(session, moderator, "resolve_report", reason=reason, profile_id=row.target_id, report_id=row.id)
    return row


def reopen(session: Session, report_id: int, moderator: Account, reason: str = "") -> Report:
    """Put a resolved report back in the queue."""
    require_moderator(moderator)
    row = get_report(session, report_id)
    if row.resolved_at is None:
        raise Invalid(f"report {report_id} is open already")
    row.resolved_at, row.resolved_by_id = None, None
    log_action(session, moderator, "reopen_report", reason=reason, profile_id=row.target_id, report_id=row.id)
    return row


def audit_log(
    session: Session,
    *,
    max_id: int | None = None,
    limit: int = QUEUE_PAGE,
    profile_id: int | None = None,
    report_id: int | None = None,
) -> list[ModerationAction]:
    """The audit log, newest first (id cursor), optionally about one profile or one report."""
    query = select(ModerationAction).order_by(ModerationAction.id.desc())
    if max_id is not None:
        query = query.where(ModerationAction.id < max_id)
    if profile_id is not None:
        query = query.where(ModerationAction.target_profile_id == profile_id)
    if report_id is not None:
        query = query.where(ModerationAction.report_id == report_id)
    return list(session.scalars(query.limit(max(1, min(limit, 200)))))
