"""The fast path of rendering (mail.fastrender) gives the very text Jinja2's sandbox gives, byte for byte."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from courses.models import Enrollment, StudyGroup
from mail.messages import UNIT_SUBJECT, context, tracked
from mail.render import _fast_subject, compile_body, render, render_slow
from mail.scheduler import run_plan
from server.floor.config import use_settings
from server.floor.settings import Settings
from tests.mail.conftest import gentle_run

# Names a learner can type: markup, quotes, ampersands, merge-tag look-alikes, other scripts, nothing.
NAMES = [
    "Ada Lovelace",
    '<script>alert("x")</script> & Tom\'s "quotes"',
    "{{ links.unsubscribe }} {% if 1 %}",
    "Zoë 李 — ✓ &amp; &lt;",
    "",
    "  spaced\n\tout  ",
    "y" * 200,
]


def _learners(session: Session) -> list[Enrollment]:
    run = gentle_run(
        session, [(f"l{i}@example.org", name, "Europe/Berlin") for i, name in enumerate(NAMES)], group_size=3
    )
    learners = list(session.scalars(select(Enrollment).where(Enrollment.run_id == run.id).order_by(Enrollment.id)))
    learners[-1].group_id = None  # solo: the {% if group.address %} branches differ
    group = session.get(StudyGroup, learners[0].group_id)
    assert group is not None
    group.name = 'The "<i>" & group'
    session.commit()
    for learner in learners:
        session.refresh(learner)
    assert learners[-1].group is None and learners[0].group is not None
    return learners


def _both(subject: str, body: str, data: dict[str, Any], where: str, **tracking: Any) -> None:
    fast = render(subject, body, data, where, **tracking)
    compiled = compile_body(body, where, "track_click" in tracking)
    values = {
        **data,
        "track_click": tracking.get("track_click") or (lambda url: url),
        "open_pixel": tracking.get("open_pixel", ""),
        "body_links": compiled.links,
    }
    assert fast == render_slow(subject, compiled, values, where)


@pytest.mark.parametrize("tracking", [False, True])
def test_every_unit_of_the_course_renders_the_same_for_every_learner(
    settings: Settings, session: Session, tracking: bool
) -> None:
    use_settings(replace(settings, tracking=tracking))
    try:
        learners = _learners(session)
        plan = run_plan(session, learners[0].run)
        assert len(plan.units) == 7
        for unit in plan.units:
            body, where = str(unit.get("body", "")), f"unit {unit.get('slug')}"
            compiled = compile_body(body, where, tracking)
            # The fixtures' merge tags are all look-ups: each unit takes the fast path (else this proves nothing).
            assert compiled.fast_text is not None and compiled.fast_html is not None, where
            assert _fast_subject(UNIT_SUBJECT) is not None
            for learner in learners:
                token = f"{learner.id:020x}"
                _both(
                    UNIT_SUBJECT, body, context(learner, plan.run, plan.snapshot, token, unit), where, **tracked(token)
                )
        # The merge values really differ per learner, and a name stays text in the HTML part.
        welcome = plan.units[0]
        token = "0" * 20
        mails = [
            render(UNIT_SUBJECT, str(welcome["body"]), context(e, plan.run, plan.snapshot, token, welcome), "u")
            for e in learners
        ]
        assert len({mail.html for mail in mails}) == len(learners)
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Tom&#39;s" in mails[1].html
        assert "<script>" not in mails[1].html and '<script>alert("x")</script>' in mails[1].text
        assert "Your group:" not in mails[-1].text and "Your group:" in mails[0].text
    finally:
        use_settings(settings)


DATA: dict[str, Any] = {
    "learner": {"name": "<b>Bo</b>", "email": "bo@example.org", "language": "", "count": 3, "none": None},
    # Longer than the fast path takes: Jinja2 renders it, the same way.
    "long": {"name": "<x>" * 5_000},
    "course": {"title": "A & B"},
    "group": {"address": "", "name": "G<1>"},
    "links": {"learner_page": "https://x.example/me?a=1&b=2", "group": "", "unsubscribe": "https://x.example/u"},
    "unit": {"title": "Week 'one'", "number": 1, "day": 0},
}

BODIES = [
    "Hi {{ learner.name | default('there') }} {{ learner.missing | default('<anon>') }} {{ learner.language|d('x', true) }}",
    "{% if group.address %}A {{ group.address }}{% elif learner.name %}B {{ learner.name }}{% else %}C{% endif %}",
    "{% if not group.address %}no group{% endif %} {{ nothing.at.all }} {{ learner['email'] }} {{ unit.number }}",
    "{{ learner.none }} {{ learner.count }} {{ course['title'] }} {{ links.learner_page }} {{ long.name }}",
    "[a link](https://example.org/?q=1&r=2) and [mine]({{ links.learner_page }}) *{{ group.name }}*",
    # Not look-ups: Jinja2 renders these, and the results are still compared.
    "{% for i in range(2) %}{{ i }}{% endfor %} {{ learner.name | upper }} {{ 1 + 2 }}",
    "{{ learner.items }} {{ learner }} {{ range }} {{ learner.name.upper() }}",
    "{% set x = 1 %}{{ x }} {{ 'const' }} {{ learner.name ~ '!' }}",
]


@pytest.mark.parametrize("body", BODIES)
@pytest.mark.parametrize("tracking", [False, True])
def test_hostile_and_unusual_merge_tags_render_the_same_either_way(body: str, tracking: bool) -> None:
    kwargs: dict[str, Any] = (
        {"track_click": lambda url: "https://t.example/c?u=" + url + "&x=<1>", "open_pixel": "https://t.example/o&.gif"}
        if tracking
        else {}
    )
    _both("{{ course.title }}: {{ unit.title | default('?') }}", body, DATA, "unit odd", **kwargs)
    _both("{{ course.title }} {% if group.address %}{{ group.address }}{% endif %}", body, DATA, "unit odd", **kwargs)


def test_templates_that_are_not_lookups_are_left_to_jinja() -> None:
    for body in BODIES[5:]:
        compiled = compile_body(body, "unit x", False)
        assert compiled.fast_text is None and compiled.fast_html is None
    for body in BODIES[:5]:
        compiled = compile_body(body, "unit x", True)
        assert compiled.fast_text is not None and compiled.fast_html is not None


def test_quoted_printable_line_by_line_is_what_binascii_makes_of_the_whole_body() -> None:
    import binascii
    import random

    from mail.mime import quoted_printable

    pieces = ["a", " ", "\t", "=", ".", "é", "李", "\n", "\n", "x" * 80, "y" * 75, "-- ", "ab  ", " \n", "\r", "~"]
    generator = random.Random(16)
    for _ in range(20_000):
        body = "".join(generator.choice(pieces) for _ in range(generator.randint(0, 40)))
        assert quoted_printable(body) == binascii.b2a_qp(body.encode("utf-8"), istext=True).decode("ascii"), body
