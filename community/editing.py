"""Editing a status, with its history (Mastodon's StatusEdit)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from community import search, tags
from community.distribution import MAX_SPOILER, attach_media, check_language, check_length, resolve_mentions
from community.models import Media, Mention, Profile, Status, StatusEdit
from community.notifications import notify
from community.text import normalise, render
from server.floor.clock import now
from server.floor.errors import Invalid
from server.floor.events import publish


def _snapshot(session: Session, status: Status, at: datetime) -> None:
    media = session.scalars(select(Media).where(Media.status_id == status.id).order_by(Media.position))
    session.add(
        StatusEdit(
            status_id=status.id,
            text=status.text,
            html=status.html,
            spoiler_text=status.spoiler_text,
            sensitive=status.sensitive,
            media=[{"id": str(m.id), "description": m.description} for m in media],
            created_at=at,
        )
    )


def edit(
    session: Session,
    status: Status,
    *,
    text: str | None = None,
    html: str | None = None,
    spoiler_text: str | None = None,
    sensitive: bool | None = None,
    language: str | None = None,
    media_ids: Iterable[int | str] | None = None,
    resolved_mentions: Mapping[str, Profile] | None = None,
    mentions: Iterable[Profile] = (),
) -> Status:
    """Change a status and keep its history (StatusEdit rows: the original at the first edit,
    then each new version). A local status takes `text` (rendered again; new mentions notified),
    a remote one `html` (sanitized by the caller) and `mentions`. Publishes `status.updated`;
    tells the local people who boosted it (`update`)."""
    if status.deleted or status.reblog_of_id is not None:
        raise Invalid(f"status {status.id} cannot be edited (deleted, or a boost)")
    author = session.get(Profile, status.profile_id) if status.profile_id else None
    if author is None:
        raise Invalid(f"status {status.id} has no author profile to edit it")
    first = session.scalar(select(StatusEdit.id).where(StatusEdit.status_id == status.id).limit(1)) is None
    if first:
        _snapshot(session, status, status.created_at)
    new_spoiler = status.spoiler_text if spoiler_text is None else normalise(spoiler_text).strip()
    new_mentions: list[Profile] = []
    if author.domain is None:
        new_text = status.text if text is None else normalise(text)
        check_length(new_text, new_spoiler)
        new_mentions = resolve_mentions(session, render(new_text).mentions, resolved_mentions)
        rendered = render(new_text, {p.acct: p.url or p.uri for p in new_mentions})
        status.text, status.html = new_text, rendered.html
        tag_names, display = rendered.tags, rendered.tag_display
    else:
        if html is not None:
            status.html = html
            status.text = text or search.html_text(html)
        new_mentions = list(mentions)
        tag_names, display = [], {}
    if not status.text.strip() and media_ids is not None and not list(media_ids):
        raise Invalid("text: a status needs text or an attachment")
    status.spoiler_text = new_spoiler[:MAX_SPOILER]
    status.sensitive = bool(status.sensitive if sensitive is None else sensitive) or bool(status.spoiler_text)
    if language is not None:
        status.language = check_language(language)
    if media_ids is not None and author.domain is None:
        chosen = list(media_ids)
        for media in session.scalars(select(Media).where(Media.status_id == status.id)):
            media.status_id = None
        session.flush()
        attach_media(session, author, status, chosen)
    known = set(session.scalars(select(Mention.profile_id).where(Mention.status_id == status.id)))
    added = [p for p in new_mentions if p.id not in known]
    if added:
        session.execute(insert(Mention), [{"status_id": status.id, "profile_id": p.id} for p in added])
    if author.domain is None or tag_names:
        tags.attach(session, status.id, tags.ensure(session, tag_names, display))
    status.edited_at = now()
    session.flush()
    _snapshot(session, status, status.edited_at)
    for person in added:
        notify(session, person, "mention", from_profile_id=author.id, status_id=status.id)
    boosters = select(Status.profile_id).where(Status.reblog_of_id == status.id, Status.deleted.is_(False))
    for booster_id in session.scalars(boosters.limit(10_000)):
        if booster_id is not None:
            notify(session, booster_id, "update", from_profile_id=author.id, status_id=status.id)
    search.index(session, status)
    publish(session, "status.updated", {"status_id": status.id})
    return status


def history(session: Session, status: Status) -> list[StatusEdit]:
    """A status's versions, oldest first (empty when it was never edited)."""
    query = select(StatusEdit).where(StatusEdit.status_id == status.id).order_by(StatusEdit.id)
    return list(session.scalars(query))
