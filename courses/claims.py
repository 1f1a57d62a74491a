"""A learner claims an account from their own page (issue 12, item 1): the address their signup
confirmed becomes an account's, with a handle of their choice (one namespace with courses, runs and
groups), and every place of that address is linked to it (`enrollments.account_id`). An account is
never needed to take a course: learners who claim none stay email-only.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from community.models import Registration
from courses.handles import handle_taken
from courses.models import Enrollment
from server.floor.accounts import Account, create_account, normalise_handle
from server.floor.clock import now
from server.floor.errors import Invalid

# Names that read as the instance speaking (and list or system addresses): nobody takes them.
RESERVED = frozenset(
    {
        "admin", "administrator", "root", "postmaster", "abuse", "hostmaster", "webmaster", "support", "security",
        "noreply", "no-reply", "mailer-daemon", "bounces", "moderator", "moderators", "staff", "instance",
        "actor", "inbox", "api", "auth", "settings", "media", "static", "well-known",
    }
)  # fmt: skip


CONFIRMED = ("confirmed", "waitlisted", "paused")


@dataclass(frozen=True)
class ClaimState:
    """What the learner's page offers: `claim` (the form), `linked` (their account), `exists` (an
    account has the address: log in to link), or `none` (no address, or not confirmed yet)."""

    state: str
    handle: str | None = None


def account_by_email(session: Session, email: str) -> Account | None:
    """The account with this address (case does not matter), enabled or not."""
    return session.scalar(select(Account).where(func.lower(Account.email) == email.strip().lower()))


def claim_state(session: Session, enrollment: Enrollment) -> ClaimState:
    """What the learner's page offers about an account for this place."""
    if enrollment.account_id is not None:
        account = session.get(Account, enrollment.account_id)
        if account is not None:
            return ClaimState("linked", account.handle)
    # Confirmed once (by their link, an organizer's word, a bulk import): anything but still pending.
    confirmed = enrollment.confirmed_at is not None or enrollment.status in CONFIRMED
    if not enrollment.email or not confirmed:
        return ClaimState("none")
    existing = account_by_email(session, enrollment.email)
    if existing is not None and not _unconfirmed_sign_up(session, existing):
        return ClaimState("exists", existing.handle)
    return ClaimState("claim")


def _unconfirmed_sign_up(session: Session, account: Account) -> bool:
    """An account signed up with this address but never confirmed: the learner, whose place proves
    the address theirs, takes the address over (whoever signed it up could not read its mail)."""
    registration = session.get(Registration, account.id)
    return registration is not None and registration.email_confirmed_at is None


def check_handle(session: Session, handle: str) -> str:
    """The handle as stored, if it is free; Invalid naming the field otherwise."""
    value = normalise_handle(handle)
    if value in RESERVED or handle_taken(session, value):
        raise Invalid(f"handle: @{value} is taken; choose another")
    return value


def link_places(session: Session, account: Account) -> int:
    """Link every place of the account's address that has no account yet; how many were linked."""
    result = session.execute(
        update(Enrollment)
        .where(func.lower(Enrollment.email) == account.email.lower(), Enrollment.account_id.is_(None))
        .values(account_id=account.id)
        .execution_options(synchronize_session="fetch")
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def claim(
    session: Session, enrollment: Enrollment, handle: str, password_hash: str | None, display_name: str = ""
) -> Account:
    """Make the learner's account from their confirmed place: the address is already confirmed (their
    signup's link), the rules accepted on the form; their places are linked. Invalid naming the field."""
    state = claim_state(session, enrollment)
    if state.state != "claim":
        raise Invalid(
            "account: this place is linked to an account already"
            if state.state in ("linked", "exists")
            else "account: confirm your signup first (the link in your mail)"
        )
    assert enrollment.email is not None
    squatter = account_by_email(session, enrollment.email)
    if squatter is not None:  # an unconfirmed sign-up of the same address (claim_state let it through)
        session.delete(squatter)
        session.flush()
    value = check_handle(session, handle)
    account = create_account(
        session, enrollment.email, None, role="learner", handle=value, display_name=display_name or enrollment.name
    )
    account.password_hash = password_hash
    moment = now()
    session.add(
        Registration(
            account_id=account.id,
            state="approved",
            reason="claimed from the learner's page",
            rules_accepted_at=moment,
            email_confirmed_at=moment,
        )
    )
    session.flush()
    link_places(session, account)
    return account
