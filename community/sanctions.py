"""What moderators do: delete a status, silence or suspend an account (local or remote), block a domain.

Each action writes one audit row (`community.moderation.log_action`) and publishes an event other
packages react to:

- `status.deleted` — a moderator's deletion is the author's deletion for everyone else (federation
  sends the `Delete` for a local status).
- `profile.silenced` / `profile.unsilenced` {profile_id}: a silenced account's statuses leave the
  public timelines (local and federated, hashtags); its followers still see them at home.
- `profile.suspended` / `profile.unsuspended` {profile_id, uri, local}: a suspended account's
  statuses are hidden everywhere; a local one cannot log in (its account is disabled, its sessions
  end) and its actor answers 410; a remote one's activities are refused by the inbox (federation
  keeps an instance-wide actor block while the suspension lasts).
- `domain_block.created` {domain, severity} / `domain_block.deleted` {domain}: a silenced domain's
  accounts are silenced, a suspended domain's accounts suspended (federation then refuses and stops
  delivering to it). The block lives in `community_domain_blocks` (community never imports
  federation); profiles first seen later get the domain's sanction as they are inserted
  (`community.moderation_models`). A sanction a domain block set carries the block's time, so
  lifting the block lifts exactly those sanctions, not one a moderator set on an account by hand.

Timelines read the sanctions from the profiles (`community.access.author_shown`: no suspended
author anywhere; `community.timelines` public and hashtag timelines: no silenced author), so a
domain block needs nothing of its own there: it is the sanctions it sets on its accounts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from community import statuses
from community.models import ModerationAction, Profile, Status
from community.moderation import log_action, require_moderator
from community.moderation_models import SEVERITIES, BlockedDomain, domain_suffixes
from server.floor.accounts import Account, end_sessions
from server.floor.clock import now
from server.floor.config import get_settings
from server.floor.errors import Invalid, NotFound
from server.floor.events import publish


def _profile(session: Session, profile_id: int) -> Profile:
    profile = session.get(Profile, profile_id)
    if profile is None:
        raise NotFound(f"no account {profile_id}")
    return profile


def delete_status(
    session: Session,
    moderator: Account,
    status_id: int,
    reason: str,
    *,
    report_id: int | None = None,
    remover: Callable[[Session, Status], object] | None = None,
) -> Status:
    """Delete a status as a moderator: gone for everyone, with an audit row. `remover` deletes it
    instead of `statuses.delete` when the status belongs to a world above this package (a study
    group post: `courses.posts.delete_post`, whose `post.deleted` the group's mail and fediverse
    relays follow); the web passes it."""
    require_moderator(moderator)
    status = session.get(Status, status_id)
    if status is None or status.deleted:
        raise NotFound(f"no status {status_id}")
    if remover is not None:
        remover(session, status)
    else:
        statuses.delete(session, status, by="moderator")
    log_action(
        session,
        moderator,
        "delete_status",
        reason=reason,
        profile_id=status.profile_id,
        status_id=status.id,
        report_id=report_id,
    )
    return status


def _staff_checked(session: Session, moderator: Account, profile: Profile, verb: str) -> Account | None:
    """The local account behind `profile` (None for a remote one), once it is one `moderator` may
    sanction: not themselves, and an admin only by an admin."""
    if profile.account_id is None:
        return None
    if profile.account_id == moderator.id:
        raise Invalid(f"account: you cannot {verb} yourself")
    account = session.get(Account, profile.account_id)
    if account is not None and account.role == "admin" and moderator.role != "admin":
        raise Invalid(f"account: a moderator cannot {verb} an admin")
    return account


def silence(
    session: Session, moderator: Account, profile_id: int, reason: str, *, report_id: int | None = None
) -> Profile:
    """Silence an account: its statuses leave the public timelines; its followers still see them."""
    require_moderator(moderator)
    profile = _profile(session, profile_id)
    if profile.silenced_at is not None:
        raise Invalid(f"@{profile.acct} is already silenced")
    _staff_checked(session, moderator, profile, "silence")
    profile.silenced_at = now()
    log_action(session, moderator, "silence", reason=reason, profile_id=profile.id, report_id=report_id)
    publish(session, "profile.silenced", {"profile_id": profile.id})
    return profile


def unsilence(session: Session, moderator: Account, profile_id: int, reason: str = "") -> Profile:
    """Lift a silence."""
    require_moderator(moderator)
    profile = _profile(session, profile_id)
    if profile.silenced_at is None:
        raise Invalid(f"@{profile.acct} is not silenced")
    profile.silenced_at = None
    log_action(session, moderator, "unsilence", reason=reason, profile_id=profile.id)
    publish(session, "profile.unsilenced", {"profile_id": profile.id})
    return profile


def _suspension_event(session: Session, name: str, profile: Profile) -> None:
    publish(session, name, {"profile_id": profile.id, "uri": profile.uri, "local": profile.local})


def suspend(
    session: Session, moderator: Account, profile_id: int, reason: str, *, report_id: int | None = None
) -> Profile:
    """Suspend an account: its statuses hidden everywhere; a local person's account disabled (logged
    out everywhere, its actor 410); a remote actor's activities refused from now on."""
    require_moderator(moderator)
    profile = _profile(session, profile_id)
    if profile.suspended_at is not None:
        raise Invalid(f"@{profile.acct} is already suspended")
    account = _staff_checked(session, moderator, profile, "suspend")
    profile.suspended_at = now()
    log_action(session, moderator, "suspend", reason=reason, profile_id=profile.id, report_id=report_id)
    if account is not None and not account.disabled:
        # Recorded, so that lifting the suspension enables only a login the suspension disabled.
        account.disabled = True
        session.flush()
        end_sessions(session, account.id)
        log_action(session, moderator, "disable_login", reason=reason, profile_id=profile.id, report_id=report_id)
    _suspension_event(session, "profile.suspended", profile)
    return profile


