"""The organizer's dashboard and course editor: create and edit a template, publish, import a folder.

Organizers see and change only their own courses and runs, admins all (`web.auth.may_change`).
Units are edited in organize_units.py, runs in organize_runs.py, other instances in organize_remote.py.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from courses import editor
from courses.course_file import render_course
from courses.folder import document_of, import_course
from courses.models import LATE_JOIN_POLICIES, Course, CourseFork, Run
from courses.privacy import organizer_courses
from federation.flows.follows import follower_count
from server.floor import urls
from server.floor.db import session_scope
from server.floor.errors import Invalid
from web.auth import require_role
from web.csrf import posted_form
from web.flash import flash
from web.organizer import editable_course, me, sentence
from web.templating import render

# Offered first in the license select; any other SPDX id can be typed in the "other" field.
COMMON_LICENSES = (
    "CC-BY-4.0", "CC-BY-SA-4.0", "CC-BY-NC-4.0", "CC-BY-NC-SA-4.0", "CC0-1.0", "MIT", "Apache-2.0", "GFDL-1.3-or-later",
)  # fmt: skip
# Invalid messages start with the field they are about; this maps them to the form's inputs.
FIELD_PREFIXES = (
    ("slug", "slug"), ("title", "title"), ("summary", "summary"), ("language", "language"),
    ("license", "license"), ("tags", "tags"), ("resource", "resources"), ("schedule.send_time", "send_time"),
    ("schedule.late_join", "late_join"), ("groups.size", "group_size"), ("groups.by", "group_by"),
    ("question", "questions"),
)  # fmt: skip
MAX_ZIP_BYTES = 10_000_000


def field_of(message: str) -> str:
    """The form field an Invalid message names."""
    for prefix, name in FIELD_PREFIXES:
        if message.startswith(prefix):
            return name
    return "form"


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def parse_resources(text: str) -> list[dict[str, Any]]:
    """`Title | https://url` per line."""
    resources = []
    for number, line in enumerate(_lines(text), 1):
        title, _, url = line.rpartition("|")
        if not title.strip():
            raise Invalid(f"resource {number}: write it as Title | https://address")
        resources.append({"title": title.strip(), "url": url.strip()})
    return resources


def parse_questions(text: str) -> list[dict[str, Any]]:
    """`id | label | kind | choice, choice | required` per line (kind, choices and required optional)."""
    questions = []
    for number, line in enumerate(_lines(text), 1):
        parts = [part.strip() for part in line.split("|")]
        if len(parts) < 2:
            raise Invalid(f"question {number}: write it as id | label | kind | choices | required")
        question: dict[str, Any] = {"id": parts[0], "label": parts[1], "kind": (parts[2:3] or ["text"])[0] or "text"}
        choices = [c.strip() for c in (parts[3:4] or [""])[0].split(",") if c.strip()]
        if choices:
            question["choices"] = choices
        if len(parts) > 4 and parts[4]:
            question["required"] = parts[4].lower() in {"required", "yes", "true"}
        questions.append(question)
    return questions


def questions_text(questions: list[dict[str, Any]]) -> str:
    """The questions in the editor's one-line-each form."""
    rows = []
    for q in questions:
        required = "required" if q.get("required") else ""
        rows.append(
            " | ".join([q["id"], q["label"], q.get("kind", "text"), ", ".join(q.get("choices", [])), required]).rstrip(
                " |"
            )
        )
    return "\n".join(rows)


def course_values(form: FormData) -> dict[str, Any]:
    """The editor form as editor.update_course values (Invalid names a field it cannot read)."""
    text = {name: str(form.get(name, "")).strip() for name in form.keys() if isinstance(form.get(name), str)}
    license_value = text.get("license_other") or text.get("license", "")
    try:
        group_size = int(text.get("group_size") or 0)
    except ValueError:
        raise Invalid(f"groups.size {text.get('group_size')!r} must be a whole number") from None
    return {
        "title": text.get("title", ""),
        "summary": str(form.get("summary", "")).strip(),
        "language": text.get("language", ""),
        "license": license_value,
        "tags": [tag.strip() for tag in text.get("tags", "").split(",") if tag.strip()],
        "resources": parse_resources(str(form.get("resources", ""))),
        "send_time": text.get("send_time", ""),
        "late_join": text.get("late_join", ""),
        "group_size": group_size,
        "questions": parse_questions(str(form.get("questions", ""))),
        "group_by": [key.strip() for key in text.get("group_by", "").split(",") if key.strip()],
    }


