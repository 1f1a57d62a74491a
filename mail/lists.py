"""Group lists: mail to a group address becomes a Post (archived, threaded) and is relayed to the other members.

From is rewritten to the list (the author's domain may publish DMARC p=reject), Reply-To is the list,
and loops are cut by X-Loop, our own List-Id, and Message-IDs already seen. Auto-replies are dropped
and a member's From that fails authentication is held (mail.screening); our own footers and secret
links are scrubbed out of what members quote (mail.scrub).
"""

from __future__ import annotations

import hashlib
import re
from email.message import EmailMessage, Message
from email.utils import parseaddr
from html import escape

from sqlalchemy import select
from sqlalchemy.orm import Session

from courses.closing import is_closed_by_organizer
from courses.groups import current_group
from courses.models import Enrollment, Post, StudyGroup
from courses.posts import approve_post, group_post, message_id_of, store_group_post
from mail.addresses import bare, new_token, unsubscribe_key
from mail.markup import document, html_text, text_html
from mail.messages import list_headers
from mail.mime import address, compose
from mail.models import InboundMessage
from mail.outbox import base_headers, check_address, enqueue_many, mail_row
from mail.screening import from_authenticated, is_auto_reply, return_path
from mail.scrub import scrub_html, scrub_text
from server.floor import urls
from server.floor.clock import now
from server.floor.config import get_settings

MAX_MESSAGE_BYTES = 5 * 1024 * 1024
MAX_ADDRESS = 254
MAX_MESSAGE_ID = 500
MEMBERS = ("confirmed",)  # who gets the group's mail (a paused learner asked for no mail for now)
POSTERS = ("confirmed", "paused")  # whose mail to the group goes through: paused means no units, not muted
_MSGID = re.compile(r"<[^<>\s]+>")
CLOSED = "this group has closed"
CLOSED_BY_ORGANIZER = "this group was closed by its organizer after the run and takes no more mail"


def _text(value: str) -> str:
    """`value` as a text column or query takes it: PostgreSQL refuses NUL characters, which hostile mail carries."""
    return value.replace("\x00", "")


def group_for(session: Session, address: str) -> StudyGroup | None:
    """The study group whose list address is `address`, if any; a group merged into another forwards there."""
    local, _, domain = bare(address).partition("@")
    if domain != get_settings().mail_domain.lower():
        return None
    group = session.scalar(select(StudyGroup).where(StudyGroup.handle == local))
    return current_group(session, group) if group is not None else None


def closed_reason(session: Session, group: StudyGroup) -> str | None:
    """Why `group` takes no mail (its organizer closed it, or it has closed after retention), or None."""
    if is_closed_by_organizer(group):
        return CLOSED_BY_ORGANIZER
    return CLOSED if is_closed(session, group) else None


def is_closed(session: Session, group: StudyGroup) -> bool:
    """True for a group its organizer closed, or whose run's learners were forgotten and that nobody stayed in:
    it has closed (its address bounces, saying so, instead of holding mail for an organizer who has moved on).
    A run that merely finished leaves its groups open (courses.closing)."""
    if is_closed_by_organizer(group):
        return True
    if not group.run.anonymised:
        return False
    member = select(Enrollment.id).where(Enrollment.group_id == group.id, Enrollment.status.in_(POSTERS))
    return session.scalar(member.limit(1)) is None


def is_loop(message: Message, group: StudyGroup) -> bool:
    """True when the message is one of our own relays coming back."""
    address = urls.group_address(group.handle).lower()
    loops = [value.lower() for value in message.get_all("X-Loop", [])]
    own_list = f".{get_settings().mail_domain.lower()}>" in str(message.get("List-Id", "")).lower()
    return address in loops or own_list


def _content(part: Message) -> str:
    """The text of a MIME part; one in an unknown or lying charset is read as UTF-8, bad bytes replaced."""
    try:
        return str(part.get_content())  # type: ignore[attr-defined]
    except (LookupError, UnicodeError):
        payload = part.get_payload(decode=True)
        return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else str(payload or "")


