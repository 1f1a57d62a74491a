"""Search: profiles by name prefix (local first), hashtags by prefix, and full text over public
statuses and the searcher's own — SQLite FTS5 (the `community_status_search` table, kept here on
post, edit and delete) or PostgreSQL's to_tsvector/plainto_tsquery over the GIN expression index
of migration 20261212_comm_search. The two must say the same expression: `_PG_DOCUMENT`."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from sqlalchemy import Integer, case, column, func, or_, select, text
from sqlalchemy.orm import Session

from community import paging
from community.access import author_shown, not_filtered_for
from community.models import Profile, Status, Tag
from server.floor.db import is_postgres

MAX_QUERY = 200
_PG_DOCUMENT = "to_tsvector('simple', coalesce(posts.spoiler_text, '') || ' ' || coalesce(posts.text, ''))"
_WORD = re.compile(r"\w+", re.UNICODE)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "p"):
            self.parts.append("\n")


def html_text(html: str) -> str:
    """The text of sanitized HTML (for indexing a remote status that came without plain text)."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    return "".join(parts for parts in parser.parts).strip()


def _body(status: Status) -> str:
    return f"{status.spoiler_text or ''} {status.text or html_text(status.html or '')}".strip()


def index(session: Session, status: Status) -> None:
    """Keep the SQLite full-text row of `status` current (PostgreSQL indexes the column itself)."""
    if is_postgres(session):
        return
    session.execute(text("DELETE FROM community_status_search WHERE rowid = :id"), {"id": status.id})
    if not status.deleted and status.reblog_of_id is None:
        session.execute(
            text("INSERT INTO community_status_search (rowid, body) VALUES (:id, :body)"),
            {"id": status.id, "body": _body(status)},
        )


def unindex(session: Session, status_ids: list[int]) -> None:
    """Drop statuses from the SQLite full-text table."""
    if is_postgres(session) or not status_ids:
        return
    for status_id in status_ids:
        session.execute(text("DELETE FROM community_status_search WHERE rowid = :id"), {"id": status_id})


def _fts_query(query: str) -> str:
    """Words as an FTS5 query: each quoted (no operators from the user), all required."""
    words = _WORD.findall(query)[:20]
    return " ".join('"' + w.replace('"', "") + '"' for w in words)


def statuses(
    session: Session,
    viewer: Profile | None,
    query: str,
    *,
    max_id: int | str | None = None,
    min_id: int | str | None = None,
    limit: int | None = None,
) -> list[Status]:
    """Public statuses and the viewer's own whose text has every word of `query`, newest first."""
    query = query.strip()[:MAX_QUERY]
    if not _WORD.search(query):
        return []
    seen = Status.visibility == "public"
    if viewer is not None:
        seen = or_(seen, Status.profile_id == viewer.id)
    statement = select(Status).where(
        seen, Status.deleted.is_(False), Status.held.is_(False), Status.reblog_of_id.is_(None), author_shown()
    )
    if viewer is not None:
        statement = statement.where(not_filtered_for(viewer.id))
    if is_postgres(session):
        statement = statement.where(text(f"{_PG_DOCUMENT} @@ plainto_tsquery('simple', :q)")).params(q=query)
    else:
        matches = text("SELECT rowid FROM community_status_search WHERE community_status_search MATCH :q")
        statement = statement.where(Status.id.in_(matches.columns(column("rowid", Integer)))).params(
            q=_fts_query(query)
        )
    return paging.fetch(session, statement, Status.id, max_id=max_id, min_id=min_id, limit=limit)


def profiles(session: Session, query: str, *, limit: int | None = None, local_only: bool = False) -> list[Profile]:
    """Profiles whose username or display name starts with `query` (a leading @ and a @host part
    narrow it), local ones first, then by followers."""
    value = query.strip().lstrip("@")[:MAX_QUERY]
    if not value:
        return []
    name, _, host = value.partition("@")
    pattern = name.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    statement = select(Profile).where(
        or_(
            func.lower(Profile.username).like(pattern, escape="\\"),
            func.lower(Profile.display_name).like(pattern, escape="\\"),
        ),
        Profile.suspended_at.is_(None),
        Profile.deleted_at.is_(None),
    )
    if host:
        statement = statement.where(func.lower(Profile.domain).like(host.lower() + "%"))
    if local_only:
        statement = statement.where(Profile.domain.is_(None))
    order = case((Profile.domain.is_(None), 0), else_=1)
    size = paging.limit_of(limit)
    return list(session.scalars(statement.order_by(order, Profile.followers_count.desc(), Profile.id).limit(size)))


def tags(session: Session, query: str, *, limit: int | None = None) -> list[Tag]:
    """Hashtags whose name starts with `query` (with or without '#'), shortest first."""
    value = query.strip().lstrip("#").lower()[:MAX_QUERY]
    if not value:
        return []
    pattern = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    statement = select(Tag).where(Tag.name.like(pattern, escape="\\"))
    return list(session.scalars(statement.order_by(func.length(Tag.name), Tag.name).limit(paging.limit_of(limit))))
