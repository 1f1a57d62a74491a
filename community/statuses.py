"""Statuses: posting one (a local person's), receiving one (a remote actor's, kept only when it
matters here), editing with history, threads (`context`), and — from their own modules — deleting,
boosting, favouriting, bookmarking and pinning (re-exported here: `community.statuses.reblog`...).

Every status reaches the home feeds on write (`community.fanout`), tells the people it concerns
(`community.notifications`), enters the full-text index (`community.search`) and publishes
`status.created` / `status.updated` for federation and the streaming API.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from community import tags
from community.access import can_see, visible_many
from community.distribution import attach_media, check_language, check_length, distribute, resolve_mentions
from community.editing import edit, history
from community.interactions import (
    bookmark,
    favourite,
    pin,
    reblog,
    unbookmark,
    unfavourite,
    unpin,
    unreblog,
)
from community.models import VISIBILITIES, Profile, Status
from community.receiving import receive
from community.removal import delete
from community.text import normalise, render
from server.floor import urls
from server.floor.clock import now
from server.floor.errors import Invalid, NotFound, PermissionDenied
from server.floor.ids import new_id

__all__ = [
    "bookmark",
    "can_see",
    "context",
    "delete",
    "edit",
    "favourite",
    "get_visible",
    "history",
    "pin",
    "post",
    "reblog",
    "receive",
    "unbookmark",
    "unfavourite",
    "unpin",
    "unreblog",
]

MAX_CONTEXT_ANCESTORS = 40
MAX_CONTEXT_DESCENDANTS = 1000


def status_url(profile: Profile, status_id: int) -> str:
    """The HTML page of a local status (`/@handle/{id}`)."""
    return urls.absolute(f"/@{profile.username}/{status_id}")


def get_visible(session: Session, status_id: int, viewer: Profile | None) -> Status:
    """The status `status_id` if `viewer` may see it; NotFound otherwise (as Mastodon: a 404 for
    what you may not see, so its existence does not leak)."""
    status = session.get(Status, status_id)
    if status is None or not can_see(session, status, viewer):
        raise NotFound(f"no status {status_id}")
    return status


def _check_author(author: Profile) -> None:
    if author.domain is not None:
        raise Invalid(f"account {author.acct}: only local people post here")
    if author.suspended_at is not None or author.deleted_at is not None:
        raise PermissionDenied(f"account {author.acct} is suspended")


def _check_visibility(visibility: str, group_id: int | None) -> str:
    if visibility not in VISIBILITIES:
        raise Invalid(f"visibility {visibility!r} must be one of {', '.join(VISIBILITIES)}")
    if visibility == "group" and group_id is None:
        raise Invalid("visibility 'group' needs a group")
    return visibility


def _reply_parent(session: Session, in_reply_to_id: int | str | None, author: Profile) -> Status | None:
    if in_reply_to_id is None or in_reply_to_id == "":
        return None
    try:
        parent_id = int(in_reply_to_id)
    except (TypeError, ValueError):
        raise Invalid(f"in_reply_to_id {str(in_reply_to_id)[:40]!r} is not an id") from None
    parent = session.get(Status, parent_id)
    if parent is None or parent.reblog_of_id is not None or not can_see(session, parent, author):
        raise NotFound(f"in_reply_to_id: no status {parent_id}")
    return parent


def post(
    session: Session,
    author: Profile,
    text: str,
    *,
    visibility: str = "public",
    spoiler_text: str = "",
    sensitive: bool = False,
    language: str | None = None,
    in_reply_to_id: int | str | None = None,
    media_ids: Iterable[int | str] = (),
    resolved_mentions: Mapping[str, Profile] | None = None,
    group_id: int | None = None,
    group_member_ids: Iterable[int] = (),
) -> Status:
    """A local person posts `text` (Mastodon's plain text; at most MECHMOOC_MAX_STATUS_CHARS as
    Mastodon counts, content warning included). Remote mentions are linked and notified only when
    the caller resolved them (`resolved_mentions`: acct -> Profile, looked up by federation before
    the transaction). `group_id` sets a study group context (courses passes its members' profile
    ids, `group_member_ids`, for their feeds). Invalid/NotFound/PermissionDenied name the field."""
    _check_author(author)
    visibility = _check_visibility(visibility, group_id)
    # NUL and other control characters never reach the database (PostgreSQL refuses NUL in text).
    text = normalise(text or "")
    spoiler_text = normalise(spoiler_text or "").strip()
    check_length(text, spoiler_text)
    media_list = list(media_ids)
    if not text.strip() and not media_list:
        raise Invalid("text: a status needs text or an attachment")
    parent = _reply_parent(session, in_reply_to_id, author)
    accts = render(text).mentions
    mentioned = resolve_mentions(session, accts, resolved_mentions)
    rendered = render(text, {p.acct: p.url or p.uri for p in mentioned})
    status = Status(
        id=new_id(),
        profile_id=author.id,
        kind="group" if group_id is not None else "status",
        source="local",
        local=True,
        author_name=author.display_name or author.username,
        text=text,
        html=rendered.html,
        spoiler_text=spoiler_text,
        sensitive=bool(sensitive or spoiler_text),
        language=check_language(language),
        visibility=visibility,
        group_id=group_id,
        in_reply_to_id=parent.id if parent else None,
        in_reply_to_ref=parent.ap_id if parent else None,
        in_reply_to_profile_id=parent.profile_id if parent else None,
        created_at=now(),
    )
    status.ap_id = urls.post(status.id)
    status.url = status_url(author, status.id)
    status.thread_id = (parent.thread_id or parent.id) if parent else status.id
    session.add(status)
    session.flush()
    attach_media(session, author, status, media_list)
    tag_rows = tags.ensure(session, rendered.tags, rendered.tag_display)
    distribute(session, status, author, mentioned, tag_rows, parent, group_member_ids)
    return status


def context(session: Session, status: Status, viewer: Profile | None) -> tuple[list[Status], list[Status]]:
    """The thread around `status` as `viewer` may see it: ancestors (oldest first, at most 40) and
    descendants (depth first, in reply order, at most 1000 looked at); a reply the viewer may not
    see hides its own replies too. A fixed number of queries for the visibility of them all."""
    chain: list[Status] = []
    seen = {status.id}
    current = status
    while current.in_reply_to_id is not None and len(chain) < MAX_CONTEXT_ANCESTORS:
        parent = session.get(Status, current.in_reply_to_id)
        if parent is None or parent.id in seen:
            break
        seen.add(parent.id)
        chain.append(parent)
        current = parent
    root = status.thread_id or status.id
    rows = session.scalars(
        select(Status)
        .where(Status.thread_id == root, Status.id != status.id, Status.reblog_of_id.is_(None))
        .order_by(Status.id)
        .limit(MAX_CONTEXT_DESCENDANTS)
    ).all()
    shown = visible_many(session, [*chain, *rows], viewer)
    ancestors = [s for s in reversed(chain) if s.id in shown]
    children: dict[int, list[Status]] = {}
    for row in rows:
        if row.in_reply_to_id is not None:
            children.setdefault(row.in_reply_to_id, []).append(row)
    descendants: list[Status] = []
    stack = list(reversed(children.get(status.id, [])))
    while stack:
        row = stack.pop()
        if row.id in seen:
            continue
        seen.add(row.id)
        if row.id in shown:
            descendants.append(row)
            stack.extend(reversed(children.get(row.id, [])))
    return ancestors, descendants
