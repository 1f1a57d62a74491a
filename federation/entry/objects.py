"""The course world's objects served to ActivityPub clients: our `@context` at /ns, each course's
`forks` collection, published versions and units as Articles, and local posts as Notes.

`routes()` is called from `federation.entry.routes.routes()`; people get the pages at the same URLs
from the web package.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from courses.models import Course, Enrollment, Post, StudyGroup
from courses.versions import public_snapshot
from federation.entry.http import ActivityPubRoute, activity_json, signed_get_refusal
from federation.entry.inbox import received_request
from federation.flows import forks, relay
from federation.flows.posting import delivered_note, is_public, note_document, readable_by
from federation.flows.status_notes import note_document as status_note_document
from federation.flows.status_notes import status_uri
from federation.models import Delivery, RemoteActor
from federation.protocol import vocabulary
from federation.protocol.signatures import SignatureError
from federation.protocol.statuses import tombstone
from federation.transport.authenticate import authenticate
from federation.transport.delivery import delivery_host
from server.floor import urls
from server.floor.config import get_settings
from server.floor.db import session_scope

AP_JSON = "application/activity+json"


async def context_document(request: Request) -> Response:
    """GET /ns: our JSON-LD context."""
    return JSONResponse(vocabulary.context_document(get_settings().url), media_type="application/ld+json")


def _forks(slug: str) -> dict | None:
    with session_scope() as session:
        course = session.scalar(select(Course).where(Course.slug == slug))
        return forks.forks_collection(session, course) if course else None


async def forks_collection(request: Request) -> Response:
    """GET /courses/{slug}/forks: the ForgeFed forks OrderedCollection."""
    document = await run_in_threadpool(_forks, request.path_params["slug"])
    if document is None:
        return JSONResponse({"error": f"no course {request.path_params['slug']}"}, status_code=404)
    return JSONResponse(document, media_type=AP_JSON)


def _post(ref: str, request: Request) -> tuple[int, dict]:
    """(status, document) of a local post: announcements to anyone, others to signed server fetches."""
    with session_scope() as session:
        post = session.scalar(select(Post).where(Post.ap_id == urls.absolute(f"/posts/{ref}")))
        if post is None and ref.isdigit() and len(ref) < 20:
            post = session.get(Post, int(ref))  # a person's status whose ap_id is left to its default
            post = post if post is not None and post.local and post.kind == "status" else None
        if post is not None and post.kind == "status" and post.local and post.deleted:
            # Mastodon answers a deleted status's id with 410 and a Tombstone (`StatusesController`).
            return 410, {"@context": vocabulary.AS, **tombstone(status_uri(post))}
        if post is None or post.deleted or post.held or post.source == "activitypub":
            return 404, {"error": f"no post {ref} here"}
        if post.kind == "status" and post.local and post.profile_id is not None and post.reblog_of_id is None:
            return _status(session, post, request, ref)
        if not is_public(post):
            # Group and personal posts: only to a server that proves who it is (it fetches a boost)
            # and is among those the post was addressed to; others cannot tell it from a missing post.
            try:
                signer = authenticate(session, received_request(request, b""))
            except SignatureError as error:
                return 401, {"error": f"this post is not public; sign the request ({error})"}
            if not readable_by(session, post, signer.actor):
                return 404, {"error": f"no post {ref} here"}
            # A unit (or a personal post) is served as it was sent: addressed, with its Mention and
            # no `name` (GoToSocial would show a name as a content warning).
            delivered = delivered_note(session, post)
            if delivered is not None:
                return 200, {"@context": vocabulary.AS, **delivered}
        return 200, note_document(post)


def _status(session: Session, status: Post, request: Request, ref: str) -> tuple[int, dict]:
    """A local person's status as its Note: public and unlisted ones to anyone, others to a signed
    server they were delivered to (a follower's, a mentioned account's)."""
    if status.visibility not in {"public", "unlisted"}:
        try:
            signer = authenticate(session, received_request(request, b""))
        except SignatureError as error:
            return 401, {"error": f"this post is not public; sign the request ({error})"}
        if not readable_by(session, status, signer.actor) and not _delivered(session, status, signer.actor):
            return 404, {"error": f"no post {ref} here"}
    return 200, status_note_document(session, status)


def _delivered(session: Session, status: Post, signer: str) -> bool:
    """True when the status's Create went to an inbox on the signer's server."""
    create = f"{status_uri(status)}/activity"
    sent = select(Delivery.id).where(Delivery.activity_id == create, Delivery.host == delivery_host(signer))
    return session.scalar(sent.limit(1)) is not None


def _copy(ref: str, member_ref: str, request: Request) -> tuple[int, dict]:
    """(status, document) of the copy of a group post written for one member: only to their server, signed."""
    missing = 404, {"error": f"no post {ref}/to/{member_ref} here"}
    if not (ref.isdigit() and member_ref.isdigit() and len(ref) < 19 and len(member_ref) < 19):
        return missing
    with session_scope() as session:
        post, member = session.get(Post, int(ref)), session.get(Enrollment, int(member_ref))
        group = session.get(StudyGroup, post.group_id) if post is not None and post.group_id else None
        if post is None or member is None or group is None or not member.actor or post.deleted or post.held:
            return missing
        try:
            signer = authenticate(session, received_request(request, b""))
        except SignatureError as error:
            return 401, {"error": f"this post is not public; sign the request ({error})"}
        if delivery_host(signer.actor) not in {delivery_host(member.actor), delivery_host(urls.absolute("/"))}:
            return missing
        handle = session.scalar(select(RemoteActor.handle).where(RemoteActor.ap_id == member.actor))
        return 200, {"@context": vocabulary.AS, **relay.copy_note(session, post, group, member, handle)}


async def copy_document(request: Request) -> Response:
    """GET /posts/{ref}/to/{member} as ActivityPub: the copy of a group post sent to one member."""
    params = request.path_params
    status, document = await run_in_threadpool(_copy, params["ref"], params["member"], request)
    return JSONResponse(document, status_code=status, media_type=AP_JSON)


async def post_document(request: Request) -> Response:
    """GET /posts/{ref} as ActivityPub: the Note a boost or a reply points at."""
    status, document = await run_in_threadpool(_post, request.path_params["ref"], request)
    return JSONResponse(document, status_code=status, media_type=AP_JSON)


def _version(slug: str, number: str) -> dict | None:
    with session_scope() as session:
        course = session.scalar(select(Course).where(Course.slug == slug))
        version = next((v for v in course.versions if str(v.number) == number), None) if course else None
        if version is None:
            return None
        course_id = urls.course(slug)
        ids = vocabulary.CourseIds(course=course_id, url=course_id, forks=f"{course_id}/forks", version=version.number)
        article = vocabulary.version_article(version.snapshot, ids, version.published_at.strftime("%Y-%m-%dT%H:%M:%SZ"))
        return {"@context": vocabulary.context(get_settings().url), **article}


async def version_document(request: Request) -> Response:
    """GET /courses/{slug}/versions/{number}: a published version as the Article Mastodon degrades to."""
    params = request.path_params
    document = await run_in_threadpool(_version, params["slug"], params["number"])
    if document is None:
        return JSONResponse({"error": f"course {params['slug']} has no version {params['number']}"}, status_code=404)
    return JSONResponse(document, media_type=AP_JSON)


def _unit_response(request: Request) -> Response:
    refusal = signed_get_refusal(request, False)
    if refusal is not None:
        return refusal
    slug, unit_slug = request.path_params["slug"], request.path_params["unit_slug"]
    with session_scope() as session:
        course = session.scalar(select(Course).where(Course.slug == slug))
        snapshot = public_snapshot(course) if course is not None else {"units": []}
        unit = next((u for u in snapshot["units"] if u["slug"] == unit_slug), None)
        if course is None or unit is None:
            return JSONResponse({"error": f"course {slug} has no unit {unit_slug}"}, status_code=404)
        course_id = urls.course(slug)
        ids = vocabulary.CourseIds(
            course=course_id, url=course_id, forks=f"{course_id}/forks", version=course.current_version
        )
        version = next((v for v in course.versions if v.number == course.current_version), None)
        published = version.published_at.strftime("%Y-%m-%dT%H:%M:%SZ") if version is not None else None
        document = vocabulary.unit_document(snapshot, ids, unit, published)
    return activity_json({"@context": vocabulary.context(get_settings().url), **document})


async def unit_document(request: Request) -> Response:
    """GET /courses/{slug}/units/{unit_slug} as ActivityPub: the unit as an Article."""
    return await run_in_threadpool(_unit_response, request)


def routes() -> list[BaseRoute]:
    """The flows' machine-facing routes (the forks collection only for ActivityPub clients)."""
    return [
        Route("/ns", context_document, methods=["GET"]),
        ActivityPubRoute("/courses/{slug}/forks", forks_collection, methods=["GET"]),
        ActivityPubRoute("/courses/{slug}/versions/{number}", version_document, methods=["GET"]),
        ActivityPubRoute("/courses/{slug}/units/{unit_slug}", unit_document, methods=["GET"]),
        ActivityPubRoute("/posts/{ref}", post_document, methods=["GET"]),
        ActivityPubRoute("/posts/{ref}/to/{member}", copy_document, methods=["GET"]),
    ]
