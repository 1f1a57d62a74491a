"""Runs in the organizer's pages: schedule one, see its learners and groups, move, export, import.

Learners' addresses are shown only to those who may see them (`courses.privacy.can_see_learners`:
the run's organizer, the course's owner, admins); everyone else gets 403.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from courses import bulk
from courses.facilitators import facilitators
from courses.groups import GroupingOutcome, find_group, group_now, grouping_at, move_learner
from courses.models import Enrollment, Run
from courses.privacy import can_see_learners
from courses.runs import check_timezone, create_run, find_run
from courses.signup import admin_enroll, invite, seats_taken
from courses.summary import run_summary
from server.floor.clock import now
from server.floor.db import session_scope, write_scope
from server.floor.errors import Invalid, NotFound, PermissionDenied
from web.auth import current_account, require_role
from web.csrf import posted_form
from web.flash import flash
from web.organizer import editable_course, me, sentence
from web.templating import render

MAX_CSV_BYTES = 20_000_000
RUN_FIELDS = ("start", "timezone", "every_weeks", "capacity", "group_size", "opens", "closes")
# Spreadsheet programs run cells starting with these as formulas; a leading ' keeps them text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def visible_run(session: Session, request: Request) -> Run:
    """The run of the path's handle, if the logged-in account may see its learners (else 403)."""
    run = find_run(session, request.path_params["handle"])
    if not can_see_learners(current_account(request), run):
        raise PermissionDenied(f"run {run.handle} belongs to another organizer")
    return run


def _number(form: FormData, name: str, label: str) -> int | None:
    raw = str(form.get(name, "")).strip()
    if not raw:
        return None
    if not raw.isdigit():
        raise Invalid(f"{label} {raw!r} must be a whole number")
    return int(raw)


def _instant(form: FormData, name: str, zone: str, label: str) -> datetime | None:
    raw = str(form.get(name, "")).strip()
    if not raw:
        return None
    try:
        return datetime.fromisoformat(raw).replace(tzinfo=ZoneInfo(zone))
    except ValueError:
        raise Invalid(f"{label} {raw!r} must be a date and time like 2026-01-05T09:00") from None


def run_options(form: FormData) -> dict[str, Any]:
    """The schedule form as courses.runs.create_run arguments (Invalid names the field)."""
    try:
        start = date.fromisoformat(str(form.get("start", "")).strip())
    except ValueError:
        raise Invalid(f"start {form.get('start')!r} must be a date like 2026-01-05") from None
    zone = check_timezone(str(form.get("timezone", "UTC")).strip() or "UTC")
    return {
        "start": start,
        "timezone": zone,
        "every_weeks": _number(form, "every_weeks", "every"),
        "capacity": _number(form, "capacity", "capacity"),
        "group_size": _number(form, "group_size", "group size"),
        "signup_opens_at": _instant(form, "opens", zone, "signup opens"),
        "signup_closes_at": _instant(form, "closes", zone, "signup closes"),
    }


def _run_field(message: str) -> str:
    for prefix, name in (("start", "start"), ("timezone", "timezone"), ("every", "every_weeks"), ("capacity", "capacity"),
                         ("group size", "group_size"), ("signup opens", "opens"), ("signup closes", "closes"),
                         ("the signup window", "closes")):  # fmt: skip
        if message.startswith(prefix):
            return name
    return "start"


@require_role("organizer")
def new_run_form(request: Request) -> Response:
    """GET /organize/courses/{slug}/runs/new."""
    with session_scope() as session:
        course = editable_course(session, request)
        values = {"timezone": me(request).timezone or "UTC", "group_size": str(course.group_size)}
        # The browser's zone is a better guess than UTC, not better than the organizer's own setting.
        context = {"course": course, "values": values, "errors": {}, "detect_zone": not me(request).timezone}
        return render(request, "organize/run_new.html", context)


@require_role("organizer")
def new_run_submit(request: Request) -> Response:
    """POST /organize/courses/{slug}/runs/new: schedule the run (publishing the draft if never published)."""
    form = posted_form(request)
    try:
        with session_scope() as session:
            course = editable_course(session, request)
            run = create_run(session, course, organizer=me(request), **run_options(form))
            handle = run.handle
    except Invalid as error:
        with session_scope() as session:
            course = editable_course(session, request)
            values = {name: str(form.get(name, "")) for name in RUN_FIELDS}
            errors = {_run_field(str(error)): sentence(str(error))}
            context = {"course": course, "values": values, "errors": errors, "detect_zone": False}
            return render(request, "organize/run_new.html", context, status=400)
    flash(request, f"The run {handle} is scheduled. Share its page to let people sign up.", "success")
    return RedirectResponse(f"/organize/runs/{handle}", status_code=303)


