"""The tables of the course world: templates and their versions, units, runs, groups, learners, posts."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Date, ForeignKey, Index, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from community.models import Status as Post  # noqa: F401  (one model for all statuses)
from server.floor.clock import now
from server.floor.db import Base, JSONDoc, UTCDateTime

# catch_up, all_at_once and skip keep a late signup in the running run (mail decides what it gets);
# next_run sends it to the next run of the course.
LATE_JOIN_POLICIES = ("catch_up", "all_at_once", "skip", "next_run")
RUN_STATUSES = ("scheduled", "open", "running", "finished")
ENROLLMENT_STATUSES = ("pending", "confirmed", "waitlisted", "paused", "left", "unsubscribed")


class Course(Base):
    """A course template: the editable draft plus its published versions."""

    __tablename__ = "courses"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    summary: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(16), default="en")
    license: Mapped[str] = mapped_column(String(64), default="CC-BY-SA-4.0")
    tags: Mapped[list[str]] = mapped_column(JSONDoc, default=list)
    resources: Mapped[list[dict[str, Any]]] = mapped_column(JSONDoc, default=list)
    send_time: Mapped[str] = mapped_column(String(5), default="09:00")
    late_join: Mapped[str] = mapped_column(String(16), default="catch_up")
    group_size: Mapped[int] = mapped_column(default=20)
    group_by: Mapped[list[str]] = mapped_column(JSONDoc, default=lambda: ["timezone", "language"])
    questions: Mapped[list[dict[str, Any]]] = mapped_column(JSONDoc, default=list)
    # Anything else course.toml carried, kept so export is lossless.
    extra: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)
    # The course.toml text it was imported from: export keeps its comments and layout.
    source_toml: Mapped[str | None] = mapped_column(Text, nullable=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), nullable=True)
    # ForgeFed provenance: the ActivityPub id of the course this one was forked from.
    origin: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    origin_version: Mapped[int | None] = mapped_column(nullable=True)
    # Lineage, nearest first: ids of the origin, the origin's origin, ...
    lineage: Mapped[list[str]] = mapped_column(JSONDoc, default=list)
    upstream_version: Mapped[int | None] = mapped_column(nullable=True)
    current_version: Mapped[int | None] = mapped_column(nullable=True)
    draft_changed: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now, onupdate=now)

    units: Mapped[list[Unit]] = relationship(
        back_populates="course", order_by="Unit.position", cascade="all, delete-orphan"
    )
    versions: Mapped[list[CourseVersion]] = relationship(
        back_populates="course", order_by="CourseVersion.number", cascade="all, delete-orphan"
    )


class Unit(Base):
    """One lesson of a course's draft: Markdown body sent `day` days after a run starts."""

    __tablename__ = "units"
    __table_args__ = (UniqueConstraint("course_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    slug: Mapped[str] = mapped_column(String(120))
    title: Mapped[str] = mapped_column(String(300))
    day: Mapped[int] = mapped_column(default=0)
    body: Mapped[str] = mapped_column(Text, default="")
    extra: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)
    origin: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    # The unit file's front matter text it was imported from: export keeps its comments.
    source_toml: Mapped[str | None] = mapped_column(Text, nullable=True)

    course: Mapped[Course] = relationship(back_populates="units")


class CourseVersion(Base):
    """A published, frozen snapshot of a course (its fields and units)."""

    __tablename__ = "course_versions"
    __table_args__ = (UniqueConstraint("course_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column()
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    course: Mapped[Course] = relationship(back_populates="versions")


class CourseFork(Base):
    """A known fork of a local course (the `forks` collection), local or remote."""

    __tablename__ = "course_forks"
    __table_args__ = (UniqueConstraint("course_id", "fork_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    fork_id: Mapped[str] = mapped_column(String(2000))
    name: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class Run(Base):
    """A cohort: one scheduled pass through a pinned version of a course."""

    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    handle: Mapped[str] = mapped_column(String(64), unique=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"), index=True)
    version_number: Mapped[int] = mapped_column()
    start_date: Mapped[date] = mapped_column(Date)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    signup_opens_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    signup_closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    capacity: Mapped[int | None] = mapped_column(nullable=True)
    group_size: Mapped[int] = mapped_column(default=20)
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    every_weeks: Mapped[int | None] = mapped_column(nullable=True)
    previous_run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"), nullable=True)
    organizer_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), nullable=True)
    anonymised: Mapped[bool] = mapped_column(default=False)
    # When its learners are forgotten, as they were told (courses.privacy): set when the notice went out.
    anonymise_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    course: Mapped[Course] = relationship()
    groups: Mapped[list[StudyGroup]] = relationship(back_populates="run", order_by="StudyGroup.number")


class StudyGroup(Base):
    """About twenty learners of a run who talk by one list address and one fediverse Group."""

    __tablename__ = "study_groups"
    __table_args__ = (UniqueConstraint("run_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column()
    # The group's handle: its list address is HANDLE@mail-domain, its actor acct:HANDLE@host.
    handle: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    language: Mapped[str] = mapped_column(String(16), default="")
    # A group that shrank and joined another: its address forwards there (the row stays, empty).
    merged_into_id: Mapped[int | None] = mapped_column(
        ForeignKey("study_groups.id", ondelete="SET NULL"), nullable=True
    )
    # Groups live on after their run until the organizer closes them (courses.closing): then mail to
    # the address is refused and fediverse posts to the group are not taken.
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    run: Mapped[Run] = relationship(back_populates="groups")


class Enrollment(Base):
    """A learner in a run: by email address, or by fediverse account (`actor`)."""

    __tablename__ = "enrollments"
    __table_args__ = (
        UniqueConstraint("run_id", "email"),
        UniqueConstraint("run_id", "actor"),
        # The scheduler's scan: cost grows with what is due, not with who is enrolled.
        Index("ix_enrollments_due", "next_due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    actor: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), nullable=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    language: Mapped[str] = mapped_column(String(16), default="")
    answers: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)
    solo: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("study_groups.id", ondelete="SET NULL"), nullable=True, index=True
    )
    # Opaque secret for magic links; stored hashed would be better, see the note in docs.
    token: Mapped[str] = mapped_column(String(64), unique=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Why this person was enrolled without confirming it themselves (an admin's stated lawful basis);
    # None when they confirmed by the link in their mailbox or signed a Follow/Join themselves.
    lawful_basis: Mapped[str | None] = mapped_column(String(500), nullable=True)
    # The account that enrolled or invited them (None: they signed up, or the command line did).
    enrolled_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), nullable=True)
    # The learner's own consent to stay in their study group after the run ("keep me in the group"):
    # their name and address are then kept for the group when the run's learners are forgotten.
    keep_consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Scheduling cursor maintained by the mail package: the next unit position and when it is due.
    next_position: Mapped[int] = mapped_column(default=0)
    next_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    run: Mapped[Run] = relationship()
    group: Mapped[StudyGroup | None] = relationship()


def table(model: type[Base]) -> Table:
    """The Core table of a mapped class, for bulk statements that skip the ORM's per-row work."""
    return cast(Table, model.__table__)
