"""The bridge between mail and the fediverse, by domain events only.

- `unit.due_for_actor` (from the mail scheduler, for learners enrolled by fediverse account): the
  unit is rendered (merge tags in Jinja2's sandbox, Markdown to sanitized HTML) and sent as a Note
  from the course, written for the learner alone (`federation.protocol.addressing.personal_note`:
  the shape Mastodon, Lemmy, GoToSocial and Misskey keep and show unfiltered). The Note is stored
  as a `Post` (kind "unit") whose id derives from the event's key, so a repeated event sends
  nothing twice. Replying to it is posting to the learner's study group.
- `post.created`: `federation.flows.relay` (a copy of each group post for each fediverse member).
"""

from __future__ import annotations

import hashlib
import html
from typing import Any

import nh3
from jinja2 import TemplateError
from markdown_it import MarkdownIt
from sqlalchemy import select
from sqlalchemy.orm import Session

from courses.merge_tags import sandbox
from courses.models import Enrollment, Post
from courses.versions import pinned
from federation.flows.announce import iso
from federation.models import RemoteActor
from federation.protocol.addressing import personal_note
from federation.protocol.vocabulary import create_of, unit_id
from federation.transport import delivery
from server.floor import urls
from server.floor.clock import now
from server.floor.config import get_settings
from server.floor.db import upsert_insert


def unit_note_id(key: str) -> str:
    """The id of the Note that carries the unit with idempotency `key` (stable across retries)."""
    return urls.absolute(f"/posts/unit-{hashlib.sha256(key.encode()).hexdigest()[:32]}")


def render_unit(body: str, context: dict[str, Any]) -> str:
    """A unit body as sanitized HTML: merge tags in the sandbox, then Markdown (a body that does not
    render, or costs more than the sandbox allows, becomes a sentence with the unit's link)."""
    try:
        text = sandbox().from_string(body).render(context)
    except TemplateError as error:
        # Raised here, the error would undo the scheduler's whole batch; the learner gets the link instead.
        text = f"This unit could not be written out here ({error}). Read it at {context['unit']['url']}"
    return nh3.clean(MarkdownIt("commonmark").render(text))


def _context(enrollment: Enrollment, snapshot: dict[str, Any], unit: dict[str, Any], position: int) -> dict[str, Any]:
    run = enrollment.run
    group = enrollment.group
    course_url = urls.course(run.course.slug)
    return {
        "learner": {
            "name": enrollment.name,
            "email": "",
            "timezone": enrollment.timezone,
            "language": enrollment.language,
        },
        "course": {
            "title": snapshot["title"],
            "slug": snapshot["slug"],
            "summary": snapshot["summary"],
            "url": course_url,
        },
        "run": {"handle": run.handle, "start": run.start_date.isoformat(), "url": urls.run(run.handle)},
        "group": {
            "name": group.name if group else "",
            "handle": group.handle if group else "",
            "address": urls.group_address(group.handle) if group else "",
            "url": urls.group(group.handle) if group else "",
        },
        "unit": {
            "title": unit["title"],
            "day": unit["day"],
            "position": position,
            "url": unit_id(course_url, unit["slug"]),
        },
        "links": {"me": urls.learner_page(enrollment.token), "unsubscribe": urls.learner_page(enrollment.token)},
    }


def on_unit_due(session: Session, payload: dict[str, Any]) -> None:
    """Send unit `position` to the fediverse learner of `enrollment_id`, once per key."""
    note_id = unit_note_id(payload["key"])
    if session.scalar(select(Post.id).where(Post.ap_id == note_id)) is not None:
        return
    enrollment = session.get(Enrollment, payload["enrollment_id"])
    if enrollment is None or not enrollment.actor:
        return
    run = enrollment.run
    snapshot = pinned(session, run)
    position = int(payload["position"])
    unit = snapshot["units"][position]
    body = render_unit(unit["body"], _context(enrollment, snapshot, unit, position))
    course_id = urls.course(run.course.slug)
    group = enrollment.group
    # Replying posts to the group (federation.entry.handlers.replies); mentioning it does too.
    where = (
        f"<p>Reply to this post to write to your study group, or mention "
        f'<a href="{html.escape(urls.group(group.handle))}">@{html.escape(group.handle)}@'
        f"{html.escape(get_settings().host)}</a>.</p>"
        if group is not None
        else ""
    )
    # The title goes in the text, never in `name`: GoToSocial would make it a content warning.
    content = f"<p><strong>{html.escape(snapshot['title'])} — {html.escape(unit['title'])}</strong></p>{body}{where}"
    post = _claim_note(
        session,
        ap_id=note_id,
        run_id=run.id,
        course_id=run.course_id,
        group_id=None,
        kind="unit",
        source="local",
        author_actor=course_id,
        author_name=snapshot["title"],
        subject=unit["title"],
        text=unit["body"],
        visibility="direct",
        created_at=now(),
    )
    if post is None:  # another process (the CLI's send-due beside a worker) sent this unit just now
        return
    handle = session.scalar(select(RemoteActor.handle).where(RemoteActor.ap_id == enrollment.actor))
    note = personal_note(
        note_id=note_id,
        sender=course_id,
        recipient=enrollment.actor,
        handle=handle,
        content=content,
        published=iso(post.created_at),
        url=unit_id(course_id, unit["slug"]),
    )
    post.html = note["content"]
    delivery.enqueue(session, create_of(note, course_id, cc=note["cc"]), sender=course_id, recipients=note["to"])


def _claim_note(session: Session, **values: Any) -> Post | None:
    """The unit's post row, inserted only if its note id is new (INSERT ... ON CONFLICT DO NOTHING on
    the unique `ap_id`): two schedulers that both found the unit due write it once, and the second
    gets None instead of an IntegrityError that would undo its whole batch."""
    statement = (
        upsert_insert(session, Post)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["ap_id"])
        .returning(Post.id)
    )
    post_id = session.scalar(statement)
    return None if post_id is None else session.get(Post, post_id)
