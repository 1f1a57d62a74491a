"""The ids of the copies of group posts sent to each fediverse member (`federation.flows.relay`).

`/posts/{post}/to/{enrollment}`: one note per member, so a server holding several members keeps a
note for each (a server stores a note id once). These functions turn such an id, or the id of a
post itself, back into the stored post.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from courses.models import Enrollment, Post
from server.floor import urls

_COPY = re.compile(r"(\d{1,18})/to/(\d{1,18})")


def copy_id(post: Post, member: Enrollment) -> str:
    """The id of the copy of `post` written for `member`."""
    return urls.absolute(f"/posts/{post.id}/to/{member.id}")


def copy_of(ref: str) -> tuple[int, int] | None:
    """(post id, enrollment id) when `ref` is the id of one of our copies, else None."""
    base = urls.absolute("/posts/")
    match = _COPY.fullmatch(ref[len(base) :]) if ref.startswith(base) else None
    return (int(match[1]), int(match[2])) if match else None


def post_of_ref(session: Session, ref: str) -> Post | None:
    """The stored post a note id names: the post itself, or the post one of our copies carries."""
    found = copy_of(ref)
    if found is not None:
        return session.get(Post, found[0])
    return session.scalar(select(Post).where(Post.ap_id == ref))
