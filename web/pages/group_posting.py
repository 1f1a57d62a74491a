"""Posting to a study group from the web (members: by magic link or signed in) and moderating it
(the run's organizer, the course's owner, admins, the run's facilitators).

A web post goes through `courses.posts.store_group_post`, the same code as a mail to the list:
`post.created` sends it by mail to email members and as a copy to fediverse members. Approving a
held post publishes `post.created` then; deleting goes through `courses.posts.delete_post`, so the
copies members got are deleted too (`post.deleted`).
"""

from __future__ import annotations

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from courses.facilitators import may_moderate
from courses.models import Enrollment, Post, StudyGroup
from courses.posts import (
    announcement_subject,
    approve_post,
    delete_post,
    discard_post,
    group_post,
    moderator_name,
    store_group_post,
    text_html,
)
from courses.signup import SEATED, by_token
from server.floor.accounts import Account
from server.floor.db import write_scope
from server.floor.errors import NotFound, PermissionDenied
from server.floor.ratelimit import hit
from web.auth import current_account
from web.csrf import posted_form
from web.flash import flash
from web.pages.group_view import Viewer, find_group, render_group, seated_member

MAX_TEXT = 20_000  # characters of a post: a long mail, not a book
MAX_SUBJECT = 200
POSTS_PER_HOUR = 30  # a member's web posts an hour: each one mails the whole group


def _reply_to(session: Session, group: StudyGroup, raw: str) -> Post | None:
    """The post a reply answers (in this group, shown to members), or None for a new thread."""
    if not raw.strip():
        return None
    parent = group_post(session, _post_id(raw), group)
    if parent.held or parent.deleted:
        raise NotFound(f"post {parent.id} of this group cannot be answered (held or deleted)")
    return parent


def _reply_subject(parent: Post | None) -> str:
    """A reply's subject when none is given: the parent's, with one "Re: " (mail clients thread by it)."""
    if parent is None or not parent.subject:
        return ""
    return parent.subject if parent.subject.lower().startswith("re:") else f"Re: {parent.subject}"[:MAX_SUBJECT]


def _post_id(raw: str) -> int:
    """A post id from a URL or form: digits that fit the column (64-bit ids), else -1 (found nowhere)."""
    raw = raw.strip()
    return int(raw) if raw.isdigit() and len(raw) <= 19 and int(raw) < 2**63 else -1


def _write(
    request: Request,
    session: Session,
    group: StudyGroup,
    member: Enrollment | None,
    viewer: Viewer,
    moderator: Account | None = None,
) -> Response:
    """Check the form and store the post, or show the page again with what is wrong (nothing lost). Without
    `member`, `moderator` (a moderator of the run who is not in the group) posts an announcement."""
    form = posted_form(request)
    text = str(form.get("text", "")).replace("\x00", "").strip()
    subject = " ".join(str(form.get("subject", "")).replace("\x00", "").split())
    values = {"text": text, "subject": subject, "reply_to": str(form.get("reply_to", ""))[:20]}
    errors: dict[str, str] = {}
    if group.closed_at is not None:
        errors["text"] = "This group was closed by its organizer: it takes no more posts (the archive stays)."
    elif not text:
        errors["text"] = "Write something before posting."
    elif len(text) > MAX_TEXT:
        errors["text"] = f"The post is {len(text):,} characters long; at most {MAX_TEXT:,} fit."
    if len(subject) > MAX_SUBJECT:
        errors["subject"] = f"The subject is {len(subject)} characters long; at most {MAX_SUBJECT} fit."
    try:
        parent = _reply_to(session, group, values["reply_to"])
    except NotFound as error:
        errors["text"], parent = str(error), None
    status = 400
    if not errors:
        key = str(member.id) if member is not None else f"account:{moderator.id if moderator else 0}"
        wait = hit(session, "group-post", key, POSTS_PER_HOUR, 3600)
        if wait is not None:
            errors["text"] = (
                f"You posted {POSTS_PER_HOUR} times this hour: please try again in {int(wait // 60) + 1} minutes."
            )
            status = 429
    if errors:
        return render_group(request, session, group, viewer, errors=errors, values=values, status=status)
    if member is None:
        assert moderator is not None
        subject = subject or _reply_subject(parent)
        post = store_group_post(
            session,
            group,
            source="web",
            text=text,
            html=text_html(text),
            subject=announcement_subject(subject)[:MAX_SUBJECT],
            author_email=moderator.email,
            author_name=moderator_name(moderator),
            author_account_id=moderator.id,
            parent=parent,
        )
    else:
        post = store_group_post(
            session,
            group,
            source="web",
            text=text,
            html=text_html(text),
            subject=subject or _reply_subject(parent),
            author_email=member.email,
            author_actor=member.actor,
            author_name=member.name,
            parent=parent,
        )
    flash(request, "Your post is in the archive and on its way to the group.", "success")
    back = f"/me/{viewer.token}/group" if viewer.token else f"/groups/{group.handle}"
    return RedirectResponse(f"{back}#post-{post.id}", status_code=303)


def post_by_link(request: Request) -> Response:
    """POST /me/{token}/group/posts: a member posts (or replies) by their magic link."""
    token = request.path_params["token"]
    with write_scope() as session:
        member = by_token(session, token)  # NotFound: 404
        if member.group is None or member.status not in SEATED:
            raise NotFound("you are not in a study group of this run (yet)")
        return _write(request, session, member.group, member, Viewer(member=member, token=token))


def post_signed_in(request: Request) -> Response:
    """POST /groups/{handle}/posts: a signed-in member posts (or replies)."""
    account = current_account(request)
    with write_scope() as session:
        group = find_group(session, request.path_params["handle"])
        member = seated_member(session, group, account)
        moderator = may_moderate(session, account, group.run)
        if member is None and not moderator:
            raise PermissionDenied(
                f"only members of {group.handle} post to it (sign in, or use the link in your mails)"
            )
        viewer = Viewer(member=member, moderator=moderator)
        # A moderator who is not a member (the organizer, a facilitator) posts an announcement.
        return _write(request, session, group, member, viewer, moderator=account if member is None else None)


ACTIONS = {"approve": "approved and sent to the group", "discard": "discarded", "delete": "deleted"}


def moderate(request: Request) -> Response:
    """POST /groups/{handle}/posts/{post_id}/{action}: approve or discard a held post, delete a post."""
    action = request.path_params["action"]
    if action not in ACTIONS:
        raise NotFound(f"no action {action[:20]!r}: approve, discard or delete")
    account = current_account(request)
    with write_scope() as session:
        group = find_group(session, request.path_params["handle"])
        if not may_moderate(session, account, group.run):
            raise PermissionDenied(f"only the moderators of {group.handle} approve, discard or delete its posts")
        post = group_post(session, _post_id(request.path_params["post_id"]), group)
        if action == "approve":
            approve_post(session, post)
        elif action == "discard":
            discard_post(session, post)
        elif not delete_post(session, post, "moderator"):
            raise NotFound(f"post {post.id} was deleted already")
        handle, post_id = group.handle, post.id
    flash(request, f"The post was {ACTIONS[action]}.", "success")
    return RedirectResponse(f"/groups/{handle}#post-{post_id}", status_code=303)


def routes() -> list[BaseRoute]:
    """Posting and moderating."""
    return [
        Route("/me/{token}/group/posts", post_by_link, methods=["POST"]),
        Route("/groups/{handle}/posts", post_signed_in, methods=["POST"]),
        Route("/groups/{handle}/posts/{post_id}/{action}", moderate, methods=["POST"]),
    ]
