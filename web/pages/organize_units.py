"""The units of a course draft in the editor: add, edit, preview, move up/down, delete.

Every action is a plain form (up/down are buttons, no script needed). The preview renders a
unit's Markdown with sample merge-tag values on the server, exactly as the mail would; with
JavaScript the same endpoint fills the preview panel in place (`fragment=1`).
"""

from __future__ import annotations

import copy
from typing import Any

from jinja2 import TemplateError
from markupsafe import Markup
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from courses import editor
from courses.merge_tags import SAMPLE_CONTEXT, body_problem, sandbox
from courses.models import Course, Unit
from server.floor.db import session_scope
from server.floor.errors import Invalid
from web.auth import require_role
from web.csrf import posted_form
from web.flash import flash
from web.organizer import editable_course, sentence
from web.templating import environment, markdown, render


def preview_html(course: Course, title: str, day: int, body: str) -> tuple[Markup, str]:
    """The unit body rendered with sample merge-tag values (learner Ada, Group 1), or an error."""
    problem = body_problem(body)
    if problem is not None:
        return Markup(""), f"Line {problem.line}: the text does not render: {problem.message}"
    context: dict[str, Any] = copy.deepcopy(SAMPLE_CONTEXT)
    context["course"].update({"title": course.title, "slug": course.slug, "summary": course.summary})
    context["unit"].update({"title": title, "day": day})
    try:
        # The same sandbox the editor checks bodies in; Markdown as the pages render it (raw HTML escaped).
        return markdown(sandbox().from_string(body).render(context)), ""
    except TemplateError as error:
        return Markup(""), sentence(str(error))


def _unit(course: Course, slug: str) -> Unit:
    unit = next((u for u in course.units if u.slug == slug), None)
    if unit is None:
        raise HTTPException(404, f"course {course.slug} has no unit {slug}")
    return unit


def _typed(form: FormData) -> tuple[str, str, str, int | None]:
    """Title, slug, body and day as typed (day None when it is not a whole number)."""
    title = str(form.get("title", "")).strip()
    slug = str(form.get("unit_slug", "")).strip()
    body = str(form.get("body", "")).replace("\r\n", "\n")
    raw_day = str(form.get("day", "")).strip()
    # ASCII digits and a sane length: int() refuses "²" and 5,000-digit numbers with a ValueError (a 500).
    whole = raw_day.isascii() and raw_day.lstrip("-").isdigit() and len(raw_day) <= 12
    return title, slug, body, int(raw_day) if whole else None


def _unit_page(
    request: Request, session: Session, course: Course, unit: Unit | None, values: dict[str, Any], errors: dict[str, str],
    preview: tuple[Markup, str] | None = None, status: int = 200,
) -> Response:  # fmt: skip
    context = {"course": course, "unit": unit, "values": values, "errors": errors, "preview": preview}
    return render(request, "organize/unit.html", context, status=status)


def _error_field(message: str) -> str:
    for prefix, name in (("unit title", "title"), ("unit slug", "unit_slug"), ("day", "day"), ("body", "body")):
        if message.startswith(prefix):
            return name
    return "body" if "render" in message else "title"


@require_role("organizer")
def new_unit_form(request: Request) -> Response:
    """GET /organize/courses/{slug}/units/new."""
    with session_scope() as session:
        course = editable_course(session, request)
        next_day = max((u.day for u in course.units), default=-7) + 7
        values = {"title": "", "unit_slug": "", "day": str(next_day), "body": ""}
        return _unit_page(request, session, course, None, values, {})


@require_role("organizer")
def add_unit(request: Request) -> Response:
    """POST /organize/courses/{slug}/units/new: add at the end of the draft."""
    form = posted_form(request)
    title, slug, body, day = _typed(form)
    values = {"title": title, "unit_slug": slug, "day": str(form.get("day", "")), "body": body}
    try:
        with session_scope() as session:
            course = editable_course(session, request)
            if day is None:
                raise Invalid(f"day {form.get('day')!r} must be a whole number of days from the start")
            editor.add_unit(session, course, title, day, body, slug=slug or None)
    except Invalid as error:
        with session_scope() as session:
            course = editable_course(session, request)
            errors = {_error_field(str(error)): sentence(str(error))}
            return _unit_page(request, session, course, None, values, errors, status=400)
    flash(request, f"Unit “{title}” added.", "success")
    return RedirectResponse(f"/organize/courses/{request.path_params['slug']}#units", status_code=303)


