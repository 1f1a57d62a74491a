"""Signing up for a run: double opt-in by a single-use link, admin enrollment, fediverse learners."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from courses import fields, versions
from courses.addresses import check_email
from courses.groups import place_enrollment
from courses.models import Enrollment, Run
from courses.runs import run_for_signup
from courses.zones import check_timezone
from server.floor.clock import now
from server.floor.errors import Invalid, NotFound
from server.floor.events import publish as publish_event
from server.floor.ratelimit import hit

SEATED = ("confirmed", "paused")
# Confirmation mails one address may get a day, over every run: asking again re-sends the link (a mail
# lost, a second try), but nobody can use the form to flood someone's mailbox.
CONFIRMATIONS_PER_DAY = 3
CONFIRMATION_SCOPE = "signup-confirmation"
# What `mechmooc run enroll/import` record when the admin at the terminal states no other basis.
COMMAND_LINE_BASIS = "admin (command line)"
BASIS_MAX = 500


def new_token() -> str:
    """A random secret for magic links (URL-safe, 256 bits)."""
    return secrets.token_urlsafe(32)


def new_tokens(count: int) -> list[str]:
    """`count` tokens like `new_token`'s, from one read of the system's random source (a bulk import)."""
    raw = secrets.token_bytes(32 * count)
    encode = base64.urlsafe_b64encode
    return [encode(raw[i : i + 32]).rstrip(b"=").decode("ascii") for i in range(0, 32 * count, 32)]


def check_name(value: str | None) -> str:
    """A display name: at most 200 characters, no line breaks."""
    name = " ".join((value or "").split())
    if len(name) > 200:
        raise Invalid("name is longer than 200 characters")
    return name


def check_learner_language(value: str | None, default: str) -> str:
    """A language tag, the course's own when not given."""
    return fields.check_language(value) if value else default


def check_basis(value: str | None) -> str:
    """The lawful basis an admin states for enrolling people without their confirmation: one line, kept."""
    basis = " ".join((value or "").split())
    if not basis:
        raise Invalid("lawful basis: say why these people may be enrolled without confirming (e.g. a contract)")
    if len(basis) > BASIS_MAX:
        raise Invalid(f"lawful basis: at most {BASIS_MAX} characters")
    return basis


@dataclass(frozen=True)
class SignupReceipt:
    """What a signup form answers: the same for a new address and one already signed up."""

    run_handle: str
    message: str = "Check your inbox: we sent you a link to confirm your place."


@dataclass(frozen=True)
class Confirmation:
    """The outcome of opening a confirmation link."""

    enrollment: Enrollment
    already: bool

    @property
    def message(self) -> str:
        """Words for the learner."""
        if self.already:
            return "This link was used already: your place is confirmed, nothing more to do."
        if self.enrollment.status == "waitlisted":
            return "Confirmed. The run is full: you are on the waiting list and will hear from us."
        return "Confirmed: welcome! Your first unit comes on the run's start day."


def seats_taken(session: Session, run: Run) -> int:
    """How many learners hold a place in `run` (confirmed or paused)."""
    query = select(func.count()).select_from(Enrollment)
    return int(session.scalar(query.where(Enrollment.run_id == run.id, Enrollment.status.in_(SEATED))) or 0)


def _seat(session: Session, enrollment: Enrollment, by: str = "admin") -> None:
    """Confirm a learner into their run, or put them on its waiting list when it is full.

    `by` says how (in `enrollment.confirmed`): "link" (the person opened their confirmation link: only
    this lifts a suppression of their address), "admin", "actor" (a signed Follow/Join), "waitlist"."""
    run = enrollment.run
    full = run.capacity is not None and seats_taken(session, run) >= run.capacity
    enrollment.status = "waitlisted" if full else "confirmed"
    enrollment.confirmed_at = enrollment.confirmed_at or now()
    session.flush()
    if not full:
        place_enrollment(session, enrollment)
        publish_event(session, "enrollment.confirmed", {"enrollment_id": enrollment.id, "by": by})


@dataclass(frozen=True)
class LearnerDetails:
    """Checked signup fields."""

    email: str | None
    name: str
    timezone: str
    language: str
    answers: dict[str, Any]


