"""Reports both ways, and what federation does about the community's sanctions.

- A `Flag` received about one of our people (or their statuses) becomes a community report
  (`bridge_flag` -> `community.moderation.receive_flag`), in the moderators' queue at /admin/reports
  with the local ones. A Flag about something that is no community profile (a course, a run, a
  study group) stays a federation `Report` row, in the admin's older queue (`open_reports`,
  `resolve_report`, /admin/moderation).
- The community's moderation events become blocks here: a suspended remote account is an
  instance-wide actor block while it lasts (the inbox refuses its activities); a suspended domain is a
  federation domain block (refused, and its queued deliveries cancelled); a silenced domain is not
  refused (its statuses only leave the public timelines, which community does).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from community import moderation as community_moderation
from community.models import Profile, Status
from community.models import Report as CommunityReport
from federation.flows import admin
from federation.models import ActorBlock, DomainBlock, Report
from federation.transport import moderation
from server.floor import urls
from server.floor.clock import now
from server.floor.errors import Invalid, NotFound

_POST_PREFIX = "/posts/"
MAX_REFS = 50  # a Flag names an account and some of its statuses, not the whole instance
FLAGS_PER_DAY = 50  # community reports taken from one server in a day


def _local_status(session: Session, ref: str) -> Status | None:
    """The status `ref` names: by its ActivityPub id, or our /posts/N address."""
    found = session.scalar(select(Status).where(Status.ap_id == ref))
    if found is not None:
        return found
    base = urls.absolute(_POST_PREFIX)
    number = ref[len(base) :] if ref.startswith(base) else ""
    return session.get(Status, int(number)) if number.isdigit() and len(number) < 20 else None


def _flags_today(session: Session, reporter: str) -> int:
    """How many community reports the reporter's server sent in the last day (by their Flags' ids)."""
    parts = urlsplit(reporter)
    origin = f"{parts.scheme}://{parts.netloc}/"
    since = now() - timedelta(days=1)
    query = select(func.count()).select_from(CommunityReport)
    query = query.where(CommunityReport.uri.startswith(origin, autoescape=True), CommunityReport.created_at >= since)
    return int(session.scalar(query) or 0)


def bridge_flag(
    session: Session, activity_id: str, reporter: str, refs: list[str], content: str
) -> CommunityReport | str | None:
    """A Flag naming a local person (or statuses of one) as a community report; None when it names
    no community profile of ours (the caller keeps it as a federation Report); a sentence when it is
    ignored (more than FLAGS_PER_DAY from that server in a day: a queue for people, not a flood)."""
    refs = refs[:MAX_REFS]
    profiles = [p for p in session.scalars(select(Profile).where(Profile.uri.in_(refs))) if p.local] if refs else []
    statuses = [s for s in (_local_status(session, ref) for ref in refs) if s is not None and s.profile_id]
    target = profiles[0] if profiles else session.get(Profile, statuses[0].profile_id) if statuses else None
    if target is None or not target.local:
        return None
    if session.scalar(select(CommunityReport.id).where(CommunityReport.uri == activity_id)) is None:
        if _flags_today(session, reporter) >= FLAGS_PER_DAY:
            return f"ignored: more than {FLAGS_PER_DAY} reports from {urlsplit(reporter).hostname} in a day"
    known = session.scalar(select(Profile).where(Profile.uri == reporter))
    return community_moderation.receive_flag(
        session,
        uri=activity_id,
        reporter=known,
        target=target,
        status_ids=[s.id for s in statuses if s.profile_id == target.id],
        comment=content,
    )


def on_profile_suspended(session: Session, payload: dict[str, Any]) -> None:
    """A suspended remote account: its activities are refused from now on (instance-wide actor block)."""
    if not payload.get("local") and payload.get("uri"):
        moderation.block_actor(session, str(payload["uri"]))


def on_profile_unsuspended(session: Session, payload: dict[str, Any]) -> None:
    """The suspension lifted: the instance's actor block of it goes."""
    if not payload.get("local") and payload.get("uri"):
        session.execute(
            delete(ActorBlock).where(
                ActorBlock.blocker == urls.instance_actor(), ActorBlock.blocked == str(payload["uri"])
            )
        )


def on_domain_block_created(session: Session, payload: dict[str, Any]) -> None:
    """A suspended domain is blocked here too (refused, deliveries cancelled); a silenced one is not."""
    domain = str(payload.get("domain") or "")
    if payload.get("severity") == "suspend":
        admin.block_domain(session, domain, "suspended by the moderators")
    elif session.scalar(select(DomainBlock.id).where(DomainBlock.domain == domain)) is not None:
        moderation.unblock_domain(session, domain)  # suspended before, only silenced now


def on_domain_block_deleted(session: Session, payload: dict[str, Any]) -> None:
    """The domain block lifted."""
    moderation.unblock_domain(session, str(payload.get("domain") or ""))


def open_reports(session: Session) -> list[Report]:
    """Reports not yet resolved, oldest first."""
    return list(session.scalars(select(Report).where(Report.resolved_at.is_(None)).order_by(Report.id)))


def resolved_reports(session: Session, limit: int = 100) -> list[Report]:
    """The most recently resolved reports, newest first."""
    query = select(Report).where(Report.resolved_at.is_not(None)).order_by(Report.resolved_at.desc()).limit(limit)
    return list(session.scalars(query))


def resolve_report(session: Session, report_id: int, resolution: str) -> Report:
    """Close a report with a short note of what was done."""
    if not resolution.strip():
        raise Invalid("resolution must say what was done (e.g. 'blocked domain', 'no action')")
    report = session.get(Report, report_id)
    if report is None:
        raise NotFound(f"no report {report_id}")
    report.resolved_at, report.resolution = now(), resolution.strip()[:200]
    session.flush()
    return report