@require_role("organizer")
def run_admin(request: Request) -> Response:
    """GET /organize/runs/{handle}: the run's learners (with addresses) and groups."""
    with session_scope() as session:
        run = visible_run(session, request)
        learners = list(session.scalars(select(Enrollment).where(Enrollment.run_id == run.id).order_by(Enrollment.id)))
        forms_at = grouping_at(run)
        context = {
            "run": run, "summary": run_summary(session, run), "learners": learners, "groups": run.groups,
            "grouping_at": forms_at if forms_at > now() else None,
            "facilitators": facilitators(session, run),
        }  # fmt: skip
        return render(request, "organize/run.html", context)


@require_role("organizer")
def move(request: Request) -> Response:
    """POST /organize/runs/{handle}/move: put a learner in another group of the run."""
    form = posted_form(request)
    handle = request.path_params["handle"]
    try:
        with session_scope() as session:
            run = visible_run(session, request)
            enrollment = session.get(Enrollment, int(str(form.get("enrollment", "0")) or 0))
            if enrollment is None or enrollment.run_id != run.id:
                raise NotFound(f"run {run.handle} has no such learner")
            group = find_group(session, run, str(form.get("group", "")))
            move_learner(session, enrollment, group)
            who, where = enrollment.email or enrollment.actor, group.name
    except (Invalid, NotFound) as error:
        flash(request, sentence(str(error)), "error")
        return RedirectResponse(f"/organize/runs/{handle}#learners", status_code=303)
    flash(request, f"{who} is in {where} now.", "success")
    return RedirectResponse(f"/organize/runs/{handle}#learners", status_code=303)


def stated_basis(request: Request, form: FormData) -> str | None:
    """The lawful basis an admin states to enroll people without their confirmation (None: they confirm).

    Only an admin may state one; from anyone else it is a forged form (the field is not shown to them).
    """
    basis = " ".join(str(form.get("basis", "")).split())
    if basis and not me(request).is_admin:
        raise PermissionDenied("lawful basis: only an admin may enroll people without their confirmation")
    return basis or None


@require_role("organizer")
def enroll(request: Request) -> Response:
    """POST /organize/runs/{handle}/enroll: invite one person (a mail asks them to confirm), or, for an
    admin who states a lawful basis, enroll them at once with the basis recorded."""
    form = posted_form(request)
    handle, email = request.path_params["handle"], str(form.get("email", "")).strip()
    basis, account_id = stated_basis(request, form), me(request).id
    try:
        with session_scope() as session:
            run = visible_run(session, request)
            name = str(form.get("name", "")).strip() or None
            zone = str(form.get("timezone", "")).strip() or "UTC"
            if basis:
                admin_enroll(session, run, email, name=name, timezone=zone, basis=basis, enrolled_by=account_id)
            else:
                invite(session, run, email, name=name, timezone=zone, invited_by=account_id)
    except (Invalid, NotFound) as error:
        flash(request, sentence(str(error)), "error")
        return RedirectResponse(f"/organize/runs/{handle}#learners", status_code=303)
    done = (
        "is enrolled; the lawful basis is recorded" if basis else "gets a mail asking to confirm: enrolled once they do"
    )
    flash(request, f"{email} {done}.", "success")
    return RedirectResponse(f"/organize/runs/{handle}#learners", status_code=303)


def grouping_sentence(outcome: GroupingOutcome) -> str:
    """The flash after "Form groups now": what happened, counted."""

    def count(number: int, one: str, many: str) -> str:
        return f"{number} {one if number == 1 else many}"

    if not (outcome.placed or outcome.merged):
        return "Nobody was waiting for a group, and no group was small enough to merge."
    done = [count(outcome.placed, "learner placed", "learners placed")]
    done.append(count(outcome.new_groups, "new group", "new groups") if outcome.new_groups else "no new group")
    if outcome.merged:
        done.append(
            count(outcome.merged, "small group merged into a nearby one", "small groups merged into nearby ones")
        )
    return "Grouping done: " + ", ".join(done) + "."


@require_role("organizer")
def group_submit(request: Request) -> Response:
    """POST /organize/runs/{handle}/group: form the groups now (normally done before the run starts)."""
    with write_scope() as session:
        outcome = group_now(session, visible_run(session, request))
    flash(request, grouping_sentence(outcome), "success")
    return RedirectResponse(f"/organize/runs/{request.path_params['handle']}#groups", status_code=303)


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


@require_role("organizer")
def export_csv(request: Request) -> Response:
    """GET /organize/runs/{handle}/learners.csv: email, name, timezone, language, then status and group."""
    with session_scope() as session:
        run = visible_run(session, request)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["email", "name", "timezone", "language", "status", "group", "actor"])
        for learner in session.scalars(select(Enrollment).where(Enrollment.run_id == run.id).order_by(Enrollment.id)):
            group = learner.group.handle if learner.group else ""
            row = [
                learner.email,
                learner.name,
                learner.timezone,
                learner.language,
                learner.status,
                group,
                learner.actor,
            ]
            writer.writerow([_cell(value) for value in row])
        filename = f"{run.handle}-learners.csv"
    headers = {"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"}
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)


