"""Writing from the web: a new post (`/compose`, a reply with `?in_reply_to=ID`, to a study group with
`?group=HANDLE`, an announcement to every group of a run one moderates with `?run=HANDLE`) and editing one's own (`/@handle/{id}/edit`).

Plain text as on Mastodon (URLs, @mentions and #hashtags become links), a content warning,
visibility, language, up to 4 pictures each with its description. The people it mentions are found
first (remote ones through federation, no transaction open), then the status is written by
community.statuses in one short transaction. community.js adds a live character counter; without
it, the server still counts and says what is too long.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from community import media as media_service
from community import people, statuses
from community.models import Media, Mention, Profile, Status
from server.floor.accounts import Account
from server.floor.config import get_settings
from server.floor.db import session_scope, write_scope
from server.floor.errors import Invalid, PermissionDenied
from server.floor.ratelimit import hit
from web.auth import current_account, require_login
from web.csrf import posted_form
from web.flash import flash
from web.pages.statuses import visible_status
from web.social import pictures
from web.social.cards import cards, status_path
from web.social.group_post import RunChoice, post_to_group, post_to_run, run_choices
from web.social.learning import Membership, memberships
from web.social.mentions import mention_ids, profiles
from web.social.paging import id_of
from web.social.viewer import own_profile_id
from web.templating import render

VISIBILITIES = (
    ("public", "Public", "Everyone can see it, and it shows in the public timelines."),
    ("unlisted", "Unlisted", "Everyone can see it, but it stays out of the public timelines."),
    ("private", "Followers only", "Only your followers (and the people you mention) see it."),
    ("direct", "Mentioned people only", "Only the people you mention see it."),
)
LANGUAGES = (
    ("", "Not set"),
    ("en", "English"),
    ("es", "Español"),
    ("fr", "Français"),
    ("de", "Deutsch"),
    ("it", "Italiano"),
    ("pt", "Português"),
    ("nl", "Nederlands"),
    ("pl", "Polski"),
    ("sv", "Svenska"),
    ("tr", "Türkçe"),
    ("ru", "Русский"),
    ("uk", "Українська"),
    ("ar", "العربية"),
    ("hi", "हिन्दी"),
    ("ja", "日本語"),
    ("ko", "한국어"),
    ("zh", "中文"),
)
MAX_SPOILER = 500
MAX_REPLY_MENTIONS = 10
POSTS_PER_3_HOURS = 300  # Mastodon's limit for statuses
FIELDS = ("status", "spoiler_text", "visibility", "language", "group", "run", "pictures")


def _field_of(message: str) -> str:
    """The form field an error message is about (services name it first: 'text: ...')."""
    head = message.split(":", 1)[0].strip().lower()
    aliases = {"text": "status", "spoiler_text": "spoiler_text", "visibility": "visibility", "language": "language"}
    if head in aliases:
        return aliases[head]
    if head.startswith(("media", "picture", "image", "description")):
        return "pictures"
    if head.startswith("group"):
        return "group"
    if head.startswith("run"):
        return "run"
    return "status"


_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # never meaningful in a post; PostgreSQL refuses NUL


def _values(form: FormData) -> dict[str, str]:
    return {
        name: _CONTROLS.sub("", str(form.get(name, "") or ""))
        for name in ("status", "spoiler_text", "visibility", "language", "group", "run", "in_reply_to", "sensitive")
    }


def _form_context(
    request: Request,
    values: dict[str, str],
    errors: dict[str, str],
    *,
    groups: list[Membership],
    runs: list[RunChoice] | None = None,
    reply_card: Any = None,
    editing: Any = None,
) -> dict[str, Any]:
    return {
        "runs": runs or [],
        "values": values,
        "errors": errors,
        "visibilities": VISIBILITIES,
        "languages": LANGUAGES,
        "groups": groups,
        "limit": get_settings().max_status_chars,
        "reply": reply_card,
        "editing": editing,
        "max_pictures": pictures.MAX_PICTURES,
        "here": request.url.path,
    }


def _reply_defaults(session: Any, me: Profile, status: Status, groups: list[Membership]) -> dict[str, str]:
    """A reply starts by mentioning the author and whoever they mentioned (not oneself), with the
    parent's visibility; a reply to a post of one's study group goes to that group."""
    mentioned_ids = [
        status.profile_id,
        *session.scalars(select(Mention.profile_id).where(Mention.status_id == status.id)),
    ]
    found = people.by_ids(session, mentioned_ids)
    accts = [found[i].acct for i in dict.fromkeys(mentioned_ids) if i in found and i != me.id][:MAX_REPLY_MENTIONS]
    order = [v for v, _, _ in VISIBILITIES]
    visibility = status.visibility if status.visibility in order else "public"
    group = next((g.group_handle for g in groups if status.group_id is not None and g.group_id == status.group_id), "")
    return {"status": "".join(f"@{acct} " for acct in accts), "visibility": visibility, "group": group}


@require_login
def compose_page(request: Request) -> Response:
    """The form for a new post (a reply when `?in_reply_to=` names a post)."""
    account = current_account(request)
    me_id = own_profile_id(request)
    reply_to = request.query_params.get("in_reply_to", "")
    with session_scope() as db:
        me = db.get(Profile, me_id)
        assert me is not None and account is not None
        prefs = people.preferences(db, me)
        values = {
            "status": "",
            "spoiler_text": "",
            "visibility": prefs.default_visibility,
            "language": prefs.default_language or "",
        }
        values |= {"group": request.query_params.get("group", ""), "in_reply_to": ""}
        values["run"] = request.query_params.get("run", "")
        reply_card = None
        groups = memberships(db, account)
        runs = run_choices(db, account)
        if (reply_id := id_of(reply_to)) is not None:
            status = visible_status(db, reply_id, me)
            values |= _reply_defaults(db, me, status, groups) | {"in_reply_to": reply_to}
            reply_card = cards(db, [status], me)[0]
        context = _form_context(request, values, {}, groups=groups, runs=runs, reply_card=reply_card)
        return render(request, "social/compose.html", context)


def _reply_id(value: str) -> int | None:
    """The id of the post replied to (Invalid when the form names no post that could exist)."""
    if not value.strip():
        return None
    found = id_of(value)
    if found is None:
        raise Invalid("in_reply_to: the post you reply to does not exist")
    return found


def _group_id(groups: list[Membership], handle: str) -> int | None:
    if not handle:
        return None
    for membership in groups:
        if membership.group_handle == handle:
            return membership.group_id
    raise Invalid("group: you can post only to a study group you belong to")


@require_login
def publish(request: Request) -> Response:
    """Post the form's status; back to the form with the errors tied to their fields otherwise."""
    account = current_account(request)
    assert account is not None
    form = posted_form(request)
    values = _values(form)
    me_id = own_profile_id(request)
    errors: dict[str, str] = {}
    uploads = pictures.uploads(form)
    try:
        described = pictures.read(uploads, form)  # before any transaction: checks sizes and types
        found = mention_ids(values["status"])  # network for remote mentions: no transaction open
        with write_scope() as db:
            me = db.get(Profile, me_id)
            if me is None:
                raise PermissionDenied("your profile is gone")
            wait = hit(db, "status-post", str(me.id), POSTS_PER_3_HOURS, 3 * 3600)
            if wait is not None:
                raise Invalid(
                    f"text: you posted {POSTS_PER_3_HOURS} times in 3 hours; try again in {int(wait // 60) + 1} minutes"
                )
            fresh = db.get(Account, account.id) or account
            if values["run"]:
                if values["group"]:
                    raise Invalid("run: post to one study group or to a whole run, not both")
                path = post_to_run(db, fresh, values["run"], values, described)
                flash(
                    request, "Your announcement is in each group's archive and on its way to every member.", "success"
                )
                return RedirectResponse(path, status_code=303)
            groups = memberships(db, fresh)
            group_id = _group_id(groups, values["group"])
            if group_id is not None:
                path = post_to_group(db, me, account, group_id, values, described)
                flash(request, "Your post is in the group's archive and on its way to its members.", "success")
                return RedirectResponse(path, status_code=303)
            media_ids = pictures.store(db, me, described)
            status = statuses.post(
                db,
                me,
                values["status"],
                visibility=values["visibility"] or "public",
                spoiler_text=values["spoiler_text"][:MAX_SPOILER],
                sensitive=bool(values["spoiler_text"].strip()) or bool(form.get("sensitive")),
                language=values["language"] or None,
                in_reply_to_id=_reply_id(values["in_reply_to"]),
                media_ids=media_ids,
                resolved_mentions=profiles(db, found),
            )
            path = status_path(status, me)
    except (Invalid, PermissionDenied) as error:
        errors[_field_of(str(error))] = str(error)
    if errors:
        with session_scope() as db:
            groups = memberships(db, account)
            runs = run_choices(db, account)
        context = _form_context(request, values, errors, groups=groups, runs=runs)
        return render(request, "social/compose.html", context, status=400)
    flash(request, "Your post is published.", "success")
    return RedirectResponse(path, status_code=303)