def check_details(
    session: Session,
    run: Run,
    email: str | None,
    name: str | None,
    timezone: str,
    language: str | None = None,
    answers: dict[str, Any] | None = None,
) -> LearnerDetails:
    """Every signup field checked against the run's pinned version (its questions and language)."""
    snapshot = versions.pinned(session, run)
    return LearnerDetails(
        email=check_email(email) if email is not None else None,
        name=check_name(name),
        timezone=check_timezone(timezone),
        language=check_learner_language(language, snapshot.get("language", "en")),
        answers=fields.answer_problems(snapshot.get("questions", []), answers or {}),
    )


def request_signup(
    session: Session,
    run: Run,
    email: str,
    name: str | None,
    timezone: str,
    language: str | None = None,
    answers: dict[str, Any] | None = None,
    solo: bool = False,
) -> SignupReceipt:
    """A pending enrollment and `enrollment.requested` (the mail sends the link); never says who exists.

    Asking again (still pending, after leaving, or having lost the mail) sends the link again, at most
    CONFIRMATIONS_PER_DAY a day to one address, and changes nothing else: anyone may type an address,
    so the details of a place already asked for stay as they were (its owner changes them on their page).
    """
    target = run_for_signup(session, run, now())
    details = check_details(session, target, email, name, timezone, language, answers)
    assert details.email is not None
    enrollment = session.scalar(
        select(Enrollment).where(Enrollment.run_id == target.id, Enrollment.email == details.email)
    )
    if enrollment is None:
        enrollment = Enrollment(
            run_id=target.id, email=details.email, name=details.name, timezone=details.timezone,
            language=details.language, answers=details.answers, solo=solo, token=new_token(), status="pending",
        )  # fmt: skip
        session.add(enrollment)
    elif enrollment.status in ("left", "unsubscribed"):
        enrollment.status = "pending"  # theirs again once they open the link
    session.flush()
    if hit(session, CONFIRMATION_SCOPE, details.email, CONFIRMATIONS_PER_DAY, 24 * 3600) is None:
        # Also for an address already confirmed: the link then leads to their place. A fresh request id
        # makes each request its own mail (the outbox would take a repeated key for the same mail).
        request = {"enrollment_id": enrollment.id, "request": secrets.token_hex(8)}
        publish_event(session, "enrollment.requested", request)
    return SignupReceipt(run_handle=target.handle)


def by_token(session: Session, token: str) -> Enrollment:
    """The enrollment a magic link belongs to."""
    enrollment = session.scalar(select(Enrollment).where(Enrollment.token == token)) if token else None
    if enrollment is None:
        raise NotFound("this link is not valid (it may be mistyped, or the learner was anonymised)")
    return enrollment


def confirm(session: Session, token: str) -> Confirmation:
    """Open a confirmation link: the first use confirms (or wait-lists), later uses change nothing."""
    enrollment = by_token(session, token)
    if enrollment.status != "pending":
        return Confirmation(enrollment, already=True)
    _seat(session, enrollment, by="link")
    return Confirmation(enrollment, already=False)


def admin_enroll(
    session: Session,
    run: Run,
    email: str,
    name: str | None = None,
    timezone: str = "UTC",
    language: str | None = None,
    solo: bool = False,
    basis: str = COMMAND_LINE_BASIS,
    enrolled_by: int | None = None,
) -> Enrollment:
    """Enroll a learner as an admin may: no confirmation mail, confirmed (or wait-listed) at once.

    Only for an admin who states the lawful `basis` (recorded on the place); an organizer invites
    instead (`invite`), and the person confirms.
    """
    details = check_details(session, run, email, name, timezone, language)
    recorded = check_basis(basis)
    if session.scalar(select(Enrollment.id).where(Enrollment.run_id == run.id, Enrollment.email == details.email)):
        raise Invalid(f"{details.email} is enrolled in run {run.handle} already")
    enrollment = Enrollment(
        run_id=run.id, email=details.email, name=details.name, timezone=details.timezone,
        language=details.language, solo=solo, token=new_token(), status="pending",
        lawful_basis=recorded, enrolled_by_id=enrolled_by,
    )  # fmt: skip
    session.add(enrollment)
    session.flush()
    _seat(session, enrollment)
    return enrollment