def _body_part(message: EmailMessage, kind: str) -> Message | None:
    """The part the stdlib picks as the `kind` body; None when the MIME tree is broken under it."""
    try:
        return message.get_body(preferencelist=(kind,))
    except AttributeError:  # a multipart whose boundary never comes holds text, not parts: get_body fails
        return None


def _bodies(message: Message) -> tuple[str, str]:
    """Plain text and sanitized HTML of a message (attachments are not kept), our secret links scrubbed out."""
    if not isinstance(message, EmailMessage):
        return scrub_text(str(message.get_payload(decode=False) or "")), ""
    text_part, html_part = _body_part(message, "plain"), _body_part(message, "html")
    text = scrub_text(_content(text_part)) if text_part is not None else ""
    html = scrub_html(_content(html_part)) if html_part is not None else ""
    if not text and html:
        text = html_text(html)
    return text, html


def _parent(session: Session, message: Message, group: StudyGroup) -> tuple[Post | None, str | None]:
    """The post this message answers (by In-Reply-To, then References), and the raw reference."""
    refs = _MSGID.findall(_text(str(message.get("In-Reply-To", "")))) + list(
        reversed(_MSGID.findall(_text(str(message.get("References", "")))))
    )
    for ref in refs:
        post = session.scalar(select(Post).where(Post.message_id == ref, Post.group_id == group.id))
        if post is not None:
            return post, ref
    return None, refs[0] if refs else None


def _record(
    session: Session, group: StudyGroup, message_id: str, sender: str, outcome: str, raw: bytes, post_id: int | None
) -> None:
    session.add(
        InboundMessage(
            message_id=message_id,
            recipient=urls.group_address(group.handle),
            sender=sender,
            outcome=outcome,
            post_id=post_id,
            raw=_text(raw.decode("utf-8", "replace")),
            received_at=now(),
        )
    )


def accept_group_mail(
    session: Session, group: StudyGroup, message: Message, raw: bytes, envelope_sender: str | None = None
) -> str:
    """Store mail to `group` as a Post, held unless it comes from a member and is authenticated as theirs
    (mail.screening), or drop it as an auto-reply; the outcome in a few words.

    `envelope_sender` is the SMTP MAIL FROM; None when the caller does not know it (then the
    message's Return-Path stands for it)."""
    if len(raw) > MAX_MESSAGE_BYTES:
        return "rejected: too large"
    if (reason := closed_reason(session, group)) is not None:
        return f"rejected: {reason}"
    if is_loop(message, group):
        return "loop"
    message_id = (_MSGID.findall(_text(str(message.get("Message-ID", "")))) or [f"<{new_token()}@inbound.invalid>"])[0]
    if len(message_id) > MAX_MESSAGE_ID:
        # Longer than any real one (and than the column): keep it findable by its digest.
        message_id = f"<{hashlib.sha256(message_id.encode()).hexdigest()}@inbound.invalid>"
    seen = session.scalar(select(InboundMessage.id).where(InboundMessage.message_id == message_id))
    if seen is not None or session.scalar(select(Post.id).where(Post.message_id == message_id)) is not None:
        return "duplicate"
    name, sender = parseaddr(_text(str(message.get("From", ""))))
    # An address longer than SMTP allows (RFC 5321: 254) is nobody's: no member, no column overflow.
    sender = sender.lower() if len(sender) <= MAX_ADDRESS else ""
    envelope = envelope_sender if envelope_sender is not None else return_path(message)
    if is_auto_reply(message, envelope):
        # Recorded (so a repeat is a duplicate, and an admin can see it) but never posted nor relayed.
        _record(session, group, message_id, sender, "dropped: auto-reply", raw, None)
        return "dropped: auto-reply"
    member = session.scalar(
        select(Enrollment).where(
            Enrollment.group_id == group.id, Enrollment.email == sender, Enrollment.status.in_(POSTERS)
        )
    )
    if member is not None and not from_authenticated(message, envelope, get_settings().mail_authserv_ids):
        member = None  # a member's address, but nothing shows the mail is theirs: the organizer decides
        outcome = "held: sender not authenticated"
    else:
        outcome = "posted" if member else "held"
    text, html = _bodies(message)
    parent, ref = _parent(session, message, group)
    post = store_group_post(
        session,
        group,
        source="email",
        text=_text(text),
        html=_text(html),
        subject=_text(scrub_text(" ".join(str(message.get("Subject", "")).split()))),
        author_email=sender,
        author_name=_text(member.name if member and member.name else name),
        parent=parent,
        in_reply_to_ref=ref,
        message_id=message_id,
        held=member is None,
    )
    _record(session, group, message_id, sender, outcome, raw, post.id)
    return outcome


