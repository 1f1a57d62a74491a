"""The catalogue and the course page: units, license, resources, runs, provenance, forks, upstream."""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import date, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from courses import forks as course_forks
from courses.models import Course, CourseVersion, Run
from courses.runs import find_course
from courses.versions import snapshot_of
from server.floor import urls
from server.floor.db import session_scope
from server.floor.errors import Invalid, MechMoocError
from web.auth import current_account, may_change, require_role
from web.flash import flash
from web.page_cache import public_page
from web.templating import render

UPCOMING = ("scheduled", "open", "running")


def published(course: Course) -> dict[str, Any] | None:
    """The latest published version's snapshot (what the public sees), or None."""
    return course.versions[-1].snapshot if course.versions else None


def upcoming_runs(session: Session, course_id: int | None = None) -> list[Run]:
    """Runs that have not finished, soonest first (of one course, or of all)."""
    query = select(Run).where(Run.status.in_(UPCOMING))
    if course_id is not None:
        query = query.where(Run.course_id == course_id)
    return list(session.scalars(query.order_by(Run.start_date, Run.id)))


SHOWN_RUNS = 3  # the catalogue shows each course's next three runs (catalogue/_catalogue.html)
PAGE_COURSES = 24  # courses on a page of /courses (the home page shows fewer: web.pages.catalogue)


def catalogue(session: Session, limit: int = PAGE_COURSES, offset: int = 0) -> list[dict[str, Any]]:
    """Courses with upcoming runs, soonest first (`limit` of them from `offset`), each with title,
    summary, url and its next runs.

    Three statements whatever the size of the catalogue (four when a card's version is new to this
    process): the page's courses by their next run's date (then their first upcoming run's id), the
    next SHOWN_RUNS runs of each (a window over those courses' upcoming runs), and the cards' fields:
    a course's draft columns, or its latest published version's, read out of that version's JSON
    once per process (a snapshot holds every unit's text; loading it per course made the page N+1).
    A page, not all of them: 200 courses' cards took 20 ms to render. The statements are built once
    and run on the session's connection (building them took as long as running them)."""
    connection = session.connection()
    page = list(connection.scalars(_catalogue_page(), {"limit": limit, "offset": offset}))
    if not page:
        return []
    runs = connection.execute(_catalogue_runs(), {"ids": page}).all()
    cards = _course_cards(session, page)
    by_course: dict[int, dict[str, Any]] = {course_id: {**cards[course_id], "runs": []} for course_id in page}
    for course_id, handle, start, status in runs:
        by_course[course_id]["runs"].append({"handle": handle, "start": start, "status": status})
    return list(by_course.values())


def catalogue_size(session: Session) -> int:
    """How many courses have upcoming runs."""
    return int(session.connection().scalar(_catalogue_size()) or 0)


@lru_cache(maxsize=1)
def _catalogue_page() -> Select[int]:
    return (
        select(Run.course_id)
        .where(Run.status.in_(UPCOMING))
        .group_by(Run.course_id)
        .order_by(func.min(Run.start_date), func.min(Run.id))  # a window over every run took 2 ms on 2,000
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
    )


@lru_cache(maxsize=1)
def _catalogue_runs() -> Select[int, str, date, str]:
    rank = func.row_number().over(partition_by=Run.course_id, order_by=(Run.start_date, Run.id)).label("rank")
    upcoming = (
        select(Run.id, Run.course_id, Run.handle, Run.start_date, Run.status, rank)
        .where(Run.status.in_(UPCOMING), Run.course_id.in_(bindparam("ids", expanding=True)))
        .subquery()
    )
    return (
        select(upcoming.c.course_id, upcoming.c.handle, upcoming.c.start_date, upcoming.c.status)
        .where(upcoming.c.rank <= SHOWN_RUNS)
        .order_by(upcoming.c.start_date, upcoming.c.id)
    )


@lru_cache(maxsize=1)
def _catalogue_size() -> Select[int]:
    return select(func.count(func.distinct(Run.course_id))).where(Run.status.in_(UPCOMING))