def form_values(course: Course | None, form: FormData | None = None) -> dict[str, Any]:
    """What the editor form shows: the posted values after an error, else the course's draft."""
    if form is not None:
        return {name: str(form.get(name, "")) for name in form.keys() if isinstance(form.get(name), str)}
    if course is None:
        return {"license": "CC-BY-SA-4.0", "language": "en", "send_time": "09:00", "late_join": "catch_up",
                "group_size": "20", "group_by": "timezone, language"}  # fmt: skip
    return {
        "slug": course.slug, "title": course.title, "summary": course.summary, "language": course.language,
        "license": course.license, "tags": ", ".join(course.tags or []), "send_time": course.send_time,
        "late_join": course.late_join, "group_size": str(course.group_size),
        "group_by": ", ".join(course.group_by or []), "questions": questions_text(course.questions or []),
        "resources": "\n".join(f"{r['title']} | {r['url']}" for r in course.resources or []),
    }  # fmt: skip


def editor_context(
    session: Session, course: Course | None, values: dict[str, Any], errors: dict[str, str]
) -> dict[str, Any]:
    """Everything the course form and editor page show."""
    runs = (
        []
        if course is None
        else list(session.scalars(select(Run).where(Run.course_id == course.id).order_by(Run.start_date)))
    )
    return {
        "course": course, "values": values, "errors": errors, "licenses": COMMON_LICENSES,
        "late_join_policies": LATE_JOIN_POLICIES, "runs": runs,
        "versions": [] if course is None else list(reversed(course.versions)),
    }  # fmt: skip


@require_role("organizer")
def dashboard(request: Request) -> Response:
    """GET /organize: my courses and runs (all for an admin)."""
    account = me(request)
    with session_scope() as session:
        courses = organizer_courses(session, account)
        query = select(Run).join(Course).order_by(Run.start_date.desc())
        if not account.is_admin:
            query = query.where(or_(Run.organizer_id == account.id, Course.owner_id == account.id))
        runs = list(session.scalars(query.limit(200)))
        # The counts `mechmooc course list` prints, so the page tells an organizer as much as the terminal.
        forks = dict(session.execute(select(CourseFork.course_id, func.count()).group_by(CourseFork.course_id)).all())
        reach = {c.id: (forks.get(c.id, 0), follower_count(session, urls.course(c.slug))) for c in courses}
        return render(request, "organize/dashboard.html", {"courses": courses, "runs": runs, "reach": reach})


@require_role("organizer")
def new_course_form(request: Request) -> Response:
    """GET /organize/courses/new."""
    with session_scope() as session:
        return render(request, "organize/course_new.html", editor_context(session, None, form_values(None), {}))


@require_role("organizer")
def new_course_submit(request: Request) -> Response:
    """POST /organize/courses/new: a new draft owned by the organizer."""
    form = posted_form(request)
    slug = str(form.get("slug", "")).strip()
    try:
        with session_scope() as session:
            values = course_values(form)
            course = editor.create_course(session, slug, values.pop("title"), owner=me(request), **values)
            slug = course.slug
    except Invalid as error:
        with session_scope() as session:
            context = editor_context(
                session, None, form_values(None, form), {field_of(str(error)): sentence(str(error))}
            )
            return render(request, "organize/course_new.html", context, status=400)
    flash(request, "The course is created. Add its units, then publish a version.", "success")
    return RedirectResponse(f"/organize/courses/{slug}", status_code=303)


@require_role("organizer")
def edit_course(request: Request) -> Response:
    """GET /organize/courses/{slug}: the editor (fields, units, versions, runs)."""
    with session_scope() as session:
        course = editable_course(session, request)
        return render(request, "organize/course.html", editor_context(session, course, form_values(course), {}))