def _own_status(db: Any, request: Request, me_id: int | None) -> tuple[Profile, Status]:
    me = db.get(Profile, me_id)
    status = visible_status(db, request.path_params["status_id"], me)
    if me is None or status.profile_id != me.id:
        raise PermissionDenied("only its author edits a post")
    return me, status


@require_login
def edit_page(request: Request) -> Response:
    """The form to edit one's own post."""
    me_id = own_profile_id(request)
    with session_scope() as db:
        me, status = _own_status(db, request, me_id)
        values = {
            "status": status.text,
            "spoiler_text": status.spoiler_text,
            "visibility": status.visibility,
            "language": status.language or "",
            "group": "",
            "in_reply_to": "",
            "sensitive": "1" if status.sensitive else "",
        }
        context = _form_context(request, values, {}, groups=[], editing=cards(db, [status], me)[0])
        return render(request, "social/compose.html", context)


def _describe_pictures(session: Any, status: Status, form: FormData) -> None:
    """New descriptions of the post's own pictures (`describe-{media id}` fields)."""
    own = select(Media).where(Media.status_id == status.id, Media.profile_id == status.profile_id)
    for media in session.scalars(own):
        given = form.get(f"describe-{media.id}")
        if isinstance(given, str):
            text = "".join(c for c in given if c.isprintable() or c in "\n\t").strip()
            if text != media.description:
                try:
                    media_service.describe(session, media, text)
                except Invalid as error:
                    raise Invalid(f"pictures: {error}") from error