def _suspension_disabled_login(session: Session, profile_id: int) -> bool:
    """Whether the latest suspension of the profile is what disabled its login."""
    rows = session.scalars(
        select(ModerationAction.action)
        .where(
            ModerationAction.target_profile_id == profile_id, ModerationAction.action.in_(("suspend", "disable_login"))
        )
        .order_by(ModerationAction.id.desc())
        .limit(1)
    )
    return rows.first() == "disable_login"


def unsuspend(session: Session, moderator: Account, profile_id: int, reason: str = "") -> Profile:
    """Lift a suspension (a local person can log in again)."""
    require_moderator(moderator)
    profile = _profile(session, profile_id)
    if profile.suspended_at is None:
        raise Invalid(f"@{profile.acct} is not suspended")
    profile.suspended_at = None
    account = session.get(Account, profile.account_id) if profile.account_id is not None else None
    if account is not None and account.disabled and _suspension_disabled_login(session, profile.id):
        account.disabled = False  # not a login an admin had disabled before
    log_action(session, moderator, "unsuspend", reason=reason, profile_id=profile.id)
    _suspension_event(session, "profile.unsuspended", profile)
    return profile


def _normal_domain(domain: str) -> str:
    value = (domain or "").strip().lower()
    if "://" in value:
        value = value.split("://", 1)[1]
    value = value.split("/", 1)[0].split(":", 1)[0].strip(".")
    try:  # an international name is kept as the ASCII (punycode) form hosts are compared in
        value = value.encode("idna").decode("ascii") if value else value
    except UnicodeError:
        raise Invalid(f"domain: {domain!r} is not a host name like spam.example") from None
    labels = value.split(".")
    if (
        not value
        or len(value) > 253
        or "." not in value
        or not all(
            label and len(label) <= 63 and label.replace("-", "").isalnum() and label.isascii() for label in labels
        )
    ):
        raise Invalid(f"domain: {domain!r} is not a host name like spam.example")
    ours = (get_settings().url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]).lower()
    if value == ours or ours.endswith("." + value):
        raise Invalid(f"domain: {value} is this instance's own domain")
    return value


def _domain_profiles(session: Session, domain: str) -> list[str]:
    """The profile domains `domain` covers (itself and its subdomains), among those we know."""
    known = session.scalars(select(Profile.domain).where(Profile.domain.is_not(None)).distinct())
    return [name for name in known if name and domain in domain_suffixes(name)]


def _apply(session: Session, block: BlockedDomain, column: InstrumentedAttribute[Any], on: bool) -> None:
    """Set (on) or lift (off) the sanction `column` the block stands for on its domain's profiles."""
    domains = _domain_profiles(session, block.domain)
    if not domains:
        return
    condition: ColumnElement[bool] = column.is_(None) if on else column == block.created_at
    value = block.created_at if on else None
    session.execute(
        update(Profile)
        .where(Profile.domain.in_(domains), condition)
        .values({column.key: value})
        .execution_options(synchronize_session="fetch")
    )


def block_domain(session: Session, moderator: Account, domain: str, severity: str, reason: str = "") -> BlockedDomain:
    """Silence or suspend a remote domain (and its subdomains); changes the severity of an existing block."""
    require_moderator(moderator)
    if severity not in SEVERITIES:
        raise Invalid(f"severity: {severity!r} is not one of {', '.join(SEVERITIES)}")
    host = _normal_domain(domain)
    block = session.scalar(select(BlockedDomain).where(BlockedDomain.domain == host))
    if block is not None and block.severity == severity:
        raise Invalid(f"domain: {host} is already {'silenced' if severity == 'silence' else 'suspended'}")
    if block is None:
        block = BlockedDomain(domain=host, severity=severity, reason="", created_by_id=moderator.id, created_at=now())
        session.add(block)
        session.flush()
    else:
        _apply(session, block, Profile.suspended_at if block.severity == "suspend" else Profile.silenced_at, False)
        block.severity = severity
    block.reason = (reason or "").strip()[:1000]
    _apply(session, block, Profile.suspended_at if severity == "suspend" else Profile.silenced_at, True)
    log_action(session, moderator, f"domain_{severity}", reason=reason, domain=host)
    publish(session, "domain_block.created", {"domain": host, "severity": severity})
    return block


def unblock_domain(session: Session, moderator: Account, domain: str, reason: str = "") -> None:
    """Lift a domain block and the sanctions it set."""
    require_moderator(moderator)
    host = (domain or "").strip().lower()
    block = session.scalar(select(BlockedDomain).where(BlockedDomain.domain == host))
    if block is None:
        raise NotFound(f"domain: {host or 'that domain'} is not blocked")
    _apply(session, block, Profile.suspended_at if block.severity == "suspend" else Profile.silenced_at, False)
    session.delete(block)
    log_action(session, moderator, "domain_unblock", reason=reason, domain=host)
    publish(session, "domain_block.deleted", {"domain": host})


def domain_blocks(session: Session) -> list[BlockedDomain]:
    """Every domain block, alphabetically."""
    return list(session.scalars(select(BlockedDomain).order_by(BlockedDomain.domain)))