@require_role("organizer")
def save_course(request: Request) -> Response:
    """POST /organize/courses/{slug}: save the draft's fields (all checked, nothing half-saved)."""
    form = posted_form(request)
    try:
        with session_scope() as session:
            course = editable_course(session, request)
            editor.update_course(session, course, **course_values(form))
    except Invalid as error:
        with session_scope() as session:
            course = editable_course(session, request)
            context = editor_context(
                session, course, form_values(course, form), {field_of(str(error)): sentence(str(error))}
            )
            return render(request, "organize/course.html", context, status=400)
    flash(request, "Saved to the draft. Publish a version to use it in new runs.", "success")
    return RedirectResponse(f"/organize/courses/{request.path_params['slug']}", status_code=303)


@require_role("organizer")
def publish(request: Request) -> Response:
    """POST /organize/courses/{slug}/publish: freeze the draft as the next version."""
    slug = request.path_params["slug"]
    try:
        with session_scope() as session:
            version = editor.publish(session, editable_course(session, request))
            number = version.number
    except Invalid as error:
        flash(request, sentence(str(error)), "error")
        return RedirectResponse(f"/organize/courses/{slug}", status_code=303)
    flash(request, f"Version {number} is published. New runs use it; running runs keep theirs.", "success")
    return RedirectResponse(f"/organize/courses/{slug}", status_code=303)


@require_role("organizer")
def import_form(request: Request) -> Response:
    """GET /organize/import: upload a course folder as a .zip."""
    return render(request, "organize/import_course.html", {"errors": {}})


@require_role("organizer")
def import_submit(request: Request) -> Response:
    """POST /organize/import: import the uploaded .zip (all or nothing; errors name file and line)."""
    upload = posted_form(request).get("archive")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return render(
            request, "organize/import_course.html", {"errors": {"archive": "Choose a .zip of a course folder."}}, 400
        )
    data = upload.file.read(MAX_ZIP_BYTES + 1)
    if len(data) > MAX_ZIP_BYTES:
        return render(
            request,
            "organize/import_course.html",
            {"errors": {"archive": f"{upload.filename}: larger than 10 MB."}},
            400,
        )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "course.zip"
        path.write_bytes(data)
        try:
            notices: list[str] = []
            with session_scope() as session:
                course = import_course(session, path, notices=notices)
                course.owner_id = me(request).id
                slug = course.slug
        except Invalid as error:
            message = f"{upload.filename}: {str(error).replace(str(path) + ': ', '')}"
            return render(request, "organize/import_course.html", {"errors": {"archive": message}}, 400)
    for notice in notices:
        flash(request, f"Note: {notice}.", "info")
    flash(request, f"Imported {slug}. Check it, then publish a version.", "success")
    return RedirectResponse(f"/organize/courses/{slug}", status_code=303)


@require_role("organizer")
def export_zip(request: Request) -> Response:
    """GET /organize/courses/{slug}/export.zip: the draft in the folder format, as `mechmooc course export` writes it."""
    with session_scope() as session:
        course = editable_course(session, request)
        slug, files = course.slug, render_course(document_of(course))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(f"{slug}/{name}", text)
    disposition = f'attachment; filename="{slug}.zip"'
    return Response(buffer.getvalue(), media_type="application/zip", headers={"Content-Disposition": disposition})


def routes() -> list[BaseRoute]:
    """The dashboard, the course form and editor, publishing, folder import."""
    return [
        Route("/organize", dashboard, name="organize"),
        Route("/organize/courses/new", new_course_form),
        Route("/organize/courses/new", new_course_submit, methods=["POST"]),
        Route("/organize/import", import_form),
        Route("/organize/import", import_submit, methods=["POST"]),
        Route("/organize/courses/{slug}", edit_course),
        Route("/organize/courses/{slug}", save_course, methods=["POST"]),
        Route("/organize/courses/{slug}/publish", publish, methods=["POST"]),
        Route("/organize/courses/{slug}/export.zip", export_zip),
    ]
