"""Merge tags in unit bodies: the sample values a body must render with in Jinja2's sandbox."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError

from server.floor.sandbox import BoundedSandbox

# The names a unit body may use, every one docs/mail.md lists (mail.messages.context renders real values
# of the same shape; tests/courses/test_merge_tags.py holds the two to the same names).
SAMPLE_CONTEXT: dict[str, Any] = {
    "learner": {"name": "Ada", "email": "ada@example.org", "timezone": "Europe/London", "language": "en"},
    "course": {
        "title": "A course", "slug": "a-course", "summary": "", "license": "CC-BY-SA-4.0",
        "url": "https://example.org/courses/a-course",
    },
    "run": {"handle": "a-course-2026-01-05", "start": "2026-01-05", "url": "https://example.org/runs/a-course"},
    "group": {
        "name": "Group 1", "handle": "a-course-g1", "address": "a-course-g1@example.org",
        "url": "https://example.org/groups/a-course-g1",
    },
    "unit": {
        "title": "Week 1", "slug": "w1", "day": 7, "position": 1, "number": 2,
        "url": "https://example.org/courses/a-course/units/w1",
    },
    "links": {
        "learner_page": "https://example.org/me/token", "me": "https://example.org/me/token",
        "unsubscribe": "https://example.org/mail/unsubscribe/token", "course": "https://example.org/courses/a-course",
        "run": "https://example.org/runs/a-course", "group": "https://example.org/groups/a-course-g1",
        "alumni": "https://example.org/me/token/alumni",
    },
}  # fmt: skip
TEMPLATE_NAME = "<unit body>"


@dataclass(frozen=True)
class BodyProblem:
    """Why a unit body does not render, and on which line of the body (1-based)."""

    line: int
    message: str


def sandbox() -> BoundedSandbox:
    """The bounded sandbox unit bodies are checked in (unknown names are errors; too costly bodies too)."""
    return BoundedSandbox(undefined=StrictUndefined, autoescape=False)


def body_problem(body: str) -> BodyProblem | None:
    """None when `body` renders with the sample values, else the line and reason it does not."""
    env = sandbox()
    try:
        template = env.from_string(body)
    except TemplateSyntaxError as error:
        return BodyProblem(error.lineno or 1, error.message or str(error))
    try:
        template.render(SAMPLE_CONTEXT)
    except TemplateError as error:
        return BodyProblem(_template_line(error), str(error))
    return None


def _template_line(error: BaseException) -> int:
    """The body line a render error happened on (Jinja2 rewrites tracebacks to template lines)."""
    line = 1
    trace = error.__traceback__
    while trace is not None:
        if trace.tb_frame.f_code.co_filename == "<template>":
            line = trace.tb_lineno
        trace = trace.tb_next
    return line