@lru_cache(maxsize=1)
def _card_rows() -> Select[int, str, int, datetime, str, str, str, list[str]]:
    latest = (
        select(CourseVersion.course_id, func.max(CourseVersion.number).label("number"))
        .where(CourseVersion.course_id.in_(bindparam("ids", expanding=True)))
        .group_by(CourseVersion.course_id)
        .subquery()
    )
    return (
        select(
            Course.id,
            Course.slug,
            CourseVersion.id.label("version_id"),
            CourseVersion.published_at,
            Course.title,
            Course.summary,
            Course.language,
            Course.tags,
        )
        .outerjoin(latest, latest.c.course_id == Course.id)
        .outerjoin(CourseVersion, (CourseVersion.course_id == Course.id) & (CourseVersion.number == latest.c.number))
        .where(Course.id.in_(bindparam("ids", expanding=True)))
    )


@lru_cache(maxsize=1)
def _card_fields() -> Select[int, datetime, str, str, str, Any]:
    snapshot = CourseVersion.snapshot
    return select(
        CourseVersion.id,
        CourseVersion.published_at,
        snapshot["title"].as_string(),
        snapshot["summary"].as_string(),
        snapshot["language"].as_string(),
        snapshot["tags"].as_json(),
    ).where(CourseVersion.id.in_(bindparam("ids", expanding=True)))


