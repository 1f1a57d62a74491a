"""Forks across instances, the ForgeFed way: copy with `origin`, tell the origin, list `forks`.

- `fetch_course(id_or_handle)` fetches a remote course by signed GET, with no transaction open;
  `fork(session, document, slug)` then hands its snapshot, with provenance (`origin` on the course and on each unit, `lineage` nearest first), to
  `courses.forks.create_fork`. That publishes `course.forked`, on which `on_course_forked` sends a
  `Create` of the fork (object with `origin`, `result` the fork) to the origin and to every
  ancestor in the lineage, and makes the fork follow its origin so it hears of new versions.
- An origin receiving that `Create` lists the fork in its `forks` OrderedCollection (`note_fork`).
- An `Update` from a followed origin with a newer version is recorded as an upstream change
  (`note_upstream_version`); `upstream_diff` and `pull_upstream` show or apply the origin's current
  version (fetched before by `fetch_course(course.origin)`): nothing is merged without someone asking.

Nothing here that takes a session fetches: callers fetch first, then open the write transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from courses import forks as course_forks
from courses.models import Course
from federation.flows.follows import activity_id, follow_actor
from federation.protocol import vocabulary
from federation.transport import delivery
from federation.transport.fetch import fetch_actor, same_origin
from federation.transport.keys import is_local
from server.floor import urls
from server.floor.config import get_settings
from server.floor.errors import Invalid, NotFound


def _with_provenance(document: dict[str, Any]) -> tuple[dict[str, Any], int | None]:
    """The snapshot of a remote course document, its units' and its own `origin` pointing there."""
    snapshot = vocabulary.snapshot_from_course(document)
    origin = str(document["id"])
    snapshot["origin"] = origin
    snapshot["lineage"] = [origin, *[i for i in snapshot["lineage"] if i != origin]]
    for unit, obj in zip(snapshot["units"], document["units"], strict=True):
        unit["origin"] = obj.get("id") or vocabulary.unit_id(origin, unit["slug"])
    return snapshot, vocabulary.version_of(document)


def fetch_course(id_or_handle: str) -> dict[str, Any]:
    """Network, with no transaction open: the current document of a remote course (cache refreshed);
    Invalid if it is ours or not a course."""
    if is_local(id_or_handle):
        raise Invalid(f"{id_or_handle} is a course of this instance; fork courses of other instances")
    document = fetch_actor(id_or_handle, refresh=True)
    if not vocabulary.is_course(document):
        raise Invalid(f"{id_or_handle} ({document.get('id')}) is not a course of a Mechanical MOOC instance")
    return document


def fork(session: Session, document: dict[str, Any], slug: str | None = None, owner_id: int | None = None) -> Course:
    """Copy the remote course `document` (from `fetch_course`) to this instance with its provenance; the new course."""
    snapshot, version = _with_provenance(document)
    return course_forks.create_fork(session, snapshot, origin_version=version, slug=slug, owner_id=owner_id)


def fork_announcement(course: Course, fork_id: str) -> dict[str, Any]:
    """The ForgeFed `Create` telling ancestors that `course` (a fork) now exists."""
    base = get_settings().url
    obj = {
        "id": fork_id,
        "type": "Service",
        "name": course.title,
        "url": fork_id,
        "origin": course.origin,
        "lineage": list(course.lineage or []),
        "slug": course.slug,
    }
    return {
        "@context": vocabulary.context(base),
        "id": activity_id(fork_id, "create-fork"),
        "type": "Create",
        "actor": fork_id,
        "object": obj,
        "result": fork_id,
        "to": list(dict.fromkeys(str(i) for i in [course.origin, *(course.lineage or [])] if i)),
    }


