"""An actor's collections: its outbox (the public posts it wrote, newest first, in pages of PAGE),
and the first page of any of them (`first`, an `OrderedCollectionPage`, as Mastodon and GoToSocial
page through an outbox)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from courses.models import Post
from federation.flows.posting import note_document

PAGE = 20
AS = "https://www.w3.org/ns/activitystreams"


def _public_posts(actor: str) -> Select[Post]:
    return select(Post).where(
        Post.author_actor == actor, Post.visibility == "public", Post.deleted.is_(False), Post.ap_id.isnot(None)
    )


def _create(post: Post, actor: str) -> dict[str, Any]:
    note = {k: v for k, v in note_document(post).items() if k != "@context"}
    return {
        "id": f"{post.ap_id}/activity",
        "type": "Create",
        "actor": actor,
        "published": note.get("published"),
        "to": note.get("to", []),
        "cc": [f"{actor}/followers"],
        "object": note,
    }


def collection(collection_id: str, total: int) -> dict[str, Any]:
    """An OrderedCollection pointing at its first page."""
    return {
        "@context": AS,
        "id": collection_id,
        "type": "OrderedCollection",
        "totalItems": total,
        "first": f"{collection_id}?page=1",
    }


def page(collection_id: str, number: int, items: list[Any], more: bool) -> dict[str, Any]:
    """Page `number` of a collection (`next` when there is more)."""
    document = {
        "@context": AS,
        "id": f"{collection_id}?page={number}",
        "type": "OrderedCollectionPage",
        "partOf": collection_id,
        "orderedItems": items,
    }
    if more:
        document["next"] = f"{collection_id}?page={number + 1}"
    return document


def outbox_collection(session: Session, actor: str) -> dict[str, Any]:
    """The outbox: how many public posts `actor` wrote, its first page, and (for readers that do
    not page) that page's items inline."""
    public = _public_posts(actor)
    total = session.scalar(select(func.count()).select_from(public.subquery())) or 0
    first = outbox_page(session, actor, 1)
    return {**collection(f"{actor}/outbox", total), "orderedItems": first["orderedItems"]}


def outbox_page(session: Session, actor: str, number: int) -> dict[str, Any]:
    """Page `number` (from 1) of the outbox: PAGE `Create`s of public posts, newest first."""
    query = _public_posts(actor).order_by(Post.created_at.desc(), Post.id.desc())
    rows = list(session.scalars(query.offset((number - 1) * PAGE).limit(PAGE + 1)))
    return page(f"{actor}/outbox", number, [_create(post, actor) for post in rows[:PAGE]], len(rows) > PAGE)
