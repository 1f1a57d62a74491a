"""Hashtags: made on first use (lower-case name, the first spelling kept for display), attached
to statuses, followed by local people."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from community.models import StatusTag, Tag, TagFollow
from server.floor.clock import now
from server.floor.db import upsert_insert
from server.floor.errors import Invalid, NotFound
from server.floor.ids import new_id

MAX_TAGS = 20  # hashtags kept per status (more are shown, not indexed)
MAX_NAME = 200


def ensure(session: Session, names: Iterable[str], display: Mapping[str, str] | None = None) -> list[Tag]:
    """The Tag rows of `names` (lower-cased), made when missing (concurrent makers do not collide)."""
    wanted: dict[str, str] = {}
    for name in names:
        key = name.lower().lstrip("#")
        if key and len(key) <= MAX_NAME and key not in wanted and len(wanted) < MAX_TAGS:
            wanted[key] = (display or {}).get(key, name)[:MAX_NAME]
    if not wanted:
        return []
    found = {t.name: t for t in session.scalars(select(Tag).where(Tag.name.in_(wanted)))}
    missing = [
        {"name": key, "display_name": shown, "created_at": now()} for key, shown in wanted.items() if key not in found
    ]
    if missing:
        for row in missing:
            row["id"] = new_id()
        session.execute(upsert_insert(session, Tag).values(missing).on_conflict_do_nothing())
        found = {t.name: t for t in session.scalars(select(Tag).where(Tag.name.in_(wanted)))}
    return [found[key] for key in wanted if key in found]


def attach(session: Session, status_id: int, tags: Iterable[Tag]) -> None:
    """Set a status's hashtags to `tags` (replacing earlier ones: an edit)."""
    session.execute(
        delete(StatusTag).where(StatusTag.status_id == status_id).execution_options(synchronize_session=False)
    )
    rows = [{"tag_id": t.id, "status_id": status_id} for t in tags]
    if rows:
        session.execute(upsert_insert(session, StatusTag).values(rows).on_conflict_do_nothing())


def find(session: Session, name: str) -> Tag | None:
    """The hashtag `name` (any case, with or without '#')."""
    key = name.strip().lstrip("#").lower()
    if not key or len(key) > MAX_NAME:
        return None
    return session.scalar(select(Tag).where(Tag.name == key))


def follow_tag(session: Session, profile_id: int, name: str) -> Tag:
    """A local person follows hashtag `name`: its public statuses enter their home feed."""
    key = name.strip().lstrip("#")
    if not key or len(key) > MAX_NAME or not all(c.isalnum() or c == "_" for c in key):
        raise Invalid(f"tag {name[:100]!r} must be letters, digits and underscores")
    tag = ensure(session, [key])[0]
    session.execute(
        upsert_insert(session, TagFollow).values(profile_id=profile_id, tag_id=tag.id).on_conflict_do_nothing()
    )
    return tag


def unfollow_tag(session: Session, profile_id: int, name: str) -> None:
    """A local person stops following hashtag `name`."""
    tag = find(session, name)
    if tag is None:
        raise NotFound(f"no hashtag {name[:100]!r}")
    session.execute(delete(TagFollow).where(TagFollow.profile_id == profile_id, TagFollow.tag_id == tag.id))


def following(session: Session, profile_id: int, tag_id: int) -> bool:
    """True when the profile follows the hashtag."""
    query = select(TagFollow.tag_id).where(TagFollow.profile_id == profile_id, TagFollow.tag_id == tag_id)
    return session.scalar(query) is not None