def release_held(session: Session, post_id: int) -> Post:
    """An organizer lets a held post through: it is archived and relayed like any other."""
    return approve_post(session, group_post(session, post_id))


def relay_message(post: Post, group: StudyGroup, member: Enrollment, token: str) -> tuple[str, str]:
    """The subject and copy of `post` for one member, From rewritten to the list, with list headers."""
    list_address = urls.group_address(group.handle)
    author = post.author_name or (post.author_email or post.author_actor or "someone").split("@")[0]
    subject = post.subject or f"New post in {group.name or group.handle}"
    sender = address(f"{author} via {group.name or group.handle}", list_address)
    headers = base_headers(address(member.name, member.email or ""), subject, token, sender=sender)
    # The post's own Message-ID, so that members' mail clients thread the copies with the original.
    headers[-1] = ("Message-ID", relay_message_id(post))
    if post.in_reply_to_ref:
        headers += [("In-Reply-To", post.in_reply_to_ref), ("References", post.in_reply_to_ref)]
    headers += [("Reply-To", list_address), *list_headers(token, group.name or group.handle, group.handle)]
    headers += [
        ("List-Post", f"<mailto:{list_address}>"),
        ("List-Archive", f"<{urls.group(group.handle)}>"),
        ("X-Loop", list_address),
        ("Precedence", "list"),
    ]
    return subject, compose(headers, *relay_bodies(post, group, token))


def relay_message_id(post: Post) -> str:
    """The Message-ID every copy of `post` carries: the author's own, or one naming the post (no secret in either)."""
    return message_id_of(post)


def relay_bodies(post: Post, group: StudyGroup, token: str) -> tuple[str, str]:
    """Text and HTML of a relayed post: its own HTML cleaned and scrubbed again (fediverse posts and posts
    stored before too), else its text as HTML; the footer links are the recipient's own."""
    text = scrub_text(post.text or html_text(post.html or ""))
    body = scrub_html(post.html) if post.html else text_html(text)
    archive, unsubscribe = urls.group(group.handle), urls.unsubscribe(unsubscribe_key(token))
    footer = f'<a href="{escape(archive)}">Group archive</a> · <a href="{escape(unsubscribe)}">Unsubscribe</a>'
    return f"{text.rstrip()}\n\n-- \nGroup archive: {archive}\nUnsubscribe: {unsubscribe}\n", document(body, footer)


def relay_post(session: Session, post_id: int) -> int:
    """Queue the post for every email member of its group except its author; how many were queued."""
    post = session.get(Post, post_id)
    if post is None or post.held or post.deleted or post.group_id is None:
        return 0
    group = session.get(StudyGroup, post.group_id)
    assert group is not None
    if is_closed_by_organizer(group):
        return 0  # however it got in (a held post released late, a web post), a closed group relays nothing
    members = session.scalars(
        select(Enrollment).where(
            Enrollment.group_id == group.id, Enrollment.status.in_(MEMBERS), Enrollment.email.is_not(None)
        )
    )
    rows = []
    for member in members:
        if member.email is None or (post.author_email and member.email.lower() == post.author_email.lower()):
            continue
        token = new_token()
        subject, message = relay_message(post, group, member, token)
        rows.append(
            mail_row(
                key=f"relay:{post.id}:{member.id}",
                kind="relay",
                to=check_address(member.email),
                token=token,
                subject=subject,
                message=message,
                enrollment_id=member.id,
                run_id=group.run_id,
                group_id=group.id,
                post_id=post.id,
                sent_as=relay_message_id(post),
            )
        )
    return enqueue_many(session, rows)
