"""Trust, item 9: a unit body must not be able to cost seconds or gigabytes each time it renders.

The attack: nested `range` loops in a unit body passed import (Jinja2's sandbox allows 100,000
numbers a range) and then cost seconds on every view of the public unit page. Every place that
renders course text now uses one bounded sandbox (`server.floor.sandbox`): such a body is refused at
import and in the editor, and one that arrives some other way renders an error, quickly, once.
"""
# ruff: noqa: F811  (pytest fixtures imported from tests.web.coursepages are test parameters)

from __future__ import annotations

import shutil
import time
import tracemalloc
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from courses.folder import import_course
from courses.merge_tags import SAMPLE_CONTEXT, body_problem
from courses.models import Course
from courses.versions import publish
from federation.flows.bridge import render_unit
from mail.render import render
from server.floor.db import session_scope
from server.floor.errors import Invalid
from tests.web.coursepages import GENTLE, World, logged_in, token_on, web, world  # noqa: F401

# 100 million loop turns: tens of seconds before, and allowed by Jinja2's own sandbox.
NESTED_LOOPS = (
    "Week 1\n\n{% for a in range(1000) %}{% for b in range(1000) %}{% for c in range(100) %}"
    "{% endfor %}{% endfor %}{% endfor %}done\n"
)
QUICK = 3.0  # seconds: the bound is 10,000 steps or 1 s of work, with room for a busy machine
# Bodies that cost a lot of work or memory in a few characters; each must be refused, fast and small.
BOMBS = {
    "nested loops": NESTED_LOOPS,
    "a list literal looped over": "{% set r = [" + ",".join("0" * 1000) + "] %}"
    "{% for a in r %}{% for b in r %}{% for c in r %}{% endfor %}{% endfor %}{% endfor %}",
    "a huge range": "{% for a in range(10**8) %}{% endfor %}",
    "text times a billion": '{{ "x" * 1000000000 }}',
    "a huge power": "{{ 2 ** 100000000 }}",
    "text doubled by ~": '{% set x = "xxxxxxxxxx" %}' + "{% set x = x ~ x %}" * 40 + "{{ x | length }}",
    "text doubled in a namespace": '{% set ns = namespace(s="xx") %}{% for i in range(60) %}'
    "{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
    "a wide center": "{{ learner.name | center(1000000000) }}",
    "a wide printf field": '{{ "%999999999d" | format(1) }}{{ "%999999999d" % 1 }}',
    "str.format widths": '{{ "{:>999999999}".format(1) }}',
    "int.to_bytes": "{{ (1).to_bytes(1000000000, 'big') }}",
    "a macro calling itself twice": "{% macro m() %}{{ m() }}{{ m() }}{% endmacro %}{{ m() }}",
    "a recursive loop": "{% for x in [1] recursive %}{{ loop([1, 1]) }}{% endfor %}",
    "lipsum": "{{ lipsum(1000000) }}",
    "a 5,000-digit number": "{{ " + "9" * 5000 + " }}",
    "a block output repeated": "{% set b %}" + "y" * 100_000 + "{% endset %}"
    "{% for i in range(1000) %}{{ b }}{% endfor %}",
}


def measured(action: object) -> tuple[object, float, int]:
    """What `action()` returned, the seconds it took and the peak memory it allocated."""
    tracemalloc.start()
    started = time.monotonic()
    try:
        result = action()  # type: ignore[operator]
        return result, time.monotonic() - started, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("body", BOMBS.values(), ids=list(BOMBS))
def test_a_costly_body_is_refused_quickly_and_small(body: str) -> None:
    problem, seconds, peak = measured(lambda: body_problem(body))
    assert problem is not None, "the body should be refused"
    assert seconds < QUICK and peak < 50_000_000, (seconds, peak, problem)


def test_nested_loops_are_refused_at_import_naming_the_file_and_line(session: Session, tmp_path: Path) -> None:
    folder = tmp_path / "bomb"
    shutil.copytree(GENTLE, folder)
    unit = folder / "units" / "01-variables.md"
    front = unit.read_text().split("+++")[1]
    unit.write_text(f"+++{front}+++\n{NESTED_LOOPS}")
    started = time.monotonic()
    with pytest.raises(Invalid) as refused:
        import_course(session, folder)
    assert time.monotonic() - started < QUICK
    line = next(n for n, text in enumerate(unit.read_text().splitlines(), 1) if text.startswith("{% for a"))
    assert f"units/01-variables.md:{line}: the body does not render" in str(refused.value)
    assert "more than 10,000 steps" in str(refused.value)


def test_nested_loops_are_refused_in_the_editor(world: World, web: TestClient) -> None:
    logged_in(web, world.owner)
    page = f"/organize/courses/{world.slug}/units/variables"
    response = web.post(
        page,
        data={"csrf_token": token_on(web, page), "title": "Week 1", "day": "7", "body": NESTED_LOOPS},
        follow_redirects=False,
    )
    assert response.status_code == 400 and "more than 10,000 steps" in response.text


def published_with_bomb(slug: str) -> str:
    """A new version of course `slug` whose second unit is the nested loops, as a body could arrive
    without the import's check (written by an older version, or copied in the database): its unit slug."""
    with session_scope() as db:
        course = db.scalar(select(Course).where(Course.slug == slug))
        assert course is not None
        publish(db, course)
        version = course.versions[-1]
        snapshot = dict(version.snapshot)
        units = [dict(unit) for unit in snapshot["units"]]
        units[1]["body"] = NESTED_LOOPS
        version.snapshot = {**snapshot, "units": units}
        return str(units[1]["slug"])


def test_the_public_unit_page_renders_an_error_quickly_and_only_once(world: World, web: TestClient) -> None:
    unit = published_with_bomb(world.slug)
    path = f"/courses/{world.slug}/units/{unit}"
    started = time.monotonic()
    first = web.get(path)
    first_seconds = time.monotonic() - started
    assert first.status_code == 200 and first_seconds < QUICK
    assert "This unit cannot be shown" in first.text and "more than 10,000 steps" in first.text
    started = time.monotonic()
    again = web.get(path, headers={"Accept": "application/activity+json"})
    assert again.status_code == 200 and "This unit cannot be shown" in again.json()["content"]
    assert time.monotonic() - started < QUICK
    # The rendering is cached per published version and unit: the course page's outline pays nothing more.
    assert web.get(f"/courses/{world.slug}").status_code == 200


def test_mail_and_fediverse_renderings_fail_safely(world: World) -> None:
    started = time.monotonic()
    with pytest.raises(Invalid, match="unit bomb of a course.*more than 10,000 steps"):
        render("{{ unit.title }}", NESTED_LOOPS, SAMPLE_CONTEXT, "unit bomb of a course")
    note = render_unit(NESTED_LOOPS, SAMPLE_CONTEXT)
    assert "could not be written out here" in note and SAMPLE_CONTEXT["unit"]["url"] in note
    assert time.monotonic() - started < 2 * QUICK


def test_ordinary_merge_tags_still_render() -> None:
    body = (
        '{{ learner.name | default("there") | title }}: {% for i in range(3) %}{{ loop.index }}{% endfor %} '
        "{{ [1, 2] | join(', ') }} {{ '%s units' % 7 }} {{ 2 ** 10 }} {{ (course.title ~ '!') | upper }}"
    )
    assert body_problem(body) is None
    text = render("s", body, SAMPLE_CONTEXT, "unit").text
    assert text.startswith("Ada: 123 1, 2 7 units 1024 A COURSE!")