def _course_cards(session: Session, course_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Slug, title, summary, url, language and tags of each course, as its latest published version says."""
    rows = session.connection().execute(_card_rows(), {"ids": course_ids}).all()
    published = _published_fields(session, {(row.version_id, row.published_at) for row in rows if row.version_id})
    cards = {}
    for row in rows:
        title, summary, language, tags = published[(row.version_id, row.published_at)] if row.version_id else row[4:8]
        cards[row.id] = {
            "slug": row.slug, "title": title, "summary": summary or "", "url": f"/courses/{row.slug}",
            "language": language or "", "tags": tags or [],
        }  # fmt: skip
    return cards


# A published version never changes: its card fields are read out of its JSON once per process. The
# key has the publishing instant too, so a version id that SQLite gives again after a deletion
# is never mistaken for the old one.
_CARD_FIELDS: OrderedDict[tuple[int, datetime], tuple[Any, ...]] = OrderedDict()
_CARD_FIELDS_KEPT = 4096
_CARD_LOCK = threading.Lock()


def _published_fields(
    session: Session, versions: set[tuple[int, datetime]]
) -> dict[tuple[int, datetime], tuple[Any, ...]]:
    """(title, summary, language, tags) of each (version id, published at), from the cache or the database."""
    with _CARD_LOCK:
        found = {key: _CARD_FIELDS[key] for key in versions if key in _CARD_FIELDS}
    missing = [version_id for version_id, _at in versions - found.keys()]
    if missing:
        fetched = {
            (row[0], row[1]): tuple(row[2:]) for row in session.connection().execute(_card_fields(), {"ids": missing})
        }
        found |= fetched
        with _CARD_LOCK:
            _CARD_FIELDS.update(fetched)
            while len(_CARD_FIELDS) > _CARD_FIELDS_KEPT:
                _CARD_FIELDS.popitem(last=False)
    return found


def actor_label(actor_id: str) -> str:
    """A short name for a course id: host and slug (`example.org · gentle-python`)."""
    parts = urlsplit(actor_id)
    slug = parts.path.rstrip("/").rsplit("/", 1)[-1]
    return f"{parts.netloc} · {slug}" if parts.netloc else actor_id


def provenance(course: Course) -> list[dict[str, str]]:
    """The lineage oldest first, ending with this course: A ← B ← C reads left to right."""
    chain = [{"id": ancestor, "label": actor_label(ancestor)} for ancestor in reversed(course.lineage or [])]
    if course.origin and not any(link["id"] == course.origin for link in chain):
        chain.append({"id": course.origin, "label": actor_label(course.origin)})
    return [*chain, {"id": urls.course(course.slug), "label": actor_label(urls.course(course.slug))}]


def license_url(expression: str) -> str | None:
    """The SPDX page of a single license id (expressions with AND/OR get the list page)."""
    if " " in expression.strip():
        return "https://spdx.org/licenses/"
    return f"https://spdx.org/licenses/{expression.strip()}.html"


def _course_or_404(session: Session, slug: str) -> Course:
    return find_course(session, slug)


def course_page(request: Request) -> Response:
    """GET /courses/{slug}: the published course for everyone; the owner also sees draft state."""
    public_page(request)
    account = current_account(request)
    with session_scope() as session:
        course = _course_or_404(session, request.path_params["slug"])
        editable = may_change(account, course.owner_id)
        snapshot = published(course)
        if snapshot is None and not editable:
            raise HTTPException(404, f"course {course.slug} is not published yet")
        shown = snapshot or snapshot_of(course)
        context = {
            "course": course,
            "shown": shown,
            "is_draft_only": snapshot is None,
            "editable": editable,
            "is_organizer": account is not None and account.is_organizer,
            "license_url": license_url(shown.get("license", "")),
            "runs": [_run_row(run) for run in upcoming_runs(session, course.id)],
            "provenance": provenance(course) if course.origin else [],
            "forks": course_forks.forks_of(session, course),
            "upstream_changed": upstream_changed(session, course),
            "course_id": urls.course(course.slug),
        }
        return render(request, "courses/course.html", context)


def _run_row(run: Run) -> dict[str, Any]:
    return {"handle": run.handle, "start": run.start_date, "timezone": run.timezone, "status": run.status}


def courses_index(request: Request) -> Response:
    """GET /courses[?page=N]: the catalogue on pages of its own, PAGE_COURSES courses each."""
    public_page(request)
    raw = request.query_params.get("page", "1")
    if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= 100_000):
        raise HTTPException(400, "page must be a whole number from 1")
    number = int(raw)
    with session_scope() as session:
        # One course more than the page holds says whether a next page exists.
        courses = catalogue(session, limit=PAGE_COURSES + 1, offset=(number - 1) * PAGE_COURSES)
    if number > 1 and not courses:
        raise HTTPException(404, f"there is no page {number} of courses")
    shown = {
        "courses": courses[:PAGE_COURSES],
        "previous_url": f"/courses?page={number - 1}" if number > 1 else None,
        "more_url": f"/courses?page={number + 1}" if len(courses) > PAGE_COURSES else None,
        "more_label": "Later courses",
    }
    return render(request, "courses/index.html", {"catalogue": shown})


@require_role("organizer")
def fork_local(request: Request) -> Response:
    """POST /courses/{slug}/fork: an organizer copies a course of this instance, keeping provenance."""
    account = current_account(request)
    assert account is not None
    with session_scope() as session:
        course = _course_or_404(session, request.path_params["slug"])
        snapshot = published(course)
        if snapshot is None:
            raise HTTPException(400, f"course {course.slug} has no published version to fork")
        origin = urls.course(course.slug)
        copy = {**snapshot, "origin": origin, "lineage": [origin, *(course.lineage or [])]}
        copy["units"] = [{**unit, "origin": urls.unit(course.slug, unit["slug"])} for unit in snapshot["units"]]
        fork = course_forks.create_fork(session, copy, origin_version=course.current_version, owner_id=account.id)
        slug = fork.slug
    flash(request, f"You forked the course: {slug} is yours to edit and run.", "success")
    return RedirectResponse(f"/organize/courses/{slug}", status_code=303)


def _editable_fork(session: Session, request: Request) -> Course:
    course = _course_or_404(session, request.path_params["slug"])
    if not may_change(current_account(request), course.owner_id):
        raise HTTPException(403, f"only the organizer of {course.slug} can update it from upstream")
    if not course.origin:
        raise HTTPException(404, f"course {course.slug} is not a fork; it has no upstream")
    return course


def diff_lines(diff: str) -> list[dict[str, str]]:
    """A unified diff as lines classed add/del/hunk/context for the template."""
    kinds = []
    for line in diff.splitlines():
        if line.startswith(("+++", "---")):
            kind = "file"
        elif line.startswith("+"):
            kind = "add"
        elif line.startswith("-"):
            kind = "del"
        elif line.startswith("@@"):
            kind = "hunk"
        else:
            kind = "context"
        kinds.append({"kind": kind, "text": line})
    return kinds


def local_origin(session: Session, course: Course) -> Course | None:
    """The origin of `course` when it is a course of this instance (forked here), else None."""
    prefix = urls.course("")
    if not course.origin or not course.origin.startswith(prefix):
        return None
    return session.scalar(select(Course).where(Course.slug == course.origin[len(prefix) :]))


def upstream_changed(session: Session, course: Course) -> bool:
    """True when the origin has a newer published version than the fork last took."""
    origin = local_origin(session, course)
    if origin is not None:
        return (origin.current_version or 0) > (course.origin_version or 0)
    return course_forks.has_upstream_change(course)


def _remote_origin(request: Request) -> dict[str, Any] | None:
    """The current document of the fork's origin on another instance (None for a local origin).

    Fetched with no transaction open: the page's write transaction would otherwise hold SQLite's
    write lock while the other server takes its time. The fork is read (and checked) first.
    """
    with session_scope() as session:
        course = _editable_fork(session, request)
        origin = None if local_origin(session, course) is not None else course.origin
    if origin is None:
        return None
    from federation.flows.forks import fetch_course

    return fetch_course(origin)


def _upstream_diff(session: Session, course: Course, remote: dict[str, Any] | None) -> str:
    """The diff to the origin's current version: read here for a local origin, `remote` (fetched) otherwise."""
    origin = local_origin(session, course)
    if origin is not None:
        return course_forks.upstream_diff(course, published(origin) or {})
    from federation.flows.forks import upstream_diff

    return upstream_diff(session, course, remote or {})


def _pull(session: Session, course: Course, remote: dict[str, Any] | None) -> None:
    origin = local_origin(session, course)
    if origin is not None:
        if origin.current_version is None:
            raise Invalid(f"the origin of {course.slug} has no published version to take")
        course_forks.pull_upstream(session, course, published(origin) or {}, origin.current_version)
        return
    from federation.flows.forks import pull_upstream

    pull_upstream(session, course, remote or {})


@require_role("organizer")
def upstream_page(request: Request) -> Response:
    """GET /courses/{slug}/upstream: what the origin changed since this fork last pulled."""
    try:
        remote = _remote_origin(request)
    except MechMoocError as error:
        return _upstream_failed(request, error)
    with session_scope() as session:
        course = _editable_fork(session, request)
        try:
            diff = _upstream_diff(session, course, remote)
        except MechMoocError as error:
            session.rollback()
            return render(request, "courses/upstream.html", {"course": course, "lines": [], "error": str(error)}, 502)
        context = {"course": course, "lines": diff_lines(diff), "error": ""}
        return render(request, "courses/upstream.html", context)


def _upstream_failed(request: Request, error: MechMoocError) -> Response:
    """The upstream page saying why the origin could not be read (502: the other server failed us)."""
    with session_scope() as session:
        course = _editable_fork(session, request)
        return render(request, "courses/upstream.html", {"course": course, "lines": [], "error": str(error)}, 502)


@require_role("organizer")
def upstream_pull(request: Request) -> Response:
    """POST /courses/{slug}/upstream: take the origin's version into the draft (then publish to use it)."""
    try:
        remote = _remote_origin(request)
    except MechMoocError as error:
        return _upstream_failed(request, error)
    with session_scope() as session:
        course = _editable_fork(session, request)
        _pull(session, course, remote)
        slug = course.slug
    flash(request, "The upstream changes are in your draft. Review the units, then publish a version.", "success")
    return RedirectResponse(f"/organize/courses/{slug}", status_code=303)


def routes() -> list[BaseRoute]:
    """The catalogue, the course page, forking and the upstream view."""
    return [
        Route("/courses", courses_index, name="courses"),
        Route("/courses/{slug}", course_page, name="course"),
        Route("/courses/{slug}/fork", fork_local, methods=["POST"]),
        Route("/courses/{slug}/upstream", upstream_page),
        Route("/courses/{slug}/upstream", upstream_pull, methods=["POST"]),
    ]