@require_role("organizer")
def import_form(request: Request) -> Response:
    """GET /organize/runs/{handle}/import: upload or paste a CSV."""
    with session_scope() as session:
        run = visible_run(session, request)
        return render(request, "organize/import_learners.html", {"run": run, "preview": None, "errors": {}, "text": ""})


def _csv_text(form: FormData) -> str:
    """The CSV from the upload (if any) or the pasted text."""
    upload = form.get("file")
    if isinstance(upload, UploadFile) and upload.filename:
        raw = upload.file.read(MAX_CSV_BYTES + 1)
        if len(raw) > MAX_CSV_BYTES:
            raise Invalid(f"{upload.filename}: larger than 20 MB")
        try:
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise Invalid(f"{upload.filename}: not UTF-8 text (save it as CSV UTF-8)") from None
    return str(form.get("text", ""))


def preview_import(session: Session, run: Run, text: str) -> dict[str, Any]:
    """What importing `text` would do: rows to enroll and wait-list, errors by line; writes nothing."""
    learners, errors = bulk.check_rows(session, run, bulk.read_csv(text))
    free = (
        len(learners) if run.capacity is None else max(0, min(len(learners), run.capacity - seats_taken(session, run)))
    )
    return {
        "learners": learners[:200],
        "count": len(learners),
        "errors": errors,
        "enrolled": free,
        "waitlisted": len(learners) - free,
    }


@require_role("organizer")
def import_preview(request: Request) -> Response:
    """POST /organize/runs/{handle}/import: show the preview; nothing is imported yet."""
    form = posted_form(request)
    with session_scope() as session:
        run = visible_run(session, request)
        try:
            text = _csv_text(form)
            preview = preview_import(session, run, text)
        except Invalid as error:
            context = {"run": run, "preview": None, "errors": {"file": sentence(str(error))}, "text": ""}
            return render(request, "organize/import_learners.html", context, status=400)
        session.rollback()  # a preview writes nothing, whatever the checks touched
        status = 400 if preview["errors"] else 200
        return render(
            request,
            "organize/import_learners.html",
            {"run": run, "preview": preview, "errors": {}, "text": text},
            status=status,
        )


@require_role("organizer")
def import_confirm(request: Request) -> Response:
    """POST /organize/runs/{handle}/import/confirm: invite every row (each confirms by mail), or none;
    an admin who states a lawful basis enrolls them at once, the basis recorded on each place."""
    form = posted_form(request)
    text, handle = str(form.get("text", "")), request.path_params["handle"]
    basis, account_id = stated_basis(request, form), me(request).id
    try:
        with session_scope() as session:
            run = visible_run(session, request)
            if basis:
                outcome = bulk.import_learners(session, run, text, basis=basis, enrolled_by=account_id)
            else:
                outcome = bulk.invite_learners(session, run, text, invited_by=account_id)
    except Invalid as error:
        with session_scope() as session:
            run = visible_run(session, request)
            context = {"run": run, "preview": None, "errors": {"file": sentence(str(error))}, "text": text}
            return render(request, "organize/import_learners.html", context, status=400)
    if not basis:
        flash(request, f"Invited: {outcome.invited} people get a mail asking them to confirm their place.", "success")
    else:
        waiting = f", {outcome.waitlisted} on the waiting list" if outcome.waitlisted else ""
        flash(
            request,
            f"Imported: {outcome.enrolled} learners enrolled{waiting}; the lawful basis is recorded.",
            "success",
        )
    return RedirectResponse(f"/organize/runs/{handle}#learners", status_code=303)


def routes() -> list[BaseRoute]:
    """Scheduling and the organizer's run pages."""
    return [
        Route("/organize/courses/{slug}/runs/new", new_run_form),
        Route("/organize/courses/{slug}/runs/new", new_run_submit, methods=["POST"]),
        Route("/organize/runs/{handle}", run_admin),
        Route("/organize/runs/{handle}/move", move, methods=["POST"]),
        Route("/organize/runs/{handle}/enroll", enroll, methods=["POST"]),
        Route("/organize/runs/{handle}/group", group_submit, methods=["POST"]),
        Route("/organize/runs/{handle}/learners.csv", export_csv),
        Route("/organize/runs/{handle}/import", import_form),
        Route("/organize/runs/{handle}/import", import_preview, methods=["POST"]),
        Route("/organize/runs/{handle}/import/confirm", import_confirm, methods=["POST"]),
    ]