@require_login
def save_edit(request: Request) -> Response:
    """Save an edit (the earlier version is kept in the history)."""
    form = posted_form(request)
    values = _values(form)
    me_id = own_profile_id(request)
    try:
        found = mention_ids(values["status"])
        with write_scope() as db:
            me, status = _own_status(db, request, me_id)
            _describe_pictures(db, status, form)
            statuses.edit(
                db,
                status,
                text=values["status"],
                spoiler_text=values["spoiler_text"][:MAX_SPOILER],
                sensitive=bool(values["spoiler_text"].strip()) or bool(form.get("sensitive")),
                language=values["language"] or None,
                resolved_mentions=profiles(db, found),
            )
            path = status_path(status, me)
    except Invalid as error:
        with session_scope() as db:
            me, status = _own_status(db, request, me_id)
            card = cards(db, [status], me)[0]
            context = _form_context(request, values, {_field_of(str(error)): str(error)}, groups=[], editing=card)
            return render(request, "social/compose.html", context, status=400)
    flash(request, "Your post is saved.", "success")
    return RedirectResponse(path, status_code=303)


def routes() -> list[BaseRoute]:
    """Compose and edit."""
    return [
        Route("/compose", compose_page, methods=["GET"]),
        Route("/compose", publish, methods=["POST"]),
        Route("/@{handle}/{status_id:int}/edit", edit_page, methods=["GET"]),
        Route("/@{handle}/{status_id:int}/edit", save_edit, methods=["POST"]),
    ]