@require_role("organizer")
def edit_unit_form(request: Request) -> Response:
    """GET /organize/courses/{slug}/units/{unit}."""
    with session_scope() as session:
        course = editable_course(session, request)
        unit = _unit(course, request.path_params["unit"])
        values = {"title": unit.title, "unit_slug": unit.slug, "day": str(unit.day), "body": unit.body}
        return _unit_page(request, session, course, unit, values, {})


@require_role("organizer")
def save_unit(request: Request) -> Response:
    """POST /organize/courses/{slug}/units/{unit}: change title, day and body."""
    form = posted_form(request)
    title, _slug, body, day = _typed(form)
    try:
        with session_scope() as session:
            course = editable_course(session, request)
            unit = _unit(course, request.path_params["unit"])
            if day is None:
                raise Invalid(f"day {form.get('day')!r} must be a whole number of days from the start")
            editor.update_unit(session, unit, title=title, day=day, body=body)
    except Invalid as error:
        with session_scope() as session:
            course = editable_course(session, request)
            unit = _unit(course, request.path_params["unit"])
            values = {"title": title, "unit_slug": unit.slug, "day": str(form.get("day", "")), "body": body}
            return _unit_page(
                request, session, course, unit, values, {_error_field(str(error)): sentence(str(error))}, status=400
            )
    flash(request, f"Unit “{title}” saved.", "success")
    return RedirectResponse(f"/organize/courses/{request.path_params['slug']}#units", status_code=303)


@require_role("organizer")
def preview(request: Request) -> Response:
    """POST /organize/courses/{slug}/preview: the typed unit rendered (a fragment for scripts)."""
    form = posted_form(request)
    title, slug, body, day = _typed(form)
    with session_scope() as session:
        course = editable_course(session, request)
        rendered = preview_html(course, title, day or 0, body)
        if form.get("fragment") == "1":
            html = environment().get_template("organize/_preview.html").render(preview=rendered)
            return HTMLResponse(html, headers={"X-Content-Type-Options": "nosniff"})
        unit = _unit(course, slug) if slug and any(u.slug == slug for u in course.units) else None
        values = {"title": title, "unit_slug": slug, "day": str(form.get("day", "")), "body": body}
        return _unit_page(request, session, course, unit, values, {}, preview=rendered)


@require_role("organizer")
def move_unit(request: Request) -> Response:
    """POST /organize/courses/{slug}/units/{unit}/move: one place up or down."""
    direction = str(posted_form(request).get("direction", ""))
    with session_scope() as session:
        course = editable_course(session, request)
        slugs = [u.slug for u in course.units]
        index = slugs.index(_unit(course, request.path_params["unit"]).slug)
        other = index - 1 if direction == "up" else index + 1 if direction == "down" else index
        if 0 <= other < len(slugs) and other != index:
            slugs[index], slugs[other] = slugs[other], slugs[index]
            editor.reorder_units(session, course, slugs)
    return RedirectResponse(
        f"/organize/courses/{request.path_params['slug']}#unit-{request.path_params['unit']}", status_code=303
    )


@require_role("organizer")
def delete_unit(request: Request) -> Response:
    """POST /organize/courses/{slug}/units/{unit}/delete: out of the draft (published versions keep it)."""
    with session_scope() as session:
        course = editable_course(session, request)
        title = _unit(course, request.path_params["unit"]).title
        editor.delete_unit(session, course, request.path_params["unit"])
    flash(request, f"Unit “{title}” deleted from the draft.", "success")
    return RedirectResponse(f"/organize/courses/{request.path_params['slug']}#units", status_code=303)


def routes() -> list[BaseRoute]:
    """Unit editing routes (mounted before the course editor's own)."""
    base = "/organize/courses/{slug}"
    return [
        Route(f"{base}/units/new", new_unit_form),
        Route(f"{base}/units/new", add_unit, methods=["POST"]),
        Route(f"{base}/preview", preview, methods=["POST"]),
        Route(f"{base}/units/{{unit}}", edit_unit_form),
        Route(f"{base}/units/{{unit}}", save_unit, methods=["POST"]),
        Route(f"{base}/units/{{unit}}/move", move_unit, methods=["POST"]),
        Route(f"{base}/units/{{unit}}/delete", delete_unit, methods=["POST"]),
    ]
