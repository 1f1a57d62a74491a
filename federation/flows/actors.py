"""Local actors: which rows are actors, and the actor documents (envelope + vocabulary body).

The envelope (id, inbox, outbox, followers, following, publicKey, endpoints, preferredUsername)
is built here for every local actor. The type-specific body of courses, runs and study groups
comes from `federation.protocol.vocabulary` (the course-vocabulary engineer's module); people and the
instance are plain `Person` / `Application`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from courses.models import Course, Run, StudyGroup
from courses.versions import snapshot_of
from federation.flows.person_actor import person_fields
from federation.models import Follower
from federation.protocol import vocabulary
from federation.transport.keys import public_key_document
from server.floor import urls
from server.floor.accounts import Account
from server.floor.config import get_settings
from server.floor.instance import instance_info

CONTEXT: list[Any] = [vocabulary.AS, vocabulary.SECURITY]
KINDS = ("instance", "person", "course", "run", "group")
DEFAULT_AVATAR = "/static/avatar.png"  # served by the web package's static files
_PREFIXES = {"users": "person", "courses": "course", "runs": "run", "groups": "group"}


@dataclass(frozen=True)
class LocalActor:
    """A local actor: its id, kind (instance/person/course/run/group), handle and database row."""

    id: str
    kind: str
    handle: str
    row: Any

    @property
    def inbox(self) -> str:
        """Its own inbox."""
        return f"{self.id}/inbox"

    @property
    def followers(self) -> str:
        """Its followers collection."""
        return f"{self.id}/followers"


def _row(session: Session, kind: str, handle: str) -> Any:
    if kind == "person":
        return session.scalar(select(Account).where(Account.handle == handle, Account.disabled.is_(False)))
    if kind == "course":
        return session.scalar(select(Course).where(Course.slug == handle))
    if kind == "run":
        return session.scalar(select(Run).where(Run.handle == handle))
    if kind == "group":
        return session.scalar(select(StudyGroup).where(StudyGroup.handle == handle))
    return None


def _actor_id(kind: str, handle: str) -> str:
    builders = {"person": urls.person, "course": urls.course, "run": urls.run, "group": urls.group}
    return builders[kind](handle)


def local_actor(session: Session, actor_id: str) -> LocalActor | None:
    """The local actor whose id is `actor_id`, or None (remote, unknown or not an actor)."""
    base = get_settings().url
    if actor_id == urls.instance_actor():
        return LocalActor(id=actor_id, kind="instance", handle=urlsplit(base).hostname or "", row=None)
    if not actor_id.startswith(base + "/"):
        return None
    parts = actor_id[len(base) + 1 :].split("/")
    if len(parts) != 2 or parts[0] not in _PREFIXES:
        return None
    return local_actor_by_kind(session, _PREFIXES[parts[0]], parts[1])


def local_actor_by_kind(session: Session, kind: str, handle: str) -> LocalActor | None:
    """The local actor of `kind` with `handle`, or None."""
    if kind == "instance":
        return local_actor(session, urls.instance_actor())
    row = _row(session, kind, handle)
    if row is None:
        return None
    return LocalActor(id=_actor_id(kind, handle), kind=kind, handle=handle, row=row)


def by_handle(session: Session, handle: str) -> LocalActor | None:
    """The person, course, run or group that `handle` names (one namespace), or the instance."""
    name = handle.lower()
    if name == (urlsplit(get_settings().url).hostname or ""):
        return local_actor(session, urls.instance_actor())
    for kind in ("person", "course", "run", "group"):
        actor = local_actor_by_kind(session, kind, name)
        if actor is not None:
            return actor
    return None


def _course_body(session: Session, course: Course, actor_id: str) -> dict[str, Any]:
    version = course.versions[-1] if course.versions else None
    snapshot = dict(version.snapshot) if version else snapshot_of(course)
    ids = vocabulary.CourseIds(
        course=actor_id, url=actor_id, forks=f"{actor_id}/forks", version=version.number if version else None
    )
    return vocabulary.course_fields(snapshot, ids)


def _run_facts(session: Session, run: Run, actor_id: str) -> vocabulary.RunFacts:
    version = next((v for v in run.course.versions if v.number == run.version_number), None)
    units = (version.snapshot if version else snapshot_of(run.course)).get("units", [])
    return vocabulary.RunFacts(
        run=actor_id,
        url=actor_id,
        course=urls.course(run.course.slug),
        course_title=run.course.title,
        course_url=urls.course(run.course.slug),
        start_date=run.start_date.isoformat(),
        timezone=run.timezone,
        last_day=max((int(u.get("day", 0)) for u in units), default=0),
        units=len(units),
    )


def _body(session: Session, actor: LocalActor) -> dict[str, Any]:
    if actor.kind == "instance":
        info = instance_info(session)
        return {"type": "Application", "name": info["name"], "summary": info["description"], "url": get_settings().url}
    if actor.kind == "person":
        account: Account = actor.row
        return {"type": "Person", "name": account.display_name or account.handle, "url": actor.id}  # see document_for
    if actor.kind == "course":
        return _course_body(session, actor.row, actor.id)
    if actor.kind == "run":
        return vocabulary.run_fields(_run_facts(session, actor.row, actor.id))
    group: StudyGroup = actor.row
    run = group.run
    run_name = f"{run.course.title} — run from {run.start_date.isoformat()}"
    return vocabulary.group_fields(actor.id, actor.id, group.name or group.handle, urls.run(run.handle), run_name)


def document_for(session: Session, actor: LocalActor) -> dict[str, Any]:
    """The full actor document of a local actor: vocabulary body inside our envelope."""
    body = _body(session, actor)
    envelope: dict[str, Any] = {
        "id": actor.id,
        "preferredUsername": actor.handle,
        "inbox": actor.inbox,
        "outbox": f"{actor.id}/outbox",
        "followers": actor.followers,
        "following": f"{actor.id}/following",
        "publicKey": public_key_document(session, actor.id),
        "endpoints": {"sharedInbox": urls.shared_inbox()},
        "featured": f"{actor.id}/featured",
        "manuallyApprovesFollowers": False,
        "discoverable": actor.kind != "person",
        # Mastodon, Lemmy and GoToSocial show an actor without an image as a blank: a default one.
        "icon": {"type": "Image", "mediaType": "image/png", "url": urls.absolute(DEFAULT_AVATAR)},
    }
    created = getattr(actor.row, "created_at", None)
    if created is not None:
        envelope["published"] = created.strftime("%Y-%m-%dT%H:%M:%SZ")
    if actor.kind == "person":
        # A person's profile (community's Profile) says more than the envelope's defaults.
        envelope |= person_fields(session, actor.row, actor.id)
    return {"@context": vocabulary.context(get_settings().url), **body, **envelope}


def actor_document(session: Session, actor_id: str) -> dict[str, Any] | None:
    """The document of local actor `actor_id`, or None when no such actor exists."""
    actor = local_actor(session, actor_id)
    return document_for(session, actor) if actor else None


def followers_count(session: Session, actor_id: str) -> int:
    """How many follow `actor_id`."""
    return int(session.scalar(select(func.count()).select_from(Follower).where(Follower.actor == actor_id)) or 0)