def invite(
    session: Session,
    run: Run,
    email: str,
    name: str | None = None,
    timezone: str = "UTC",
    language: str | None = None,
    solo: bool = False,
    invited_by: int | None = None,
) -> Enrollment:
    """An organizer names someone: a pending place and a mail asking them to confirm (double opt-in).

    Nobody is enrolled on someone else's word: the place counts only once its owner opens the link.
    """
    details = check_details(session, run, email, name, timezone, language)
    enrollment = session.scalar(
        select(Enrollment).where(Enrollment.run_id == run.id, Enrollment.email == details.email)
    )
    if enrollment is not None and enrollment.status in ("left", "unsubscribed"):
        # Their own choice stands: only they can take a place again, from the run's page.
        how = "left" if enrollment.status == "left" else "unsubscribed from"
        raise Invalid(f"{details.email} {how} run {run.handle}: only they can sign up again, from the run's page")
    if enrollment is not None and enrollment.status != "pending":
        raise Invalid(f"{details.email} is enrolled in run {run.handle} already")
    if enrollment is None:
        enrollment = Enrollment(
            run_id=run.id, email=details.email, name=details.name, timezone=details.timezone,
            language=details.language, solo=solo, token=new_token(), status="pending", enrolled_by_id=invited_by,
        )  # fmt: skip
        session.add(enrollment)
        session.flush()
    # Asked again: the same link, and the mail's idempotency key sends it once.
    publish_event(session, "enrollment.requested", {"enrollment_id": enrollment.id, "invited": True})
    return enrollment


def request_actor_signup(
    session: Session, run: Run, actor_url: str, name: str | None, timezone: str = "UTC"
) -> Enrollment:
    """A pending enrollment for a fediverse account typed into the signup form.

    Anyone can type anyone's handle, so the account confirms by the link sent to it as a direct
    post (`enrollment.requested`); a Follow or Join signed by the account itself needs no link.
    """
    if not actor_url.startswith(("https://", "http://")):
        raise Invalid(f"actor {actor_url!r} must be an http(s) URL")
    target = run_for_signup(session, run, now())
    enrollment = session.scalar(select(Enrollment).where(Enrollment.run_id == target.id, Enrollment.actor == actor_url))
    if enrollment is None:
        details = check_details(session, target, None, name, timezone)
        enrollment = Enrollment(
            run_id=target.id, actor=actor_url, name=details.name, timezone=details.timezone,
            language=details.language, token=new_token(), status="pending",
        )  # fmt: skip
        session.add(enrollment)
    elif enrollment.status in ("left", "unsubscribed"):
        enrollment.status = "pending"
    session.flush()
    publish_event(session, "enrollment.requested", {"enrollment_id": enrollment.id})
    return enrollment


def enroll_actor(session: Session, run: Run, actor_url: str, name: str | None, timezone: str = "UTC") -> Enrollment:
    """Enroll a fediverse account (its Follow/Join was signed by the actor, so no mail confirmation)."""
    if not actor_url.startswith(("https://", "http://")):
        raise Invalid(f"actor {actor_url!r} must be an http(s) URL")
    existing = session.scalar(select(Enrollment).where(Enrollment.run_id == run.id, Enrollment.actor == actor_url))
    if existing is not None:
        # "pending": the handle was typed into the signup form; a Follow or Join signed by the
        # account itself proves it is theirs as well as the link would (docs/federation-flows.md).
        if existing.status in ("left", "unsubscribed", "pending"):
            _seat(session, existing, by="actor")
        return existing
    details = check_details(session, run, None, name, timezone)
    enrollment = Enrollment(
        run_id=run.id, actor=actor_url, name=details.name, timezone=details.timezone,
        language=details.language, token=new_token(), status="pending",
    )  # fmt: skip
    session.add(enrollment)
    session.flush()
    _seat(session, enrollment, by="actor")
    return enrollment


def promote_waitlisted(session: Session, run: Run) -> list[Enrollment]:
    """Give freed places to the waiting list, first come first served."""
    promoted: list[Enrollment] = []
    while run.capacity is None or seats_taken(session, run) < run.capacity:
        waiting = session.scalar(
            select(Enrollment)
            .where(Enrollment.run_id == run.id, Enrollment.status == "waitlisted")
            .order_by(Enrollment.confirmed_at, Enrollment.id)
            .limit(1)
        )
        if waiting is None:
            break
        _seat(session, waiting, by="waitlist")  # the mail tells them
        promoted.append(waiting)
    return promoted
