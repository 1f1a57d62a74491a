"""The bridge between mail and the fediverse, by domain events only.

- `unit.due_for_actor` (from the mail scheduler, for learners enrolled by fediverse account): the
  unit is rendered (merge tags in Jinja2's sandbox, Markdown to sanitized HTML) and sent as a Note
  from the run, addressed to the learner alone. The Note is stored as a `Post` (kind "unit") whose
  id derives from the event's key, so a repeated event sends nothing twice.
- `post.created` for a post that came by email (or was written here): the study group sends it to
  its fediverse members as a `Create` of a Note attributed to the group, naming the author.
  Posts that came from the fediverse are announced by `federation.flows.cohorts` when received.
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
from courses.models import Enrollment, Post, StudyGroup
from courses.versions import pinned
from federation.flows.announce import iso
from federation.flows.cohorts import fediverse_members
from federation.protocol.vocabulary import create_of, unit_id
from federation.transport import delivery
from server.floor import urls
from server.floor.clock import now
from server.floor.config import get_settings


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
    run_id = urls.run(run.handle)
    mention = f'<p><span class="h-card"><a href="{html.escape(enrollment.actor)}" class="u-url mention">@{html.escape(enrollment.name or "learner")}</a></span></p>'
    group = enrollment.group
    # A fediverse learner posts to the group by mentioning it: say which one it is, every time.
    where = (
        f'<p>Your study group: <a href="{html.escape(urls.group(group.handle))}">@{html.escape(group.handle)}@'
        f"{html.escape(get_settings().host)}</a> — mention it to write to everyone in the group.</p>"
        if group is not None
        else ""
    )
    content = (
        f"<p><strong>{html.escape(snapshot['title'])} — {html.escape(unit['title'])}</strong></p>{body}{where}{mention}"
    )
    post = Post(
        ap_id=note_id,
        run_id=run.id,
        course_id=run.course_id,
        group_id=None,
        kind="unit",
        source="local",
        author_actor=run_id,
        author_name=snapshot["title"],
        subject=unit["title"],
        text=unit["body"],
        html=content,
        visibility="direct",
        created_at=now(),
    )
    session.add(post)
    session.flush()
    note = {
        "id": note_id,
        "type": "Note",
        "attributedTo": run_id,
        "name": unit["title"],
        "content": content,
        "published": iso(post.created_at),
        "to": [enrollment.actor],
        "cc": [],
        "url": unit_id(urls.course(run.course.slug), unit["slug"]),
        "tag": [{"type": "Mention", "href": enrollment.actor, "name": enrollment.name or enrollment.actor}],
    }
    create = create_of(note, run_id)
    delivery.enqueue(session, create, sender=run_id, recipients=[enrollment.actor])


def on_post_created(session: Session, payload: dict[str, Any]) -> None:
    """Relay a group post that came by email (or was written here) to the group's fediverse members."""
    post = session.get(Post, payload["post_id"])
    if post is None or post.source == "activitypub" or post.group_id is None or post.held or post.deleted:
        return
    group = session.get(StudyGroup, post.group_id)
    if group is None:
        return
    recipients = fediverse_members(session, group, besides=post.author_actor)
    if not recipients:
        return
    group_id = urls.group(group.handle)
    if not post.ap_id:
        post.ap_id = urls.post(post.id)
    parent = session.get(Post, post.in_reply_to_id) if post.in_reply_to_id else None
    author = html.escape(post.author_name or "A member")
    body = post.html or "".join(f"<p>{html.escape(p)}</p>" for p in post.text.split("\n\n") if p.strip())
    note = {
        "id": post.ap_id,
        "type": "Note",
        "attributedTo": group_id,
        "audience": group_id,
        "content": nh3.clean(
            f"<p><strong>{author}</strong> wrote{': ' + html.escape(post.subject) if post.subject else ''}</p>{body}"
        ),
        "published": iso(post.created_at),
        "to": [f"{group_id}/followers", *recipients],
        "cc": [],
    }
    if parent is not None and parent.ap_id:
        note["inReplyTo"] = parent.ap_id
    create = create_of(note, group_id)
    delivery.enqueue(session, create, sender=group_id, recipients=recipients)
