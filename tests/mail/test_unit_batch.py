"""The scheduler's unit mails, made per unit and group with only each learner's own merge tags filled in
(mail.unitbatch, mail.scan), are byte for byte what `unit_mail` writes for the same learner, token and
instant; templates that need Jinja2 still render in its sandbox."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

import mail.scheduler as scheduler
import mail.unitbatch as unitbatch
from courses.models import Enrollment, StudyGroup
from mail.messages import unit_mail
from mail.models import OutgoingMail
from mail.scan import Group, Personal
from mail.scheduler import run_plan, schedule_all_due
from mail.unitbatch import UnitMails
from server.floor.clock import frozen
from server.floor.config import use_settings
from server.floor.settings import Settings
from tests.mail.conftest import gentle_run
from tests.mail.test_fast_render import NAMES

# Three weeks in: units 0, 1 and 2 are due (and rendered) for everyone, whatever their zone.
START = datetime(2026, 3, 1, tzinfo=UTC)
AT = datetime(2026, 3, 17, 12, tzinfo=UTC)
ZONES = ["Europe/Berlin", "America/New_York", "Asia/Kolkata", "UTC", "Australia/Sydney", "Pacific/Honolulu", "UTC"]


def _learners(session: Session) -> list[Enrollment]:
    """Learners whose every merge tag differs: names (hostile ones too), zones, languages; a group with a
    hostile name, one solo learner."""
    learners = [(f"L{i}.x@Example.org", name, ZONES[i]) for i, name in enumerate(NAMES)]
    with frozen(START):
        run = gentle_run(session, learners, group_size=3)
    enrolled = list(session.scalars(select(Enrollment).where(Enrollment.run_id == run.id).order_by(Enrollment.id)))
    for index, learner in enumerate(enrolled):
        learner.language = ["en", "", "de", "fr", "zh", "en", "pt"][index]
    enrolled[-1].group_id, enrolled[-1].solo = None, True
    group = session.get(StudyGroup, enrolled[0].group_id)
    assert group is not None
    group.name = 'The "<i>" & group'
    session.commit()
    return enrolled


def _same_tokens(monkeypatch: pytest.MonkeyPatch, token: str, boundary: str) -> None:
    """The next mail made takes `token` and the MIME `boundary` (what `secrets` gave the one compared)."""
    original = secrets.token_hex
    given = {10: token, 12: boundary}  # what mail.addresses.new_token and mail.mime.compose ask for
    monkeypatch.setattr(secrets, "token_hex", lambda size=None: given.get(size) or original(size))


def _counting(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[int]:
    calls: list[int] = []
    original: Callable[..., Any] = getattr(module, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


@pytest.mark.parametrize("tracking", [False, True])
def test_every_scheduled_unit_mail_is_the_one_unit_mail_writes(
    settings: Settings, session: Session, monkeypatch: pytest.MonkeyPatch, tracking: bool
) -> None:
    use_settings(replace(settings, tracking=tracking))
    try:
        learners = _learners(session)
        by_orm = _counting(monkeypatch, scheduler, "unit_mail")
        by_jinja = _counting(monkeypatch, unitbatch, "render")
        with frozen(AT):
            assert schedule_all_due(session) == 3 * len(learners)
        # Every learner was plain (read as a row) and every template specialised: else this proves nothing.
        assert by_orm == [] and by_jinja == []
        rows = session.scalars(select(OutgoingMail).order_by(OutgoingMail.id)).all()
        plan = run_plan(session, learners[0].run)
        with_links = 0
        for row in rows:
            enrollment = session.get(Enrollment, row.enrollment_id)
            assert enrollment is not None and row.unit_position is not None
            found = re.search(r'boundary="=_([0-9a-f]{24})"', row.message)
            assert found is not None
            _same_tokens(monkeypatch, row.token, found.group(1))
            with frozen(AT):
                made = unit_mail(enrollment, plan.run, plan.snapshot, plan.units[row.unit_position])
            assert made == (row.token, row.subject, row.message), (enrollment.name, row.unit_position)
            with_links += "/mail/o/" in row.message
        assert with_links == (len(rows) if tracking else 0)  # the open pixel: a hole filled per learner
        # The learners' own values are in their mails, and differ (no stand-in's value was kept).
        welcome = [row.message for row in rows if row.unit_position == 0]
        assert len(set(welcome)) == len(learners)
        assert sum("Your group:" in message for message in welcome) == len(learners) - 1
    finally:
        use_settings(settings)


# Look-ups and tracked links (the fast path), not look-ups (Jinja2 renders them).
BODIES = [
    "Hi {{ learner.name }} [a](https://example.org/?q=1&r=2) [me]({{ links.learner_page }}) {{ links.group }}\n\n"
    "{% if group.address %}{{ group.name }} {{ learner.email }}{% else %}{{ learner.timezone }}{% endif %}",
    "{% if not learner.language %}no language{% endif %} [u](https://example.org/{{ unit.number }}) {{ run.start }}",
    "{% for i in range(2) %}{{ i }}{% endfor %} {{ learner.name | upper }} {{ group.name ~ '!' }}",
    "{{ links }} {{ learner.name.upper() }} {{ learner.name | length }} [x](https://example.org/y)",
    # The sandbox's rule: no Python object's insides (Jinja2 renders these as empty, sandboxed).
    "{{ learner.__class__.__mro__ }} {{ ''.__class__ }} {{ range.__globals__ }} {{ track_click.__code__ }}",
]


@pytest.mark.parametrize("body", BODIES)
@pytest.mark.parametrize("tracking", [False, True])
def test_any_unit_body_gives_the_mail_unit_mail_writes(
    settings: Settings, session: Session, monkeypatch: pytest.MonkeyPatch, body: str, tracking: bool
) -> None:
    use_settings(replace(settings, tracking=tracking))
    try:
        learners = _learners(session)
        plan = run_plan(session, learners[0].run)
        unit = {**plan.units[1], "body": body}
        mails = UnitMails(plan.run, plan.snapshot)
        by_jinja = _counting(monkeypatch, unitbatch, "render")
        for enrollment in learners:
            group = Group(enrollment.group.name, enrollment.group.handle) if enrollment.group else None
            learner = Personal(
                enrollment.name, enrollment.email or "", enrollment.timezone, enrollment.language, enrollment.token
            )
            _same_tokens(monkeypatch, f"{enrollment.id:020x}", "b" * 24)
            with frozen(AT):
                made = mails.mail(unit, learner, group)
                assert made == unit_mail(enrollment, plan.run, plan.snapshot, unit), enrollment.name
            assert "<class" not in made[2] and "&lt;class" not in made[2] and "<code object" not in made[2]
        assert (by_jinja == []) == (body in BODIES[:2])  # look-ups specialised; the others left to Jinja2
    finally:
        use_settings(settings)