def on_course_forked(session: Session, payload: dict[str, Any]) -> None:
    """Reaction to `course.forked`: tell the origin and its ancestors, follow the origin."""
    course = session.get(Course, payload["course_id"])
    if course is None or not course.origin:
        return
    fork_id = urls.course(course.slug)
    if is_local(course.origin):
        origin = _local_course(session, course.origin)
        if origin is not None:
            course_forks.record_fork(session, origin, fork_id, course.title)
        return
    recipients = [i for i in (course.lineage or [course.origin]) if not is_local(i)]
    delivery.enqueue(session, fork_announcement(course, fork_id), sender=fork_id, recipients=recipients)
    follow_actor(session, fork_id, course.origin)


def _local_course(session: Session, course_id: str) -> Course | None:
    prefix = urls.course("")
    if not course_id.startswith(prefix):
        return None
    return session.scalar(select(Course).where(Course.slug == course_id[len(prefix) :]))


def note_fork(session: Session, activity: dict[str, Any]) -> bool:
    """Inbox: a `Create` of a course whose lineage names one of ours lists it in our `forks`."""
    obj = activity.get("object")
    actor = activity.get("actor")
    if not isinstance(obj, dict) or not isinstance(actor, str):
        return False
    fork_id = obj.get("id")
    # Only a course may announce itself as a fork; a third party cannot list someone else's.
    if not isinstance(fork_id, str) or not same_origin(fork_id, actor) or fork_id != actor:
        return False
    ancestors = [obj.get("origin"), *(obj.get("lineage") or [])]
    recorded = False
    for ancestor in dict.fromkeys(a for a in ancestors if isinstance(a, str) and is_local(a)):
        course = _local_course(session, ancestor)
        if course is not None:
            course_forks.record_fork(session, course, fork_id, str(obj.get("name") or ""))
            recorded = True
    return recorded


def note_upstream_version(session: Session, activity: dict[str, Any]) -> int:
    """Inbox: an `Update` of a course we forked from records its newer version; how many forks heard."""
    actor = activity.get("actor")
    obj = activity.get("object")
    if not isinstance(actor, str) or not isinstance(obj, dict) or not vocabulary.is_course(obj):
        return 0
    course_id = obj.get("attributedTo") if obj.get("type") == "Article" else obj.get("id")
    version = vocabulary.version_of(obj)
    if course_id != actor or version is None:
        return 0
    heard = 0
    for course in course_forks.find_by_origin(session, actor):
        heard += course_forks.record_upstream(session, course, version)
    return heard


def forks_collection(session: Session, course: Course) -> dict[str, Any]:
    """The course's `forks` OrderedCollection (ForgeFed): newest first, each with its name."""
    collection_id = f"{urls.course(course.slug)}/forks"
    items = [{"id": f.fork_id, "type": "Service", "name": f.name} for f in course_forks.forks_of(session, course)]
    return {
        "@context": vocabulary.context(get_settings().url),
        "id": collection_id,
        "type": "OrderedCollection",
        "totalItems": len(items),
        "orderedItems": items,
    }


def _upstream(session: Session, course: Course, document: dict[str, Any]) -> tuple[dict[str, Any], int]:
    if not course.origin:
        raise NotFound(f"course {course.slug} is not a fork; it has no upstream")
    if document.get("id") != course.origin:
        raise Invalid(f"{document.get('id')} is not the origin of {course.slug} ({course.origin})")
    snapshot, version = _with_provenance(document)
    if version is None:
        raise Invalid(f"upstream {course.origin} does not say which version it is")
    course_forks.record_upstream(session, course, version)
    return snapshot, version


def upstream_diff(session: Session, course: Course, document: dict[str, Any]) -> str:
    """A unified diff from the fork's draft to its origin's current `document` ('' when in step)."""
    snapshot, _version = _upstream(session, course, document)
    return course_forks.upstream_diff(course, snapshot)


def pull_upstream(session: Session, course: Course, document: dict[str, Any]) -> Course:
    """Take the origin's current `document` into the fork's draft (publish it to make it current)."""
    snapshot, version = _upstream(session, course, document)
    return course_forks.pull_upstream(session, course, snapshot, version)
